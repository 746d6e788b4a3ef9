"""The member directory (*deltakeroversikt*): active members, for signed-in members to find each other.

A member may hide from it; coordinators still see everyone.  Public pages never use it.
"""

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased, selectinload

from models.member import Member
from models.membership import Membership, MembershipStatus
from models.organisation import Organisation, OrganisationKind, fold


def may_use(member):
    """Active members and coordinators see the directory."""
    return member.is_coordinator or bool(member.active_network_ids)


def search(viewer, text=""):
    """Active members whose name, organisation or organisation's county contains ``text``, by name."""
    county = aliased(Organisation)
    query = (
        select(Member)
        .join(Organisation, Organisation.id == Member.organisation_id)
        .outerjoin(county, and_(county.kind == OrganisationKind.COUNTY_MUNICIPALITY,
                                county.number == Organisation.county_number))
        # Correlated on member_id alone, so the (member_id, network_id) index serves it.
        .where(Member.deleted_at.is_(None),
               exists().where(Membership.member_id == Member.id, Membership.status == MembershipStatus.ACTIVE))
        .options(selectinload(Member.organisation),
                 selectinload(Member.memberships).selectinload(Membership.network))
        .order_by(Member.name_folded, Member.id)
    )
    if not viewer.is_coordinator:
        query = query.where(~Member.directory_hidden)
    text = fold(text or "")
    if text:
        query = query.where(or_(Member.name_folded.contains(text, autoescape=True),
                                Organisation.name_folded.contains(text, autoescape=True),
                                county.name_folded.contains(text, autoescape=True)))
    return query
