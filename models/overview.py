"""The coordinator's overview of a network: organisations, members, main contacts, exports."""

from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import aliased, joinedload

from extensions import db
from models import search
from models.member import Member
from models.membership import Membership, MembershipStatus
from models.organisation import Organisation, OrganisationKind

if TYPE_CHECKING:
    from sqlalchemy import Select, Subquery

    from models.network import Network

SORTS = ("name", "members", "pending", "activity")


class Row(NamedTuple):
    """One organisation's line in the overview: its figures in the network and its main contact."""

    active: int
    pending: int
    last_activity: datetime | None
    main_contact: str | None


NO_MEMBERS = Row(0, 0, None, None)


def _stats(network: "Network") -> "Subquery":
    return (
        select(
            Membership.organisation_id.label("organisation_id"),
            func.sum(case((Membership.status == MembershipStatus.ACTIVE, 1), else_=0)).label("active"),
            func.sum(case((Membership.status == MembershipStatus.PENDING_ANCHORING, 1), else_=0)).label(
                "pending"
            ),
            func.max(Membership.status_changed_at).label("last_activity"),
        )
        .where(Membership.network_id == network.id)
        .group_by(Membership.organisation_id)
        .subquery()
    )


def organisations(
    network: "Network",
    county: str | None = None,
    text: str | None = None,
    sort: str = "name",
    descending: bool = False,
) -> "Select[Organisation]":
    """A select of the organisations the network is for, filtered and sorted (for paging).

    Joined to the network's figures only to sort by them: by name, the list and its count read
    the organisations alone."""
    kinds = network.MEMBER_KINDS[network.code] | {OrganisationKind.OBSERVER}
    query = select(Organisation).where(Organisation.active, Organisation.kind.in_(kinds))
    if network.code != "NIK":
        # Observers and voluntary organisations are many only where someone registered.
        registered = select(Membership.organisation_id).where(Membership.network_id == network.id)
        query = query.where(
            Organisation.id.in_(registered) | (Organisation.kind != OrganisationKind.OBSERVER)
        )
    if county:
        query = query.where(
            (Organisation.county_number == county)
            | ((Organisation.kind == OrganisationKind.COUNTY_MUNICIPALITY) & (Organisation.number == county))
        )
    if text:
        query = query.where(
            search.matches(Organisation.search_key, search.terms(text) or [])
            | Organisation.number.startswith(text.strip(), autoescape=True)
        )
    sort = sort if sort in SORTS else "name"
    column: Any  # a column or an expression to order by
    if sort == "name":
        column = Organisation.name_folded
    else:
        stats = _stats(network)
        query = query.outerjoin(stats, stats.c.organisation_id == Organisation.id)
        column = {
            "members": func.coalesce(stats.c.active, 0),
            "pending": func.coalesce(stats.c.pending, 0),
            "activity": stats.c.last_activity,
        }[sort]
    order = column.desc() if descending else column.asc()
    if sort == "activity":
        order = order.nulls_last()
    return query.order_by(order, Organisation.name_folded)


@cache
def _rows_query() -> "Select[Any]":
    """Built once (building a select costs more than reading these rows); the network and the
    organisations are bound at each execution."""
    figures = (
        select(
            Membership.organisation_id,
            func.sum(case((Membership.status == MembershipStatus.ACTIVE, 1), else_=0)).label("active"),
            func.sum(case((Membership.status == MembershipStatus.PENDING_ANCHORING, 1), else_=0)).label(
                "pending"
            ),
            func.max(Membership.status_changed_at).label("last_activity"),
            func.max(case((Membership.is_main_contact, Membership.member_id))).label("main_contact_id"),
        )
        # "+ 0": read through the organisations' index (their few memberships), not the network's
        # (thousands): SQLite keeps no statistics to tell which is smaller.
        .where(
            Membership.organisation_id.in_(bindparam("ids", expanding=True)),
            Membership.network_id + 0 == bindparam("network_id"),
        )
        .group_by(Membership.organisation_id)
        .subquery()
    )
    # The main contact's name: one member looked up per organisation, not all members joined.
    return select(
        figures.c.organisation_id, figures.c.active, figures.c.pending, figures.c.last_activity, Member.name
    ).outerjoin(Member, Member.id == figures.c.main_contact_id)


