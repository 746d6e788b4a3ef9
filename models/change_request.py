"""Member-list change requests (*melde fra når e-postadresser skal slettes eller legges til*).

Any member reports an address to add, change or remove; the coordinator applies or
rejects it.  Applying never deletes: a removed member leaves their networks with
the request as the reason, and every step is in the audit log.
"""

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from extensions import db
from models import audit
from models.errors import DomainError
from models.member import Member, normalise_email
from models.membership import MembershipStatus
from models.types import UTCDateTime, string_enum, utcnow


class ChangeAction(enum.StrEnum):
    ADD = "add"
    CHANGE = "change"
    REMOVE = "remove"

    @property
    def label(self):
        return {
            ChangeAction.ADD: _l("Add an address"),
            ChangeAction.CHANGE: _l("Change an address"),
            ChangeAction.REMOVE: _l("Remove an address"),
        }[self]


class ChangeStatus(enum.StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    REJECTED = "rejected"


class ChangeRequest(db.Model):
    __tablename__ = "change_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    action: Mapped[ChangeAction] = mapped_column(string_enum(ChangeAction, "change_action", 10))
    email: Mapped[str] = mapped_column(String(254))
    new_email: Mapped[str | None] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ChangeStatus] = mapped_column(string_enum(ChangeStatus, "change_status", 10), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    decision_note: Mapped[str | None] = mapped_column(Text)

    reported_by = relationship("Member", foreign_keys=[reported_by_id])
    decided_by = relationship("Member", foreign_keys=[decided_by_id])
    organisation = relationship("Organisation")
    network = relationship("Network")

    def __init__(self, **values):
        values.setdefault("status", ChangeStatus.PENDING)
        super().__init__(**values)

    @validates("email", "new_email")
    def _normalise(self, key, value):
        return normalise_email(value)

    @property
    def member(self):
        """The member the address belongs to now, if any."""
        return Member.by_email(self.email)

    def _decide(self, status, coordinator, note):
        if self.status != ChangeStatus.PENDING:
            raise DomainError(_l("This request has already been handled."))
        self.status = status
        self.decided_at = utcnow()
        self.decided_by = coordinator
        self.decision_note = note

    def apply(self, coordinator, note=None):
        """Carry the change out; returns the member concerned (None for an address to add)."""
        member = self.member
        if self.action != ChangeAction.ADD and member is None:
            raise DomainError(_l("No member has the address %(email)s.", email=self.email))
        self._decide(ChangeStatus.APPLIED, coordinator, note)
        reason = f"change request #{self.id}"
        if self.action == ChangeAction.REMOVE:
            for membership in member.memberships:
                if membership.network_id == self.network_id and membership.status not in (
                    MembershipStatus.LEFT, MembershipStatus.DECLINED
                ):
                    membership.leave(reason)
        elif self.action == ChangeAction.CHANGE:
            if Member.by_email(self.new_email) is not None:
                raise DomainError(_l("The address %(email)s is already in use.", email=self.new_email))
            audit.record("member.email_changed", member=member, subject=f"member:{member.id}",
                         before={"email": member.email}, after={"email": self.new_email}, reason=reason)
            member.email = self.new_email
        audit.record("change_request.applied", member=member, network=self.network, subject=f"change_request:{self.id}",
                     after={"action": self.action.value, "email": self.email, "new_email": self.new_email}, reason=note)
        return member

    def reject(self, coordinator, note):
        if not (note or "").strip():
            raise DomainError(_l("Say why the request is rejected."))
        self._decide(ChangeStatus.REJECTED, coordinator, note)
        audit.record("change_request.rejected", member=self.member, network=self.network,
                     subject=f"change_request:{self.id}", reason=note)
