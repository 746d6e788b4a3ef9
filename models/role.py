"""Coordinators, per network."""

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model
from models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from models.member import Member
    from models.network import Network


class CoordinatorRole(Model):
    __tablename__ = "coordinator_roles"
    __table_args__ = (UniqueConstraint("member_id", "network_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))

    member: Mapped["Member"] = relationship(
        "Member", foreign_keys=[member_id], back_populates="coordinator_roles"
    )
    network: Mapped["Network"] = relationship("Network")
    granted_by: Mapped["Member | None"] = relationship("Member", foreign_keys=[granted_by_id])