def rows_for(network: "Network", organisation_ids: Iterable[int]) -> dict[int, Row]:
    """{organisation id: Row} for the organisations on the page with members in the network, in one
    grouped query over their memberships alone (not the network's thousands)."""
    ids = list(organisation_ids)
    if not ids:
        return {}
    return {
        organisation_id: Row(active, pending, last, contact)
        for organisation_id, active, pending, last, contact in db.session.execute(
            _rows_query(), {"ids": ids, "network_id": network.id}
        )
    }


@cache
def _county_query() -> "Select[str | None, str, int, Any]":
    county = aliased(Organisation)
    has_active = (
        select(Membership.id)
        .where(
            Membership.organisation_id == Organisation.id,
            Membership.network_id == bindparam("network_id"),
            Membership.status == MembershipStatus.ACTIVE,
        )
        .exists()
    )
    return (
        select(
            county.number,
            county.name,
            func.count(Organisation.id),
            func.sum(case((has_active, 1), else_=0)),
        )
        .join(
            Organisation,
            (Organisation.county_number == county.number)
            & (Organisation.kind == OrganisationKind.MUNICIPALITY),
        )
        .where(county.kind == OrganisationKind.COUNTY_MUNICIPALITY, Organisation.active)
        .group_by(county.number, county.name)
        .order_by(county.number)
    )


def county_summary(network: "Network") -> list[tuple[str | None, str, int, int]]:
    """[(county number, name, municipalities, municipalities with an active member in the network)],
    counted by the database in one grouped query: a handful of rows, whatever the members."""
    return [
        (number, name, municipalities, int(with_members or 0))
        for number, name, municipalities, with_members in db.session.execute(
            _county_query(), {"network_id": network.id}
        )
    ]


# The export's headers, in the reader's language (rendered when the file is written).
MEMBER_COLUMNS = (
    _l("Name"),
    _l("E-mail"),
    _l("Phone"),
    _l("Job title"),
    _l("Unit"),
    _l("Organisation"),
    _l("Number"),
    _l("County"),
    _l("Status"),
    _l("Main contact"),
    _l("Anchored by"),
    _l("Anchored"),
)


def member_rows(network: "Network", only_active: bool = False) -> Iterator[tuple[Any, ...]]:
    """The member list of a network, as rows for CSV and XLSX (same rows in both; the status by its
    label and the time of anchoring as a time, written by ``blueprints.coordinator.exports``)."""
    counties = dict(
        db.session.execute(
            select(Organisation.number, Organisation.name).where(
                Organisation.kind == OrganisationKind.COUNTY_MUNICIPALITY
            )
        ).all()
    )
    statuses = (
        [MembershipStatus.ACTIVE]
        if only_active
        else [MembershipStatus.PENDING_ANCHORING, MembershipStatus.ACTIVE, MembershipStatus.LAPSED]
    )
    memberships = db.session.scalars(
        select(Membership)
        .join(Member, Membership.member_id == Member.id)
        .where(Membership.network_id == network.id, Membership.status.in_(statuses))
        # All many-to-one: one query whatever the number of members (selectinload would batch by 500).
        .options(
            joinedload(Membership.member).joinedload(Member.organisation), joinedload(Membership.anchoring)
        )
        .order_by(Member.name, Member.email)
    )
    for m in memberships:
        member, org = m.member, m.member.organisation
        yield (
            member.name,
            member.email,
            member.phone or "",
            member.job_title or "",
            member.unit or "",
            org.name,
            org.number or "",
            counties.get(org.county_number or org.number, "") if org.number else "",
            m.status,
            _l("Yes") if m.is_main_contact else "",
            (m.anchoring.decided_by_name or "") if m.anchoring else "",
            m.anchoring.decided_at if m.anchoring else None,
        )


EMAIL_COLUMNS = (_l("E-mail"), _l("Name"), _l("Organisation"))


def email_line(network: "Network") -> str:
    """The active members' addresses as one line to paste into Outlook's "To", in one query."""
    return "; ".join(
        db.session.scalars(
            select(Member.email)
            .join(Membership, Membership.member_id == Member.id)
            .where(Membership.network_id == network.id, Membership.status == MembershipStatus.ACTIVE)
            .order_by(Member.name, Member.email)
        )
    )


def email_rows(network: "Network") -> Iterator[tuple[Any, Any, Any]]:
    for row in member_rows(network, only_active=True):
        yield (row[1], row[0], row[5])
