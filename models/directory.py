"""The member directory (*deltakeroversikt*): active members, for signed-in members to find each other.

A member may hide from it; coordinators still see everyone.  Public pages never use it.
"""

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased, joinedload, selectinload

from models.member import Member
from models.membership import Membership, MembershipStatus
from models.organisation import Organisation, OrganisationKind, fold


def may_use(member):
    """Active members and coordinators see the directory."""
    return member.is_coordinator or bool(member.active_network_ids)


def _matching(viewer, text):
    """Who the directory lists for ``viewer``: active members whose name, organisation or
    organisation's county contains ``text``.

    Written on the members table alone (the organisations that match are one subquery), so
    counting is one pass over the members, and the page of results walks the name index.
    """
    conditions = [Member.deleted_at.is_(None),
                  # Correlated on member_id alone, so the (member_id, network_id) index serves it.
                  exists().where(Membership.member_id == Member.id, Membership.status == MembershipStatus.ACTIVE)]
    if not viewer.is_coordinator:
        conditions.append(~Member.directory_hidden)
    text = fold(text or "")
    if text:
        county = aliased(Organisation)
        organisations = (
            select(Organisation.id)
            .outerjoin(county, and_(county.kind == OrganisationKind.COUNTY_MUNICIPALITY,
                                    county.number == Organisation.county_number))
            .where(or_(Organisation.name_folded.contains(text, autoescape=True),
                       county.name_folded.contains(text, autoescape=True))))
        conditions.append(or_(Member.name_folded.contains(text, autoescape=True),
                              Member.organisation_id.in_(organisations)))
    return conditions


def count(viewer, text=""):
    """How many members ``search`` finds."""
    return select(func.count()).select_from(Member).where(*_matching(viewer, text))


def search(viewer, text=""):
    """Active members whose name, organisation or organisation's county contains ``text``, by name."""
    return (select(Member).where(*_matching(viewer, text))
            .options(joinedload(Member.organisation),
                     selectinload(Member.memberships).joinedload(Membership.network))
            .order_by(Member.name_folded, Member.id))
