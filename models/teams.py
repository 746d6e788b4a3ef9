"""Teams: the workspace roster, and the channel the network's posts go to.

Teams itself is outside the tracker: the coordinator copies the addresses of those not yet
invited into Teams, then marks them invited here (in bulk, with the time and who did it).
A new active member appears as "to invite" until then.  A network may name its Teams
channel's incoming webhook: newsletters and emergency call-ins are then posted there through
the outbox (``outbox.queue_webhook``).
"""

from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from extensions import db
from models import audit, guard
from models.member import Member
from models.membership import Membership, MembershipStatus
from models.outbox import queue_webhook
from models.types import utcnow


def _active(network):
    return (
        select(Membership)
        .join(Member, Member.id == Membership.member_id)
        .where(Membership.network_id == network.id, Membership.status == MembershipStatus.ACTIVE,
               Member.deleted_at.is_(None))
    )


def roster(network):
    """(to invite, invited): the network's active memberships, with member and organisation loaded."""
    memberships = db.session.scalars(
        _active(network)
        .options(selectinload(Membership.member).selectinload(Member.organisation),
                 selectinload(Membership.teams_invited_by))
        .order_by(Member.name)
    ).all()
    return ([m for m in memberships if m.teams_invited_at is None],
            [m for m in memberships if m.teams_invited_at is not None])


def addresses_to_invite(network):
    """The e-mail addresses of those not yet invited, in the order Teams takes them."""
    return db.session.scalars(
        select(Member.email).join(Membership, Membership.member_id == Member.id)
        .where(Membership.id.in_(_active(network).with_only_columns(Membership.id)),
               Membership.teams_invited_at.is_(None))
        .order_by(Member.name)
    ).all()


def mark_invited(network, membership_ids, by):
    """Mark the chosen active, not yet invited memberships of ``network`` invited; returns how many.

    One conditional UPDATE: ids of other networks, of members no longer active, or already marked
    are left alone – so the same marking sent twice at the same moment marks (and audits) once.
    """
    now = utcnow()
    marked = db.session.execute(
        update(Membership)
        .where(Membership.id.in_(list(membership_ids)), Membership.network_id == network.id,
               Membership.teams_invited_at.is_(None),
               Membership.id.in_(_active(network).with_only_columns(Membership.id)))
        .values(teams_invited_at=now, teams_invited_by_id=by.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if marked:
        audit.record("teams.invited", network=network, subject=f"teams:{network.code}", after={"invited": marked})
    db.session.expire_all()
    return marked


def set_channel(network, url):
    """Set (or, with None, clear) the network's Teams channel webhook; audited without the secret
    address.  The network's row is locked and read afresh: the same address saved twice at the
    same moment is saved (and audited) once.  True if it changed."""
    guard.lock(network)
    if url == network.teams_webhook_url:
        return False
    network.teams_webhook_url = url
    audit.record("teams.channel_set" if url else "teams.channel_cleared", network=network,
                 subject=f"teams:{network.code}", after={"host": urlsplit(url).hostname} if url else None)
    return True


def post(network, title, text, template, priority=0, batch=None):
    """Post to the network's Teams channel, if it has one (through the outbox: retried, never lost)."""
    if network.teams_webhook_url:
        return queue_webhook(network.teams_webhook_url, f"Teams: {network.code}", title, text, template,
                             priority=priority, batch=batch)
    return None
