"""Short notices by mail (bokmål, through the outbox) to the people a change concerns."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from extensions import db
from models.outbox import link, queue
from models.role import CoordinatorRole


def notify(member, subject, *lines, endpoint="account.index", link_text=None, **values):
    """One mail to ``member``: a greeting, the lines, and a link into the app."""
    if member is None or member.deleted_at is not None:
        return None
    return queue(
        member.email,
        subject,
        "notice",
        name=member.name,
        lines=lines,
        url=link(endpoint, **values) if endpoint else None,
        link_text=link_text or _l("Open the membership tracker"),
    )


def coordinators_of(network):
    return db.session.scalars(select(CoordinatorRole).where(CoordinatorRole.network_id == network.id)).all()


def notify_coordinators(network, subject, *lines, **link_args):
    for role in coordinators_of(network):
        notify(role.member, subject, *lines, **link_args)
