"""Account operations that write mail: registration, verification, reset, anchoring.

Each is one operation: it takes the row it starts from (``models.guard``), checks the state
there, writes its rows, its audit entries and its outbox mails to the session; the caller
commits once.  A repeat – a double click, two tabs, a link followed twice – is either the same
outcome or a clear refusal (``DomainError``), never a second mail.
"""

import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db
from models import audit, guard, tokens
from models.anchoring import REMIND_AFTER, Anchoring, AnchoringStatus
from models.errors import DomainError
from models.language import mail_locale, manager_locale
from models.member import Member, normalise_email
from models.membership import MembershipStatus
from models.network import Network
from models.organisation import Organisation, OrganisationKind
from models.outbox import link, queue
from models.sign_in import ProviderIdentity
from models.types import utcnow

# A registration sent again this soon after the account was made, before its address is confirmed,
# is the same registration (a double click, two tabs, a retry): its verification mail is on its way.
REPEAT_WINDOW = timedelta(minutes=10)


def register(
    *,
    organisation: Organisation,
    networks: Sequence[Network],
    password: str | None,
    leadership_informed: bool,
    email: str,
    vouched_by: tuple[str, str] | None = None,
    **details: Any,
) -> Member | None:
    """A new member with a pending membership in each network, and the verification mail.

    Returns the member, or None when the address has an account already: then its owner is told
    by mail (not the form, which says the same either way) – unless it is this same registration
    sent again, which sends nothing more.  Two registrations of one address at the same moment
    make one account: the database's unique index decides, and the loser is such a repeat.

    ``vouched_by`` (provider, subject): a single sign-on provider vouched for this address (the
    newcomer came from it).  Then no password is needed, the address counts as confirmed – the line
    manager is asked at once instead of a verification mail – and the provider's account is linked.
    """
    email = normalise_email(email)
    if Member.by_email(email) is not None:
        warn_existing_account(email)
        return None
    if password is None and vouched_by is None:
        raise ValueError("a password, or an address a provider vouched for")
    try:
        with db.session.begin_nested():
            member = Member(organisation=organisation, email=email, **details)
            if password is not None:
                member.set_password(password)
            member.consented_at = utcnow()
            if leadership_informed and organisation.kind in (
                OrganisationKind.MUNICIPALITY,
                OrganisationKind.COUNTY_MUNICIPALITY,
            ):
                member.leadership_informed_at = utcnow()
            db.session.add(member)
            for network in networks:
                member.join(network)
            if vouched_by is not None:
                provider, subject = vouched_by
                db.session.add(ProviderIdentity(member=member, provider=provider, subject=subject))
            db.session.flush()
    except IntegrityError as error:
        if not (_address_taken(error) or _identity_taken(error)):
            raise
        return None  # registered a moment ago by the same form: that one mailed the owner
    with audit.acting_as(member):
        audit.record(
            "member.registered",
            member=member,
            subject=f"member:{member.id}",
            after={"networks": [n.code for n in networks], "organisation": organisation.name},
        )
        if vouched_by is not None:
            audit.record(
                "member.provider_linked",
                member=member,
                subject=f"member:{member.id}",
                after={"provider": vouched_by[0]},
            )
            member.verify_email()
            request_anchoring(member)
    if vouched_by is None:
        send_verification(member)
    return member


def _identity_taken(error: IntegrityError) -> bool:
    """Was this IntegrityError a provider's account linked already (registered twice at once)?"""
    orig = getattr(error, "orig", None)
    constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)
    return (constraint or "").startswith("uq_provider_identities") or "provider_identities." in str(orig)


def _address_taken(error: IntegrityError) -> bool:
    """Was this IntegrityError the members' unique e-mail address?"""
    orig = getattr(error, "orig", None)
    constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)
    return constraint == "uq_members_email" or "members.email" in str(orig)


