"""The member directory (*deltakeroversikt*): active members, for signed-in members to find each other.

A member may hide from it; coordinators still see everyone.  Public pages never use it.
"""

from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import and_, exists, false, func, or_, select
from sqlalchemy.orm import aliased

from extensions import db
from models import search
from models.member import Member
from models.membership import Membership, MembershipStatus
from models.network import Network
from models.organisation import Organisation, OrganisationKind

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Select


def matching(viewer: Member, text: str | None) -> "list[ColumnElement[bool]]":
    """Who the directory lists for ``viewer``: active members for whom every word of ``text``
    begins a word of their name, their organisation's or their organisation's county's
    (``models.search``: in any order, accents and case aside).

    The organisations each word names are looked up first (one query over a few hundred rows),
    so that each word is then a condition on the members alone, ``name matches OR organisation
    IN (those ids)``, which two indexes serve (the trigram index on the names, the members'
    organisation index) and whose size the planner can estimate: it reads the few members a
    rare word finds through the indexes, and walks the name index for a page of a common one.
    Counting stops at COUNT_CAP + 1.  Made once per search: ``count`` and ``entries`` take it.
    """
    conditions: list[ColumnElement[bool]] = [
        Member.deleted_at.is_(None),
        # Correlated on member_id alone, so the (member_id, network_id) index serves it.
        exists().where(Membership.member_id == Member.id, Membership.status == MembershipStatus.ACTIVE),
    ]
    if not viewer.is_coordinator:
        conditions.append(~Member.directory_hidden)
    found = search.terms(text)
    if found is None:
        return conditions
    if not found:
        return [false()]
    places = _places(found)
    for word in found:
        named = search.begins_a_word(Member.search_key, word)
        conditions.append(or_(named, Member.organisation_id.in_(places[word])) if places[word] else named)
    return conditions


def _places(found: list[str]) -> dict[str, list[int]]:
    """{word: the organisations whose name, or whose county's name, has a word that begins with it}."""
    county = aliased(Organisation)
    rows = db.session.execute(
        select(Organisation.id, Organisation.search_key, county.search_key)
        .outerjoin(
            county,
            and_(
                county.kind == OrganisationKind.COUNTY_MUNICIPALITY,
                county.number == Organisation.county_number,
            ),
        )
        .where(
            or_(*(search.any_matches([Organisation.search_key, county.search_key], word) for word in found))
        )
    ).all()
    return {
        word: [id_ for id_, own, theirs in rows if search.begins(own, word) or search.begins(theirs, word)]
        for word in found
    }


# Beyond this many, a search is counted as "more than": nobody reads on past ten pages, and a search
# of one or two letters then stops after COUNT_CAP + 1 rows instead of counting all ten thousand.
COUNT_CAP = 500


def count(where: "list[ColumnElement[bool]]") -> "Select[int]":
    """How many members the directory lists (``where``: ``matching``), up to COUNT_CAP + 1
    (``entries`` gives them a page at a time)."""
    found = select(Member.id).where(*where).limit(COUNT_CAP + 1).subquery()
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


def entries(where: "list[ColumnElement[bool]]", limit: int = 50, offset: int = 0) -> list[Entry]:
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
        .where(*where)
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
