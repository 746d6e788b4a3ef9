"""A member's participation in one network: its status and the main-contact role."""

from datetime import datetime
from typing import TYPE_CHECKING, Any
from typing import cast as cast_type

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    and_,
    cast,
    false,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model, db
from models import audit
from models.errors import DomainError, InvalidTransition
from models.types import LabelledEnum, UTCDateTime, string_enum, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Select, SQLColumnExpression

    from models.anchoring import Anchoring
    from models.member import Member
    from models.network import Network
    from models.organisation import Organisation


class MembershipStatus(LabelledEnum):
    PENDING_EMAIL = "pending_email", _l("Email not yet confirmed")
    PENDING_ANCHORING = "pending_anchoring", _l("Awaiting line manager")
    ACTIVE = "active", _l("Active")
    DECLINED = "declined", _l("Declined by line manager")
    LAPSED = "lapsed", _l("Lapsed")
    LEFT = "left", _l("Left")


S = MembershipStatus
# The only moves a membership can make.  Anything else is refused with InvalidTransition.
TRANSITIONS: dict[MembershipStatus, set[MembershipStatus]] = {
    S.PENDING_EMAIL: {S.PENDING_ANCHORING, S.LEFT},
    S.PENDING_ANCHORING: {S.ACTIVE, S.DECLINED, S.LEFT},
    S.ACTIVE: {S.LAPSED, S.LEFT, S.DECLINED},
    S.DECLINED: {S.PENDING_ANCHORING, S.LEFT},
    S.LAPSED: {S.ACTIVE, S.LEFT},
    S.LEFT: {S.PENDING_ANCHORING},
}
# The memberships a member can leave from My page.
LEAVABLE = (S.PENDING_EMAIL, S.PENDING_ANCHORING, S.ACTIVE, S.LAPSED)