def warn_existing_account(email: str) -> None:
    """Someone registered with an address that has an account: tell its owner, not the form –
    once per ``REPEAT_WINDOW`` (the member's row is taken first, so two attempts at the same moment
    warn once, and nobody can flood an owner with warnings), and not for a repeat of the
    registration that made the account."""
    from models.outbox import OutboxMessage

    member = Member.by_email(email)
    if member is None or member.deleted_at is not None:
        return
    if member.email_verified_at is None and utcnow() - member.created_at < REPEAT_WINDOW:
        return
    member.take()
    if (
        db.session.scalar(
            db.select(OutboxMessage.id)
            .where(
                OutboxMessage.recipient == member.email,
                OutboxMessage.template == "registration_attempt",
                OutboxMessage.created_at >= utcnow() - REPEAT_WINDOW,
            )
            .limit(1)
        )
        is not None
    ):
        return
    queue(
        member.email,
        _l("Someone tried to register with your address"),
        "registration_attempt",
        locale=mail_locale(member),
        member=member,
        sign_in_url=link("auth.sign_in"),
        reset_url=link("auth.forgot_password"),
    )


def verification_token(member: Member) -> str:
    """The member's id and their address's fingerprint: the link stops working once the address is
    confirmed or changed, and carries no address."""
    return tokens.make(
        "verify_email", member=member.id, address=tokens.fingerprint("verify_email", member.email)
    )


