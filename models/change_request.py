"""Member-list change requests (*melde fra når e-postadresser skal slettes eller legges til*).

Any member reports an address to add, change or remove (``report``); a network's coordinators
have one report about an address at a time (``uq_change_requests_pending_email``).  The
coordinator applies or rejects it, once (the request's row is taken first); applying an address
to add invites it to register, as a main contact's invitation does.  The reporter sees their
reports and what became of them on the organisation's page (``reports_by``).  Applying never deletes: a removed
member leaves their networks with the request as the reason.  Applying a change of address
never rewrites a sign-in address: the colleague gets a link at the new address to confirm it
(``models.email_change``).  Every step is in the audit log.
"""

from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, Integer, String, Text, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from extensions import Model, db
from models import audit, guard
from models.email_change import request_change
from models.errors import DomainError
from models.member import Member, normalise_email
from models.membership import MembershipStatus
from models.notices import notify, notify_coordinators
from models.types import LabelledEnum, UTCDateTime, string_enum, utcnow

if TYPE_CHECKING:
    from models.network import Network
    from models.organisation import Organisation


class ChangeAction(LabelledEnum):
    ADD = "add", _l("Add an address")
    CHANGE = "change", _l("Change an address")
    REMOVE = "remove", _l("Remove an address")


class ChangeStatus(LabelledEnum):
    PENDING = "pending", _l("Waiting for the coordinator")
    APPLIED = "applied", _l("Done")
    REJECTED = "rejected", _l("Declined")


