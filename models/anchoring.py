"""Anchoring (*forankring*): the member's own line manager confirms their participation."""

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, Integer, String, Text, select, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model
from models import audit
from models.errors import DomainError
from models.membership import MembershipStatus
from models.types import UTCDateTime, string_enum, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Select

    from models.member import Member

REMIND_AFTER = timedelta(days=7)


class AnchoringStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    SUPERSEDED = "superseded"  # the member named another manager before this one answered


class AnchoringMethod(enum.StrEnum):
    MANAGER_LINK = "manager_link"
    COORDINATOR = "coordinator"


class Anchoring(Model):
    """One request to one line manager, and the answer."""

    __tablename__ = "anchorings"
    __table_args__ = (
        # A member waits for at most one manager at a time.
        Index(
            "uq_anchorings_pending_member",
            "member_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    manager_name: Mapped[str | None] = mapped_column(String(200))
    manager_email: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[AnchoringStatus] = mapped_column(
        string_enum(AnchoringStatus, "anchoring_status", 12), default=AnchoringStatus.PENDING, index=True
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The name the manager (or coordinator) gave when deciding.
    decided_by_name: Mapped[str | None] = mapped_column(String(200))
    decided_by_email: Mapped[str | None] = mapped_column(String(254))
    method: Mapped[AnchoringMethod | None] = mapped_column(
        string_enum(AnchoringMethod, "anchoring_method", 12)
    )
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)

    member: Mapped["Member"] = relationship("Member", foreign_keys=[member_id], back_populates="anchorings")
    recorded_by: Mapped["Member | None"] = relationship("Member", foreign_keys=[recorded_by_id])

    def __init__(self, **values: Any) -> None:
        values.setdefault("status", AnchoringStatus.PENDING)
        values.setdefault("requested_at", utcnow())
        super().__init__(**values)

    @property
    def is_pending(self) -> bool:
        return self.status == AnchoringStatus.PENDING

    def _check_pending(self) -> None:
        if not self.is_pending:
            raise DomainError(_l("This request has already been answered."))

    def _decide(
        self,
        status: AnchoringStatus,
        name: str,
        email: str | None,
        method: AnchoringMethod,
        reason: str | None = None,
        recorded_by: "Member | None" = None,
    ) -> None:
        self._check_pending()
        self.status = status
        self.decided_at = utcnow()
        self.decided_by_name = name
        self.decided_by_email = email
        self.method = method
        self.reason = reason
        self.recorded_by = recorded_by
        audit.record(
            "anchoring." + status,
            member=self.member,
            subject=f"anchoring:{self.id}",
            before={"status": AnchoringStatus.PENDING.value},
            after={"status": status.value, "by": name, "email": email, "method": method.value},
            reason=reason,
        )

    def confirm(
        self,
        name: str,
        method: AnchoringMethod = AnchoringMethod.MANAGER_LINK,
        reason: str | None = None,
        recorded_by: "Member | None" = None,
    ) -> None:
        """The manager confirms: pending memberships become active; active ones now rest on this."""
        self._decide(AnchoringStatus.CONFIRMED, name, self.manager_email, method, reason, recorded_by)
        for membership in self.member.memberships:
            if membership.status == MembershipStatus.PENDING_ANCHORING:
                membership.anchor()
            if membership.status == MembershipStatus.ACTIVE:
                membership.anchoring = self

    def decline(self, name: str, reason: str | None = None) -> None:
        """The manager declines: the participation is not anchored."""
        self._decide(AnchoringStatus.DECLINED, name, self.manager_email, AnchoringMethod.MANAGER_LINK, reason)
        for membership in self.member.memberships:
            if membership.status in (MembershipStatus.PENDING_ANCHORING, MembershipStatus.ACTIVE):
                membership.decline(reason)

    def record_by_coordinator(self, coordinator: "Member", reason: str | None) -> None:
        """Anchoring confirmed another way (a phone call, a signed form), with the reason."""
        if not (reason or "").strip():
            raise DomainError(_l("Say how the anchoring was confirmed."))
        self.confirm(coordinator.name, AnchoringMethod.COORDINATOR, reason, recorded_by=coordinator)

    def supersede(self) -> None:
        self.status = AnchoringStatus.SUPERSEDED
        self.decided_at = utcnow()

    @property
    def due_for_reminder(self) -> bool:
        return self.is_pending and self.reminded_at is None and utcnow() - self.requested_at >= REMIND_AFTER

    @classmethod
    def pending(cls) -> "Select[Anchoring]":
        return select(cls).where(cls.status == AnchoringStatus.PENDING).order_by(cls.requested_at)

    @classmethod
    def pending_in(cls, network_ids: Iterable[int]) -> "Select[Anchoring]":
        """Pending requests of members taking part (or asking to) in any of these networks."""
        from models.member import Member
        from models.membership import Membership

        return (
            cls.pending()
            .join(Member, cls.member_id == Member.id)
            .where(Member.memberships.any(Membership.network_id.in_(list(network_ids))))
        )
