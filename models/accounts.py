"""Account operations that write mail: registration, verification, reset, anchoring.

Each writes its rows and its outbox mails to the session; the caller commits once.
"""

from flask import current_app
from flask_babel import lazy_gettext as _l

from extensions import db
from models import audit, tokens
from models.anchoring import Anchoring, AnchoringStatus
from models.member import Member
from models.organisation import OrganisationKind
from models.outbox import link, queue
from models.types import utcnow


def register(*, organisation, networks, password, leadership_informed, **details):
    """A new member with a pending membership in each network, and the verification mail."""
    member = Member(organisation=organisation, **details)
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
    db.session.flush()
    with audit.acting_as(member):
        audit.record(
            "member.registered", member=member, subject=f"member:{member.id}",
            after={"networks": [n.code for n in networks], "organisation": organisation.name},
        )
    send_verification(member)
    return member


def warn_existing_account(email):
    """Someone registered with an address that has an account: tell its owner, not the form."""
    member = Member.by_email(email)
    if member is not None and member.deleted_at is None:
        queue(
            member.email,
            _l("Someone tried to register with your address"),
            "registration_attempt",
            member=member,
            sign_in_url=link("auth.sign_in"),
            reset_url=link("auth.forgot_password"),
        )


def send_verification(member):
    token = tokens.make("verify_email", member=member.id, email=member.email)
    queue(
        member.email,
        _l("Confirm your e-mail address"),
        "verify_email",
        member=member,
        url=link("auth.verify_email", token=token),
        hours=int(tokens.LIFETIMES["verify_email"].total_seconds() // 3600),
    )


def member_for_verification(token):
    """The member a verification link is for; TokenError if it is bad, old or used."""
    payload = tokens.read("verify_email", token)
    member = db.session.get(Member, payload.get("member"))
    if member is None or member.email != payload.get("email"):
        raise tokens.TokenError(_l("This link is not valid. Check that you copied all of it."))
    if member.email_verified_at is not None:
        raise tokens.TokenError(_l("This address is already confirmed: the link has been used. You can sign in."))
    return member


def member_for_reset(token):
    """The member a password-reset link is for; used once, since a new password moves
    ``auth_version`` on."""
    payload = tokens.read("reset_password", token)
    member = db.session.get(Member, payload.get("member"))
    if member is None or member.auth_version != payload.get("version") or member.deleted_at is not None:
        raise tokens.TokenError(_l("This link has already been used. Ask for a new one."))
    return member


def anchoring_for(token):
    """The pending request a manager's link is for."""
    payload = tokens.read("anchoring", token)
    anchoring = db.session.get(Anchoring, payload.get("anchoring"))
    if anchoring is None or anchoring.manager_email is None:
        raise tokens.TokenError(_l("This link is not valid. Check that you copied all of it."))
    if not anchoring.is_pending:
        raise tokens.TokenError(_l("This request has already been answered, or the member has named another manager."))
    return anchoring


def send_password_reset(member):
    token = tokens.make("reset_password", member=member.id, version=member.auth_version)
    queue(
        member.email,
        _l("Choose a new password"),
        "reset_password",
        member=member,
        url=link("auth.reset_password", token=token),
    )


def request_anchoring(member):
    """Ask the member's line manager to confirm (after verification or a change of manager)."""
    anchoring = member.request_anchoring()
    db.session.flush()
    send_anchoring_request(anchoring)
    return anchoring


def send_anchoring_request(anchoring, reminder=False):
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
        anchoring=anchoring,
        member=member,
        networks=[m.network for m in member.memberships if m.status in ("pending_anchoring", "active")],
        url=link("anchorings.decide", token=token),
        reminder=reminder,
    )


def notify_decision(anchoring):
    """Tell the member what their manager (or the coordinator) decided."""
    member = anchoring.member
    confirmed = anchoring.status == AnchoringStatus.CONFIRMED
    queue(
        member.email,
        _l("Your participation is confirmed") if confirmed else _l("Your line manager did not confirm your participation"),
        "anchoring_decided",
        anchoring=anchoring,
        member=member,
        confirmed=confirmed,
        url=link("account.index"),
    )


def send_reminders():
    """One reminder to each manager who has not answered in 7 days; returns how many."""
    due = [a for a in db.session.scalars(Anchoring.pending()) if a.due_for_reminder]
    for anchoring in due:
        anchoring.reminded_at = utcnow()
        send_anchoring_request(anchoring, reminder=True)
    current_app.logger.info("Sent %d anchoring reminders", len(due))
    return len(due)