class ChangeRequest(Model):
    __tablename__ = "change_requests"
    __table_args__ = (
        # One report about an address waits for a network's coordinators at a time.
        Index(
            "uq_change_requests_pending_email",
            "network_id",
            "email",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

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

    reported_by: Mapped["Member | None"] = relationship("Member", foreign_keys=[reported_by_id])
    decided_by: Mapped["Member | None"] = relationship("Member", foreign_keys=[decided_by_id])
    organisation: Mapped["Organisation"] = relationship("Organisation")
    network: Mapped["Network"] = relationship("Network")

    def __init__(self, **values: Any) -> None:
        values.setdefault("status", ChangeStatus.PENDING)
        super().__init__(**values)

    @validates("email", "new_email")
    def _normalise(self, key: str, value: str | None) -> str | None:
        return normalise_email(value)

    @property
    def member(self) -> Member | None:
        """The member the address belongs to now, if any."""
        return Member.by_email(self.email)

    def _take(self) -> None:
        """Take the request's row and read it afresh; refused if it was handled meanwhile (the
        other button, another tab, another coordinator)."""
        guard.lock(self)
        if self.status != ChangeStatus.PENDING:
            raise DomainError(_l("This request has already been handled."))

    def _decide(self, status: ChangeStatus, coordinator: Member, note: str | None) -> None:
        self.status = status
        self.decided_at = utcnow()
        self.decided_by = coordinator
        self.decision_note = note

    def apply(self, coordinator: Member, note: str | None = None) -> Member | None:
        """Carry the change out, once; returns the member concerned (None for an address to add).

        An address to add that no member has yet gets the invitation a main contact sends
        (``main_contact.invite``: to register with the organisation filled in, in its målvedtak;
        not twice within a day).  A removal takes the member off the network's list (nothing is deleted).  A change of
        address does not rewrite anyone's sign-in address: it sends the colleague a confirmation
        link at the new address (``email_change.request_change``); the address changes when they
        follow it, and the old address is told then.  The reporter is told what was done.
        """
        self._take()
        member = self.member
        if self.action != ChangeAction.ADD and member is None:
            raise DomainError(_l("No member has the address %(email)s.", email=self.email))
        reason = f"change request #{self.id}"
        invited = False
        if self.action == ChangeAction.ADD and member is None:
            from models.main_contact import invite

            invite(coordinator, self.organisation, self.network, self.email)
            invited = True
        elif self.action == ChangeAction.REMOVE and member is not None:
            member.take()
            for membership in member.memberships:
                if membership.network_id == self.network_id and membership.status not in (
                    MembershipStatus.LEFT,
                    MembershipStatus.DECLINED,
                ):
                    membership.leave(reason)
        elif self.action == ChangeAction.CHANGE and member is not None:
            request_change(member, self.new_email, requested_by=coordinator, change_request=self)
        self._decide(ChangeStatus.APPLIED, coordinator, note)
        audit.record(
            "change_request.applied",
            member=member,
            network=self.network,
            subject=f"change_request:{self.id}",
            after={"action": self.action.value, "email": self.email, "new_email": self.new_email},
            reason=note,
        )
        self._tell_reporter(
            _l(
                "a confirmation link has been sent to %(email)s; the address changes when it is confirmed",
                email=self.new_email,
            )
            if self.action == ChangeAction.CHANGE
            else _l("an invitation to register has been sent to %(email)s", email=self.email)
            if invited
            else _l("done"),
            note,
        )
        return member

    @property
    def awaits_confirmation(self) -> bool:
        """An applied change of address: the colleague has been sent a link to confirm it."""
        return self.status == ChangeStatus.APPLIED and self.action == ChangeAction.CHANGE

    @classmethod
    def reports_by(
        cls, member: Member, organisation_id: int, network_ids: list[int]
    ) -> list["ChangeRequest"]:
        """What ``member`` reported for the organisation in these networks, newest first: what
        the reporter sees of their reports and what became of them."""
        return list(
            db.session.scalars(
                select(cls)
                .where(
                    cls.reported_by_id == member.id,
                    cls.organisation_id == organisation_id,
                    cls.network_id.in_(network_ids),
                )
                .order_by(cls.created_at.desc(), cls.id.desc())
                .limit(REPORTS_SHOWN)
            )
        )

    def reject(self, coordinator: Member, note: str | None) -> None:
        if not (note or "").strip():
            raise DomainError(_l("Say why the request is rejected."))
        self._take()
        self._decide(ChangeStatus.REJECTED, coordinator, note)
        audit.record(
            "change_request.rejected",
            member=self.member,
            network=self.network,
            subject=f"change_request:{self.id}",
            reason=note,
        )
        self._tell_reporter(_l("not done"), note)

    def _tell_reporter(self, result: str | LazyString, note: str | None) -> None:
        if self.reported_by is not None:
            notify(
                self.reported_by,
                _l("Your report to the member list"),
                _l(
                    "The coordinator has handled your report (%(action)s – %(email)s): %(result)s.",
                    action=self.action.label,
                    email=self.email,
                    result=result,
                ),
                *([note] if note else []),
                endpoint="municipalities.show",
                organisation_id=self.organisation_id,
            )


class AlreadyReported(DomainError):
    """Another report about the address is waiting for the network's coordinators."""


# The reporter's own reports shown on the organisation's page, newest first.
REPORTS_SHOWN = 20


def _pending_about(network: "Network", email: str) -> ChangeRequest | None:
    return db.session.scalar(
        select(ChangeRequest).where(
            ChangeRequest.network_id == network.id,
            ChangeRequest.status == ChangeStatus.PENDING,
            ChangeRequest.email == email,
        )
    )


def _same_or_refused(
    waiting: ChangeRequest, organisation: "Organisation", action: ChangeAction, new_email: str | None
) -> tuple[ChangeRequest, bool]:
    """The report already waiting about the address: the same report sent again is that one; any
    other report about the address is refused until the coordinator has handled it."""
    if (waiting.organisation_id, waiting.action, waiting.new_email) == (organisation.id, action, new_email):
        return waiting, False
    raise AlreadyReported(
        _l(
            "A report about %(email)s is already waiting for the coordinator (%(action)s, for "
            "%(org)s). You can report it again once that one has been handled.",
            email=waiting.email,
            action=waiting.action.label,
            org=waiting.organisation.name,
        )
    )


def report(
    reporter: Member,
    organisation: "Organisation",
    network: "Network",
    action: ChangeAction | str,
    email: str,
    new_email: str | None = None,
    name: str | None = None,
    note: str | None = None,
) -> tuple[ChangeRequest, bool]:
    """A member reports an address to add, change or remove; the network's coordinators are told.

    Returns (request, new): the same report still waiting (same organisation, network, action and
    addresses) is not filed twice – sent twice at once, or again later, it is the one already
    waiting (reports for one organisation are filed one after another: its row is taken first).
    Another report about an address while one about it waits in the network is refused, naming
    it; ``uq_change_requests_pending_email`` holds that when two organisations report it at once.
    """
    action = ChangeAction(action)
    email, new_email = normalise_email(email), normalise_email(new_email) or None
    if action == ChangeAction.CHANGE and not new_email:
        raise DomainError(_l("Give the new address."))
    if new_email and new_email == email:
        raise DomainError(_l("The new address is the same as the old one."))
    guard.lock(organisation)
    waiting = _pending_about(network, email)
    if waiting is not None:
        return _same_or_refused(waiting, organisation, action, new_email)
    change = ChangeRequest(
        reported_by=reporter,
        organisation=organisation,
        network=network,
        action=action,
        email=email,
        new_email=new_email,
        name=name,
        note=note,
    )
    try:
        with db.session.begin_nested():
            db.session.add(change)
            db.session.flush()
    except IntegrityError:  # reported a moment ago for another organisation of the network
        waiting = _pending_about(network, email)
        if waiting is None:
            raise DomainError(_l("Someone else got there first")) from None
        return _same_or_refused(waiting, organisation, action, new_email)
    notify_coordinators(
        network,
        _l("A change to the member list"),
        _l(
            "%(name)s reports for %(org)s: %(action)s – %(email)s.",
            name=reporter.name,
            org=organisation.name,
            action=action.label,
            email=email,
        ),
        endpoint="coordinator.change_requests",
    )
    return change, True