def send_verification(member: Member) -> None:
    token = verification_token(member)
    queue(
        member.email,
        _l("Confirm your e-mail address"),
        "verify_email",
        locale=mail_locale(member),
        member=member,
        url=link("auth.verify_email", token=token),
        hours=int(tokens.LIFETIMES["verify_email"].total_seconds() // 3600),
    )


def member_for_verification(token: str) -> Member:
    """The member a verification link is for; TokenError if it is bad, old or used."""
    payload = tokens.read("verify_email", token)
    member = db.session.get(Member, payload.get("member")) if isinstance(payload.get("member"), int) else None
    return _check_verification(member, payload)


def _check_verification(member: Member | None, payload: dict[str, Any]) -> Member:
    """``member`` if the link still confirms their address; else TokenError saying why not."""
    if "address" not in payload:  # a link mailed before tokens stopped carrying the address
        raise tokens.TokenError(
            _l("This link is from an older version of the service and no longer works. Ask for a new one.")
        )
    if (
        member is None
        or member.deleted_at is not None
        or not tokens.same_fingerprint("verify_email", member.email, payload["address"])
    ):
        raise tokens.TokenError(_l("This link is not valid. Check that you copied all of it."))
    if member.email_verified_at is not None:
        raise tokens.TokenError(
            _l("This address is already confirmed: the link has been used. You can sign in.")
        )
    return member


def verify(token: str) -> Member:
    """Follow the verification link: the address is confirmed and the line manager asked, once.

    The member's row is taken first: a second click at the same moment waits, then finds the
    address confirmed and is told so (TokenError) – one anchoring request, one mail.
    """
    member = member_for_verification(token).take()
    _check_verification(member, tokens.read("verify_email", token))
    with audit.acting_as(member):
        member.verify_email()
        request_anchoring(member)
    return member


# -- signing in and out -------------------------------------------------------------------------

_DUMMY_HASHES: dict[str, str] = {}


def _dummy_hash() -> str:
    """A hash of a password nobody has, made with the configured method (once per method), so that
    checking a password against it costs what checking a real member's costs."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash(secrets.token_urlsafe(32), method=method)
    return _DUMMY_HASHES[method]


def authenticate(email: str, password: str) -> Member | None:
    """The member whose address and password these are, else None – in the same time either way.

    An address nobody has (or a deleted account, which has no password) is checked against a
    dummy hash of the same method, so the answer's timing does not tell who is registered.
    Whether the member may sign in (a confirmed address) is the caller's question."""
    member = Member.by_email(email)
    hashed = member.password_hash if member is not None and member.deleted_at is None else None
    matches = check_password_hash(hashed if hashed is not None else _dummy_hash(), password)
    return member if hashed is not None and matches else None


def sign_out(member: Member) -> Member:
    """Signing out ends the account's sessions on every device (``Member.end_sessions``)."""
    member.end_sessions()
    return member


def member_for_reset(token: str, purpose: str = "reset_password") -> Member:
    """The member a password-reset link is for (or, with ``purpose="welcome"``, a new
    coordinator's link to choose their first password); used once, since a new password moves
    ``auth_version`` on."""
    payload = tokens.read(purpose, token)
    member = db.session.get(Member, payload.get("member")) if isinstance(payload.get("member"), int) else None
    return _check_reset(member, payload)


def _check_reset(member: Member | None, payload: dict[str, Any]) -> Member:
    """``member`` if the link is still theirs to use; else TokenError."""
    if member is None or member.auth_version != payload.get("version") or member.deleted_at is not None:
        raise tokens.TokenError(_l("This link has already been used. Ask for a new one."))
    return member


def member_for_welcome(token: str) -> Member:
    """The new coordinator a welcome link is for: a reset link that lives for days, not hours."""
    return member_for_reset(token, "welcome")


def reset_password(token: str, password: str, purpose: str = "reset_password") -> Member:
    """Set a new password with a reset link (or a welcome link), once: the member's row is taken
    and the link's ``auth_version`` checked on it, so a second use (even at the same moment) is refused."""
    member = member_for_reset(token, purpose).take()
    _check_reset(member, tokens.read(purpose, token))
    member.set_password(password)
    with audit.acting_as(member):
        audit.record("member.password_reset", member=member, subject=f"member:{member.id}")
    return member


def send_password_reset(member: Member) -> None:
    token = tokens.make("reset_password", member=member.id, version=member.auth_version)
    queue(
        member.email,
        _l("Choose a new password"),
        "reset_password",
        locale=mail_locale(member),
        member=member,
        url=link("auth.reset_password", token=token),
    )


# -- anchoring ---------------------------------------------------------------------------------


def request_anchoring(member: Member) -> Anchoring:
    """Ask the member's line manager to confirm (after verification or a change of manager).
    The caller holds the member's row (``guard.lock``)."""
    anchoring = member.request_anchoring()
    db.session.flush()
    send_anchoring_request(anchoring)
    return anchoring


def send_anchoring_request(anchoring: Anchoring, reminder: bool = False) -> None:
    assert anchoring.manager_email is not None, "a request is sent only while it names a manager"
    token = tokens.make("anchoring", anchoring=anchoring.id)
    member = anchoring.member
    subject = (
        _l("Reminder: confirm %(name)s's participation in the network", name=member.name)
        if reminder
        else _l("Confirm %(name)s's participation in the network", name=member.name)
    )
    queue(
        anchoring.manager_email,
        subject,
        "anchoring_request",
        # To the manager, at the member's organisation: in its målvedtak, else the member's form.
        locale=manager_locale(member),
        anchoring=anchoring,
        member=member,
        networks=[m.network for m in member.memberships if m.status in ("pending_anchoring", "active")],
        url=link("anchorings.decide", token=token),
        reminder=reminder,
    )


ANSWERED = _l("This request has already been answered, or the member has named another manager.")


def anchoring_for(token: str) -> Anchoring:
    """The pending request a manager's link is for."""
    payload = tokens.read("anchoring", token)
    anchoring = (
        db.session.get(Anchoring, payload.get("anchoring"))
        if isinstance(payload.get("anchoring"), int)
        else None
    )
    if anchoring is None or anchoring.manager_email is None:
        raise tokens.TokenError(_l("This link is not valid. Check that you copied all of it."))
    if not anchoring.is_pending:
        raise tokens.TokenError(ANSWERED)
    return anchoring


def _take(anchoring: Anchoring) -> Anchoring:
    """The member's row, then the request's (always in that order), read afresh; TokenError if it
    was answered meanwhile (a second click, the other button in another tab, a coordinator)."""
    anchoring.member.take()
    guard.lock(anchoring)
    if not anchoring.is_pending or anchoring.manager_email is None:
        raise tokens.TokenError(ANSWERED)
    return anchoring


def decide_anchoring(
    anchoring: Anchoring, confirmed: bool, name: str, comment: str | None = None
) -> Anchoring:
    """The line manager answers through their link: one decision, one audit entry, one mail to
    the member, however often (or however many tabs) the answer is sent."""
    _take(anchoring)
    with audit.acting_as(label=f"{name} <{anchoring.manager_email}> (leder)"):
        if confirmed:
            anchoring.confirm(name)
        else:
            anchoring.decline(name, comment or None)
        notify_decision(anchoring)
    return anchoring


def record_anchoring(anchoring: Anchoring, coordinator: Member, reason: str | None) -> Anchoring:
    """A coordinator records an anchoring confirmed another way, with how; once."""
    _take(anchoring)
    anchoring.record_by_coordinator(coordinator, reason)
    notify_decision(anchoring)
    return anchoring


def ask_again(member: Member) -> Anchoring:
    """After a decline, ask the (possibly corrected) line manager once more.

    Only when a line manager has declined and nobody is being asked now (``Member.may_ask_again``);
    otherwise refused, with nothing changed and nothing sent.  The member's row is taken first, so
    two presses at the same moment ask once.
    """
    member.take()
    if member.pending_anchoring is not None:
        raise DomainError(_l("Your line manager has already been asked."))
    if not member.may_ask_again:
        raise DomainError(
            _l(
                "There is nothing to ask your line manager again: no participation of yours has been declined."
            )
        )
    for membership in member.memberships:
        if membership.status == MembershipStatus.DECLINED:
            membership.ask_anchoring_again()
    return request_anchoring(member)


def update_details(
    member: Member, *, manager_name: str | None, manager_email: str | None, **details: Any
) -> Anchoring | None:
    """The member's own details; a new line manager is asked to confirm (the old anchoring stands
    until they answer).  Returns the new anchoring request, or None if the manager is unchanged.

    The member's row is taken first: the same form sent twice at once asks the new manager once.
    """
    member.take()
    if member.deleted_at is not None:
        raise DomainError(_l("This account has been deleted."))
    for key, value in details.items():
        setattr(member, key, value)
    if member.change_manager(manager_name, manager_email):
        return request_anchoring(member)
    return None


def notify_decision(anchoring: Anchoring) -> None:
    """Tell the member what their manager (or the coordinator) decided."""
    member = anchoring.member
    confirmed = anchoring.status == AnchoringStatus.CONFIRMED
    queue(
        member.email,
        _l("Your participation is confirmed")
        if confirmed
        else _l("Your line manager did not confirm your participation"),
        "anchoring_decided",
        locale=mail_locale(member),
        anchoring=anchoring,
        member=member,
        confirmed=confirmed,
        url=link("account.index"),
    )


def send_reminders() -> int:
    """One reminder to each manager who has not answered in 7 days; returns how many.

    The rows are claimed set-wise (a conditional ``UPDATE … RETURNING``): two runs at the same
    moment (two cron hosts, a slow run overlapping the next) each get a disjoint share, so each
    manager is reminded once.
    """
    now = utcnow()
    claimed = guard.claim_rows(
        update(Anchoring)
        .where(
            Anchoring.status == AnchoringStatus.PENDING,
            Anchoring.reminded_at.is_(None),
            Anchoring.manager_email.is_not(None),
            Anchoring.requested_at <= now - REMIND_AFTER,
        )
        .values(reminded_at=now)
        .returning(Anchoring.id)
    )
    ids = [row.id for row in claimed]
    for anchoring in db.session.scalars(
        db.select(Anchoring).where(Anchoring.id.in_(ids)).order_by(Anchoring.id)
    ):
        send_anchoring_request(anchoring, reminder=True)
    current_app.logger.info("Sent %d anchoring reminders", len(ids))
    return len(ids)
