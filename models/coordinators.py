"""Making coordinators: from the command line (the first one) and by other coordinators."""

from collections.abc import Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from extensions import db
from models import guard, second_factor, tokens
from models.errors import DomainError
from models.language import mail_locale
from models.member import Member
from models.network import Network
from models.organisation import Organisation, OrganisationKind
from models.outbox import link, queue
from models.types import utcnow


def directorate() -> Organisation | None:
    return db.session.scalar(select(Organisation).filter_by(kind=OrganisationKind.OTHER, short_name="Hdir"))


def send_welcome(member: Member, networks: Sequence[Network], granted_by: Member | None) -> None:
    """A new coordinator's first mail: who appointed them, for which networks, what a coordinator
    does, and a link to choose a password – valid for days (``tokens.LIFETIMES["welcome"]``), and
    once only, as a reset link is (it carries ``auth_version``, which the new password moves on)."""
    token = tokens.make("welcome", member=member.id, version=member.auth_version)
    queue(
        member.email,
        _l("Welcome as coordinator of %(network)s", network=", ".join(n.code for n in networks)),
        "coordinator_welcome",
        locale=mail_locale(member),
        member=member,
        networks=networks,
        granted_by=granted_by.name if granted_by is not None else None,
        days=tokens.LIFETIMES["welcome"].days,
        url=link("auth.welcome", token=token),
    )


def appoint(
    email: str, networks: Sequence[Network], name: str | None = None, granted_by: Member | None = None
) -> tuple[Member, bool]:
    """Make ``email`` coordinator of ``networks``; a new account gets a link to choose a password,
    an existing one a mail saying so.  Returns (member, created).

    Appointments run one at a time: the Directorate's row is locked first (new coordinators'
    accounts are made there), then the member's, so the same appointment made twice at the same
    moment (two tabs, two coordinators) makes one account, one role and one mail; the second is
    told that the person already coordinates the network.
    """
    home = directorate()
    if home is not None:
        guard.lock(home)
    member = Member.by_email(email)
    created = member is None
    if member is None:
        if name is None or not name.strip():
            raise DomainError(_l("Give the name of the new coordinator."))
        member = Member(name=name.strip(), email=email, organisation=home, email_verified_at=utcnow())
        db.session.add(member)
        db.session.flush()
    elif member.deleted_at is not None:
        raise DomainError(_l("That account has been deleted."))
    else:
        guard.lock(member)  # its roles read afresh: a role granted a moment ago is seen
    for network in networks:
        member.make_coordinator(network, granted_by=granted_by)
    # The coordinator pages ask for a second factor once this grace period ends (models/second_factor.py).
    second_factor.start_grace(member)
    if created:
        send_welcome(member, networks, granted_by)
    else:
        codes = ", ".join(n.code for n in networks)
        queue(
            member.email,
            _l("You are now coordinator of %(network)s", network=codes),
            "coordinator_appointed",
            locale=mail_locale(member),
            member=member,
            networks=networks,
            url=link("coordinator.index"),
        )
    return member, created
