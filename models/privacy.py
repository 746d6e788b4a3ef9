"""The retention rule: a former member's personal data is kept for a while after their last
membership ended, then erased (``flask privacy purge``, daily from cron).

Former means every membership has ended – left, lapsed at a review, or declined by the line
manager – and none is active or waiting.  Coordinators keep their account while they hold the
role.  Erasure is ``Member.erase``, the same as a member deleting their own account: the history
stays, without the person, and the audit log says why.
"""

from datetime import timedelta

from sqlalchemy import func, select

from extensions import db
from models import audit
from models.errors import DomainError
from models.member import Member
from models.membership import Membership, MembershipStatus
from models.role import CoordinatorRole
from models.types import utcnow

ENDED = (MembershipStatus.LEFT, MembershipStatus.LAPSED, MembershipStatus.DECLINED)
REASON = "retention: %(days)s days after the last membership ended"


def due(days, now=None):
    """A select of the ids of former members whose last membership ended more than ``days`` days ago."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    return (
        select(Membership.member_id)
        .join(Member, Member.id == Membership.member_id)
        .where(Member.deleted_at.is_(None),
               ~select(CoordinatorRole.id).where(CoordinatorRole.member_id == Member.id).exists())
        .group_by(Membership.member_id)
        .having(func.count().filter(Membership.status.not_in(ENDED)) == 0,
                func.max(Membership.status_changed_at) < cutoff)
    )


def purge(days, now=None):
    """Erase the personal data of every former member past the retention period; returns how many.

    Each member's row is taken before it is erased (``Member.erase``): one erased meanwhile – by
    an overlapping run, or by the member deleting the account – is passed over, not erased twice.
    """
    ids = db.session.scalars(due(days, now)).all()
    erased = 0
    with audit.acting_as(label="flask privacy purge"):
        for member in db.session.scalars(select(Member).where(Member.id.in_(ids)).order_by(Member.id)).all():
            try:
                member.erase(reason=REASON % {"days": days})
            except DomainError:
                continue
            erased += 1
    return erased