class Membership(Model):
    """Member × network.  The status moves only through the methods below."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("member_id", "network_id"),
        # organisation_id is the member's: it follows them if they move.
        ForeignKeyConstraint(
            ["member_id", "organisation_id"],
            ["members.id", "members.organisation_id"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        CheckConstraint("NOT is_main_contact OR status = 'active'", name="main_contact_is_active"),
        # At most one main contact per organisation and network, held by the database.
        Index(
            "uq_memberships_main_contact",
            "organisation_id",
            "network_id",
            unique=True,
            sqlite_where=text("is_main_contact"),
            postgresql_where=text("is_main_contact"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(Integer)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    _status: Mapped[MembershipStatus] = mapped_column(
        "status",
        string_enum(MembershipStatus, "membership_status", 20),
        default=MembershipStatus.PENDING_EMAIL,
        index=True,
    )
    is_main_contact: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(500))
    # The line manager's confirmation the membership rests on.
    anchoring_id: Mapped[int | None] = mapped_column(ForeignKey("anchorings.id", ondelete="SET NULL"))
    # Invited to the network's Teams workspace (see models/teams.py).
    teams_invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    teams_invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    # When the member stopped this network's newsletter (the unsubscribe link, or My page); None: they get it.
    newsletter_unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    member: Mapped["Member"] = relationship(
        "Member",
        back_populates="memberships",
        primaryjoin="and_(Member.id == foreign(Membership.member_id), "
        "Member.organisation_id == foreign(Membership.organisation_id))",
    )
    network: Mapped["Network"] = relationship("Network")
    organisation: Mapped["Organisation"] = relationship("Organisation", viewonly=True)
    anchoring: Mapped["Anchoring | None"] = relationship("Anchoring")
    teams_invited_by: Mapped["Member | None"] = relationship("Member", foreign_keys=[teams_invited_by_id])

    def __init__(self, **kwargs: Any) -> None:
        if "status" in kwargs or "_status" in kwargs:
            raise TypeError("a membership starts as pending_email; use its methods to move it")
        super().__init__(**kwargs)

    def __repr__(self) -> str:
        return f"<Membership {self.member_id}@{self.network_id} {self.status}>"

    @property
    def gets_newsletter(self) -> bool:
        """This network's newsletter comes to the member (while the membership is active)."""
        return self.newsletter_unsubscribed_at is None

    @hybrid_property
    def status(self) -> MembershipStatus:
        return self._status or MembershipStatus.PENDING_EMAIL

    @status.inplace.expression
    @classmethod
    def _status_expression(cls) -> "SQLColumnExpression[MembershipStatus]":
        return cls._status

    # -- status moves --------------------------------------------------------------

    def _move(self, to: MembershipStatus, reason: str | None = None) -> None:
        if to not in TRANSITIONS[self.status]:
            raise InvalidTransition(
                _l(
                    "A membership that is “%(current)s” cannot become “%(target)s”.",
                    current=self.status.label,
                    target=to.label,
                )
            )
        now = utcnow()
        before = self.status
        if to != S.ACTIVE:
            self.vacate_main_contact(reason)
        if to == S.ACTIVE:
            self.activated_at = now
            self.ended_at = self.end_reason = None
        elif to in (S.DECLINED, S.LAPSED, S.LEFT):
            self.ended_at = now
            self.end_reason = reason
        self._status = to
        self.status_changed_at = now
        audit.record(
            "membership.status",
            member=self.member,
            network=self.network,
            subject=self.audit_subject,
            before={"status": before.value},
            after={"status": to.value},
            reason=reason,
        )

    @property
    def audit_subject(self) -> str | None:
        return f"membership:{self.id}" if self.id else None

    def confirm_email(self) -> None:
        """The member proved the address is theirs; the line manager is asked next."""
        self._move(S.PENDING_ANCHORING)

    def anchor(self) -> None:
        """The line manager confirmed: the membership counts from now."""
        self._move(S.ACTIVE)

    def decline(self, reason: str | None = None) -> None:
        """The line manager declined."""
        self._move(S.DECLINED, reason)

    def lapse(self, reason: str | None) -> None:
        """No answer to the yearly review: off the list, restorable."""
        self._move(S.LAPSED, reason)

    def restore(self) -> None:
        self._move(S.ACTIVE)

    def leave(self, reason: str | None = None) -> None:
        self._move(S.LEFT, reason)

    @property
    def may_leave(self) -> bool:
        """Can the member leave this network (from My page)?  Not once it has ended."""
        return self.status in LEAVABLE

    def leave_by_member(self, reason: str | None = None) -> None:
        """The member leaves the network themselves.  The member's rows are taken first: a
        second press (or another tab) at the same moment finds the membership ended and is
        refused, so it is left once, with one audit entry."""
        self.member.take()
        if not self.may_leave:
            raise DomainError(
                _l("You have already left %(network)s.", network=self.network.code)
                if self.status == S.LEFT
                else _l("Your participation in %(network)s has ended already.", network=self.network.code)
            )
        self.leave(reason)

    def ask_anchoring_again(self) -> None:
        """Back to the line manager, after a decline or a return."""
        self._move(S.PENDING_ANCHORING)

    # -- main contact ----------------------------------------------------------------

    def current_main_contact(self) -> "Membership | None":
        """The membership holding the main-contact role for this organisation and network."""
        return db.session.scalar(
            select(Membership).where(
                Membership.organisation_id == self.member.organisation_id,
                Membership.network_id == self.network_id,
                Membership.is_main_contact,
            )
        )

    def make_main_contact(self) -> None:
        """Give this member the role; the database's partial unique index is the last word."""
        if self.status != S.ACTIVE:
            raise DomainError(_l("Only an active member can be main contact."))
        if not self.member.organisation.can_have_main_contact:
            raise DomainError(_l("Observers have no main contact."))
        holder = self.current_main_contact()
        if holder is not None and holder is not self:
            raise DomainError(
                _l(
                    "%(name)s is already main contact for %(organisation)s in %(network)s.",
                    name=holder.member.name,
                    organisation=self.member.organisation.name,
                    network=self.network.code,
                )
            )
        self.is_main_contact = True
        audit.record(
            "membership.main_contact",
            member=self.member,
            network=self.network,
            subject=self.audit_subject,
            before={"main_contact": False},
            after={"main_contact": True},
        )

    def vacate_main_contact(self, reason: str | None = None) -> None:
        if self.is_main_contact:
            self.is_main_contact = False
            audit.record(
                "membership.main_contact",
                member=self.member,
                network=self.network,
                subject=self.audit_subject,
                before={"main_contact": True},
                after={"main_contact": False},
                reason=reason,
            )


def lapse_many(ids: "Select[int] | Select[int | None]", reason: str) -> int:
    """Lapse the active memberships among ``ids`` (a select of membership ids) at once.

    The same as ``Membership.lapse`` on each, in a fixed number of statements however many
    they are: main contacts among them vacate their role, every lapse gets its audit entry.
    Returns how many lapsed.  Objects already loaded are expired.
    """
    now = utcnow()
    chosen = and_(Membership.id.in_(ids), Membership._status == S.ACTIVE)
    for holder in db.session.scalars(select(Membership).where(chosen, Membership.is_main_contact)):
        holder.vacate_main_contact(reason)
    db.session.flush()
    actor, label = audit.current_actor()
    db.session.execute(
        insert(audit.AuditEntry).from_select(
            [
                "at",
                "actor_id",
                "actor_label",
                "action",
                "member_id",
                "network_id",
                "subject",
                "before",
                "after",
                "reason",
            ],
            select(
                literal(now, UTCDateTime),
                literal(actor.id if actor else None, Integer),
                literal(label),
                literal("membership.status"),
                Membership.member_id,
                Membership.network_id,
                literal("membership:") + cast(Membership.id, String),
                literal({"status": S.ACTIVE.value}, JSON),
                literal({"status": S.LAPSED.value}, JSON),
                literal(reason),
            ).where(chosen),
        )
    )
    result = db.session.execute(
        update(Membership)
        .where(chosen)
        .values(_status=S.LAPSED, ended_at=now, end_reason=reason, status_changed_at=now)
        .execution_options(synchronize_session=False)
    )
    lapsed = cast_type("CursorResult[Any]", result).rowcount  # an UPDATE's result
    db.session.expire_all()
    return lapsed
