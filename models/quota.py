"""The yearly quotas the mandate sets: 2 network meetings and up to 4 professional meetings a year.

The counts are held by the database: one ``quota_counters`` row per network, year and kind,
changed only by ``used = used + 1`` under a CHECK ``used <= quota``, so two coordinators planning
at the same moment cannot both take the last place (no count-then-insert).  A joint meeting takes
a place in every network taking part; emergency call-ins are outside the counts.
"""

from collections.abc import Callable, Sequence
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, CursorResult, ForeignKey, Integer, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from extensions import Model, db
from models.errors import DomainError
from models.meeting import Meeting, MeetingKind, MeetingStatus, meeting_networks
from models.network import Network
from models.types import string_enum


class QuotaCounter(Model):
    """How many meetings of a kind a network has planned in a year, against its quota."""

    __tablename__ = "quota_counters"
    __table_args__ = (CheckConstraint("used >= 0 AND used <= quota", name="within_quota"),)

    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[MeetingKind] = mapped_column(string_enum(MeetingKind, "quota_kind", 25), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)
    quota: Mapped[int] = mapped_column(Integer)


def insert_for(dialect: str) -> Callable[[Any], postgresql.Insert | sqlite.Insert]:
    """The dialect's INSERT with ON CONFLICT (PostgreSQL's or SQLite's)."""
    return pg_insert if dialect == "postgresql" else sqlite_insert


def take_place(network: Network, year: int, kind: MeetingKind) -> bool:
    """used + 1 for this network, year and kind, only while below the quota; False if full.

    One conditional UPDATE: on PostgreSQL a concurrent planner waits for the row lock and
    then re-reads the row, so the last place goes once.  The CHECK is the backstop.
    """
    quota = (
        network.network_meetings_per_year
        if kind == MeetingKind.NETWORK
        else network.professional_meetings_max
    )
    insert = insert_for(db.session.get_bind().dialect.name)
    db.session.execute(
        insert(QuotaCounter.__table__)
        .values(network_id=network.id, year=year, kind=kind.value, used=0, quota=quota)
        .on_conflict_do_nothing()
    )
    result = db.session.execute(
        update(QuotaCounter)
        .where(
            QuotaCounter.network_id == network.id,
            QuotaCounter.year == year,
            QuotaCounter.kind == kind,
            QuotaCounter.used < QuotaCounter.quota,
        )
        .values(used=QuotaCounter.used + 1)
        .execution_options(synchronize_session=False)
    )
    return cast("CursorResult[Any]", result).rowcount == 1  # an UPDATE's result


def free_place(network: Network, year: int, kind: MeetingKind) -> None:
    db.session.execute(
        update(QuotaCounter)
        .where(QuotaCounter.network_id == network.id, QuotaCounter.year == year, QuotaCounter.kind == kind)
        .values(used=QuotaCounter.used - 1)
        .execution_options(synchronize_session=False)
    )


def planned(network: Network, year: int, kind: MeetingKind) -> Sequence[Meeting]:
    """The meetings of a kind that hold a place in the network's quota for the year."""
    return db.session.scalars(
        select(Meeting)
        .join(meeting_networks)
        .where(
            meeting_networks.c.network_id == network.id,
            Meeting.year == year,
            Meeting.kind == kind,
            Meeting.status != MeetingStatus.CANCELLED,
        )
        .order_by(Meeting.starts_at)
    ).all()


def full(network: Network, year: int, kind: MeetingKind) -> DomainError:
    """The refusal when a quota is full, naming the meetings that fill it."""
    titles = ", ".join(f"«{m.title}»" for m in planned(network, year, kind))
    if kind == MeetingKind.NETWORK:
        return DomainError(
            _l(
                "%(network)s already has its %(n)s network meetings in %(year)s: %(titles)s.",
                network=network.code,
                n=network.network_meetings_per_year,
                year=year,
                titles=titles,
            )
        )
    return DomainError(
        _l(
            "%(network)s already has %(n)s professional meetings planned in %(year)s: %(titles)s.",
            network=network.code,
            n=network.professional_meetings_max,
            year=year,
            titles=titles,
        )
    )


def reserve(meeting: Meeting, year: int | None = None) -> None:
    """Take a place in every network's quota for ``year`` (the meeting's own by default); if one is
    full the meeting is refused (and the caller's rollback gives back the places already taken)."""
    if not meeting.counts_against_quota:
        return
    for network in meeting.networks:
        if not take_place(network, year or meeting.year, meeting.kind):
            raise full(network, year or meeting.year, meeting.kind)


def release(meeting: Meeting, year: int | None = None) -> None:
    """Give back the meeting's place in every network's quota for ``year`` (its own by default)."""
    if not meeting.counts_against_quota:
        return
    for network in meeting.networks:
        free_place(network, year or meeting.year, meeting.kind)


def quota_status(network: Network, year: int) -> dict[MeetingKind, tuple[int, int]]:
    """{kind: (used, quota)} for the year plan's "1 of 2"."""
    counters = {
        c.kind: (c.used, c.quota)
        for c in db.session.scalars(select(QuotaCounter).filter_by(network_id=network.id, year=year))
    }
    return {
        MeetingKind.NETWORK: counters.get(MeetingKind.NETWORK, (0, network.network_meetings_per_year)),
        MeetingKind.PROFESSIONAL: counters.get(
            MeetingKind.PROFESSIONAL, (0, network.professional_meetings_max)
        ),
    }
