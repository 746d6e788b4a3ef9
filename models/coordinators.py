"""Making coordinators: from the command line (the first one) and by other coordinators."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from extensions import db
from models.accounts import send_password_reset
from models.errors import DomainError
from models.member import Member
from models.organisation import Organisation, OrganisationKind
from models.outbox import link, queue
from models.types import utcnow


def directorate():
    return db.session.scalar(select(Organisation).filter_by(kind=OrganisationKind.OTHER, short_name="Hdir"))


def appoint(email, networks, name=None, granted_by=None):
    """Make ``email`` coordinator of ``networks``; a new account gets a link to choose a password.

    Returns (member, created).
    """
    member = Member.by_email(email)
    created = member is None
    if created:
        if not (name or "").strip():
            raise DomainError(_l("Give the name of the new coordinator."))
        member = Member(
            name=name.strip(), email=email, organisation=directorate(), email_verified_at=utcnow()
        )
        db.session.add(member)
        db.session.flush()
    elif member.deleted_at is not None:
        raise DomainError(_l("That account has been deleted."))
    for network in networks:
        member.make_coordinator(network, granted_by=granted_by)
    if created:
        send_password_reset(member)
    else:
        codes = ", ".join(n.code for n in networks)
        queue(
            member.email,
            _l("You are now coordinator of %(network)s", network=codes),
            "coordinator_appointed",
            member=member,
            networks=networks,
            url=link("coordinator.index"),
        )
    return member, created
