"""Heartbeats: each long-running worker and each cron command writes when it last ran and how it
went, so the metrics endpoint and the coordinator's home can tell an operator that mail has
stopped going out (a worker that died, a timer that no longer fires)."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.types import UTCDateTime, utcnow


class Heartbeat(db.Model):
    __tablename__ = "heartbeats"

    # What beats: "outbox" (the mail worker), "meetings remind", "reviews tick", …
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Which host and process ("web-1:4711"), and the last round's outcome or error, for the operator.
    host: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[str | None] = mapped_column(String(500))
