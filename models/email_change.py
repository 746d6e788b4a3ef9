"""A member's sign-in address changes only with proof (*endre e-postadresse*).

The member (on My page), or a coordinator applying a member-list report, asks for a new
address: nothing changes yet.  A link is mailed to the new address; following it is the proof
and makes the change, once.  The old address is then told.  The database holds the address
unique and lower-cased: if someone else has taken it meanwhile, the link is refused and the
account keeps its address.

The link names the request by its id only; the request row says which address, whether it is
still waiting, and is taken (row lock) when the link is followed, so that two clicks at the same
moment change the address once and tell the old address once.
"""

import enum
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from extensions import Model, db
from models import audit, guard, tokens
from models.errors import DomainError
from models.language import mail_locale
from models.member import Member, normalise_email
from models.outbox import link, queue
from models.types import UTCDateTime, string_enum, utcnow

if TYPE_CHECKING:
    from models.change_request import ChangeRequest

# The same address asked for again within this time is the same request (a double click, two tabs,
# a retry): the link already sent stands and no second one goes out.
REPEAT_WINDOW = timedelta(minutes=10)


class EmailChangeStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    SUPERSEDED = "superseded"  # a newer request was made before this link was followed


class EmailChange(Model):
    __tablename__ = "email_changes"
    __table_args__ = (CheckConstraint("new_email = lower(new_email)", name="new_email_lower_case"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    new_email: Mapped[str] = mapped_column(String(254))
    status: Mapped[EmailChangeStatus] = mapped_column(
        string_enum(EmailChangeStatus, "email_change_status", 12), default=EmailChangeStatus.PENDING
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A coordinator applying a member-list report; None when the member asked.
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    change_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("change_requests.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    member: Mapped["Member"] = relationship("Member", foreign_keys=[member_id])
    requested_by: Mapped["Member | None"] = relationship("Member", foreign_keys=[requested_by_id])

    def __init__(self, **values: Any) -> None:
        values.setdefault("status", EmailChangeStatus.PENDING)
        values.setdefault("requested_at", utcnow())
        super().__init__(**values)

    @validates("new_email")
    def _normalise(self, key: str, value: str) -> str:
        return normalise_email(value)

    @property
    def is_pending(self) -> bool:
        return self.status == EmailChangeStatus.PENDING


def _taken(address: str, member: Member) -> bool:
    other = Member.by_email(address)
    return other is not None and other.id != member.id


def request_change(
    member: Member,
    new_email: str | None,
    requested_by: Member | None = None,
    change_request: "ChangeRequest | None" = None,
) -> "EmailChange":
    """Ask for ``member``'s address to become ``new_email``: a confirmation link goes to the new
    address; the account is unchanged until it is followed.  Returns the request.

    A newer request supersedes an earlier one still waiting; the same address asked for again
    within ``REPEAT_WINDOW`` is the same request (no second link).
    """
    guard.lock(member)
    new_email = normalise_email(new_email or "")
    if member.deleted_at is not None:
        raise DomainError(_l("This account has been deleted."))
    if not new_email:
        raise DomainError(_l("Give the new address."))
    if new_email == member.email:
        raise DomainError(_l("%(email)s is already the sign-in address.", email=new_email))
    if _taken(new_email, member):
        raise DomainError(_l("The address %(email)s is already in use.", email=new_email))
    waiting = db.session.scalars(
        select(EmailChange).where(
            EmailChange.member_id == member.id, EmailChange.status == EmailChangeStatus.PENDING
        )
    ).all()
    for earlier in waiting:
        if earlier.new_email == new_email and utcnow() - earlier.requested_at < REPEAT_WINDOW:
            return earlier
    now = utcnow()
    if waiting:
        db.session.execute(
            update(EmailChange)
            .where(EmailChange.id.in_([w.id for w in waiting]))
            .values(status=EmailChangeStatus.SUPERSEDED, decided_at=now)
            .execution_options(synchronize_session="fetch")
        )
    change = EmailChange(
        member=member,
        new_email=new_email,
        requested_by=requested_by,
        change_request_id=change_request.id if change_request is not None else None,
    )
    db.session.add(change)
    db.session.flush()
    audit.record(
        "member.email_change_requested",
        member=member,
        subject=f"member:{member.id}",
        before={"email": member.email},
        after={"email": new_email},
        reason=f"change request #{change_request.id}" if change_request is not None else None,
    )
    queue(
        new_email,
        _l("Confirm your new e-mail address"),
        "confirm_new_email",
        locale=mail_locale(member),
        member=member,
        new_email=new_email,
        requested_by=requested_by,
        url=link("account.confirm_email", token=tokens.make("change_email", change=change.id)),
        hours=int(tokens.LIFETIMES["change_email"].total_seconds() // 3600),
    )
    return change


def change_for(token: str) -> EmailChange:
    """The waiting request a confirmation link is for (to show it); TokenError if bad, old or used."""
    payload = tokens.read("change_email", token)
    change = (
        db.session.get(EmailChange, payload.get("change")) if isinstance(payload.get("change"), int) else None
    )
    if change is None or change.member.deleted_at is not None:
        raise tokens.TokenError(_l("This link is not valid. Check that you copied all of it."))
    _check_waiting(change)
    return change


def _check_waiting(change: EmailChange) -> None:
    if change.status == EmailChangeStatus.CONFIRMED:
        raise tokens.TokenError(_l("This link has been used: the address is already changed."))
    if change.status == EmailChangeStatus.SUPERSEDED:
        raise tokens.TokenError(_l("A newer link has been sent for this account; use that one."))


def confirm(token: str) -> Member:
    """Follow the link: the address becomes the new one, once; the old address is told.

    The member's row, then the request's, are taken first, so two clicks at the same moment
    give one change: the second finds the request used.  An address taken meanwhile by another
    account is refused (checked, and held by the database's unique index).
    """
    change = change_for(token)
    member: Member = guard.lock(change.member)
    guard.lock(change)
    _check_waiting(change)
    if member.deleted_at is not None:
        raise tokens.TokenError(_l("This link is not valid. Check that you copied all of it."))
    new_email, old_email = change.new_email, member.email
    refusal = DomainError(
        _l(
            "The address %(email)s has meanwhile been taken by another account. "
            "Your sign-in address is unchanged.",
            email=new_email,
        )
    )
    if _taken(new_email, member):
        raise refusal
    try:
        with db.session.begin_nested():
            member.email = new_email
            db.session.flush()
    except IntegrityError as error:
        if "email" not in str(error.orig).lower():
            raise
        raise refusal from error
    change.status = EmailChangeStatus.CONFIRMED
    change.decided_at = utcnow()
    with audit.acting_as(member):
        audit.record(
            "member.email_changed",
            member=member,
            subject=f"member:{member.id}",
            before={"email": old_email},
            after={"email": new_email},
            reason=f"change request #{change.change_request_id}" if change.change_request_id else None,
        )
    queue(
        old_email,
        _l("Your e-mail address has been changed"),
        "email_changed",
        locale=mail_locale(member),
        member=member,
        old_email=old_email,
        new_email=new_email,
        reset_url=link("auth.forgot_password"),
    )
    return member
