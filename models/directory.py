"""The member directory (*deltakeroversikt*): active members, for signed-in members to find each other.

A member may hide from it; coordinators still see everyone.  Public pages never use it.
"""

from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from extensions import db
from models.member import Member
from models.membership import Membership, MembershipStatus
from models.network import Network
from models.organisation import Organisation, OrganisationKind, fold

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Select


def _matching(viewer: Member, text: str | None) -> "list[ColumnElement[bool]]":
    """Who the directory lists for ``viewer``: active members whose name, organisation or
    organisation's county contains ``text``.

    Written on the members table alone (the organisations that match are one subquery), so
    counting is one pass over the members, and the page of results walks the name index.
    """
    conditions: list[ColumnElement[bool]] = [
        Member.deleted_at.is_(None),
        # Correlated on member_id alone, so the (member_id, network_id) index serves it.
        exists().where(Membership.member_id == Member.id, Membership.status == MembershipStatus.ACTIVE),
    ]
    if not viewer.is_coordinator:
        conditions.append(~Member.directory_hidden)
    text = fold(text or "")
    if text:
        county = aliased(Organisation)
        organisations = (
            select(Organisation.id)
            .outerjoin(
                county,
                and_(
                    county.kind == OrganisationKind.COUNTY_MUNICIPALITY,
                    county.number == Organisation.county_number,
                ),
            )
            .where(
                or_(
                    Organisation.name_folded.contains(text, autoescape=True),
                    county.name_folded.contains(text, autoescape=True),
                )
            )
        )
        conditions.append(
            or_(Member.name_folded.contains(text, autoescape=True), Member.organisation_id.in_(organisations))
        )
    return conditions


# Beyond this many, a search is counted as "more than": nobody reads on past ten pages, and a search
# of one or two letters then stops after COUNT_CAP + 1 rows instead of counting all ten thousand.
COUNT_CAP = 500


def count(viewer: Member, text: str | None = "") -> "Select[int]":
    """How many members the directory lists for ``viewer`` and ``text``, up to COUNT_CAP + 1
    (``entries`` gives them a page at a time)."""
    found = select(Member.id).where(*_matching(viewer, text)).limit(COUNT_CAP + 1).subquery()
    return select(func.count()).select_from(found)


class Entry(NamedTuple):
    id: int
    name: str
    email: str
    unit: str | None
    job_title: str | None
    directory_hidden: bool
    organisation: str
    networks: list[tuple[str, bool]]  # active memberships only


def entries(viewer: Member, text: str | None = "", limit: int = 50, offset: int = 0) -> list[Entry]:
    """A page of the members ``count`` counts, by name, as plain rows (two queries; a list to read,
    so no ORM objects are built for it)."""
    rows = db.session.execute(
        select(
            Member.id,
            Member.name,
            Member.email,
            Member.unit,
            Member.job_title,
            Member.directory_hidden,
            Organisation.name,
        )
        .join(Organisation, Organisation.id == Member.organisation_id)
        .where(*_matching(viewer, text))
        .order_by(Member.name_folded, Member.id)
        .limit(limit)
        .offset(offset)
    ).all()
    if not rows:
        return []
    networks: dict[int, list[tuple[str, bool]]] = {}
    for member_id, code, main_contact in db.session.execute(
        select(Membership.member_id, Network.code, Membership.is_main_contact)
        .join(Network, Network.id == Membership.network_id)
        .where(
            Membership.member_id.in_([row.id for row in rows]), Membership.status == MembershipStatus.ACTIVE
        )
        .order_by(Network.code)
    ):
        networks.setdefault(member_id, []).append((code, main_contact))
    return [Entry(*row, networks.get(row.id, [])) for row in rows]
