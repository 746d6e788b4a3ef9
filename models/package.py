"""Information packages: material in many languages for an emergency (links per language to
Helsenorge, FHI, IMDi …), posted to the emergency's networks, mailed to their members in their own
written form; each member marks it *shared locally* (where, to whom), so the board shows, per county
and per language, how many municipalities it has reached – and which languages asked for in signals
have no material yet.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from extensions import Model, db
from models import audit
from models.emergency import Emergency, Language, emergency_networks, languages_named, while_open
from models.errors import DomainError
from models.organisation import OrganisationKind
from models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from models.member import Member
    from models.organisation import Organisation


class Package(Model):
    __tablename__ = "packages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    emergency_id: Mapped[int] = mapped_column(ForeignKey("emergencies.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(Text)  # what it is for, whom it is meant to reach
    posted_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    emergency: Mapped[Emergency] = relationship(Emergency)
    posted_by: Mapped["Member | None"] = relationship("Member")
    links: Mapped[list["PackageLink"]] = relationship(
        "PackageLink", order_by="PackageLink.id", cascade="all, delete-orphan"
    )

    @property
    def by_language(self) -> list[tuple[Language, list["PackageLink"]]]:
        """The links grouped by language, the common languages first (each name is read in the
        language of the page or mail being drawn)."""
        groups: dict[str, list[PackageLink]] = {}
        for link in self.links:
            groups.setdefault(link.language_code, []).append(link)
        ordered = sorted(groups.values(), key=lambda links: Language.list_order(links[0].language))
        return [(links[0].language, links) for links in ordered]

    @property
    def languages(self) -> list[Language]:
        return [language for language, _links in self.by_language]


class PackageLink(Model):
    """One piece of material: its address, its language and where it comes from."""

    __tablename__ = "package_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    language_code: Mapped[str] = mapped_column(ForeignKey("languages.code"), index=True)
    source: Mapped[str | None] = mapped_column(String(100))  # Helsenorge, FHI, IMDi, …

    language: Mapped[Language] = relationship(Language)


class PackageShare(Model):
    """A member shared the package locally: once per member; in their organisation (at the time)."""

    __tablename__ = "package_shares"
    __table_args__ = (UniqueConstraint("package_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)  # where, to whom
    shared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    package: Mapped[Package] = relationship(Package)
    organisation: Mapped["Organisation"] = relationship("Organisation")


SOURCES = ("Helsenorge", "FHI", "IMDi", "Helsedirektoratet")  # suggested; any source may be written
TITLE_LIMIT, SOURCE_LIMIT, URL_LIMIT, LINK_LIMIT = 200, 100, 500, 60


class LinkIn(NamedTuple):
    """One piece of material as the form gives it."""

    url: str
    language_code: str
    source: str | None = None


# -- who may post, who may share ------------------------------------------------------------------


def coordinates(emergency: Emergency, member: "Member") -> bool:
    return any(member.coordinates(network) for network in emergency.networks)


def may_post(emergency: Emergency, member: "Member") -> bool:
    """The state's rule (the policy says who): while the emergency is open, a coordinator of its
    networks; a member of an observer organisation only if the coordinators allowed it."""
    return emergency.is_open and (coordinates(emergency, member) or emergency.observers_may_post)


def observers_refused(emergency: Emergency, member: "Member") -> bool:
    """True for an observer's member where the coordinators have not let observers post."""
    return not coordinates(emergency, member) and not emergency.observers_may_post


def may_share(package: Package, member: "Member") -> bool:
    """Shared locally: by a member of a municipality, while the emergency is open."""
    organisation = member.organisation
    return (
        package.emergency.is_open
        and organisation is not None
        and organisation.kind == OrganisationKind.MUNICIPALITY
    )


# -- posting ----------------------------------------------------------------------------------------


def _checked_links(links: Iterable[LinkIn]) -> list[LinkIn]:
    checked = []
    for link in links:
        url = (link.url or "").strip()
        if not url:
            continue
        parts = urlsplit(url)
        if parts.scheme.lower() != "https" or not parts.hostname or "." not in parts.hostname:
            raise DomainError(_l("Give a full address, starting with https://"))
        if len(url) > URL_LIMIT:
            raise DomainError(_l("Write at most %(n)s characters.", n=URL_LIMIT))
        source = (link.source or "").strip() or None
        if source is not None and len(source) > SOURCE_LIMIT:
            raise DomainError(_l("Write at most %(n)s characters.", n=SOURCE_LIMIT))
        checked.append(LinkIn(url, link.language_code, source))
    if not checked:
        raise DomainError(_l("Give at least one link to material."))
    if len(checked) > LINK_LIMIT:
        raise DomainError(_l("Give at most %(n)s links.", n=LINK_LIMIT))
    languages_named({link.language_code for link in checked})  # each from the list, or refused
    return checked


def post(
    emergency: Emergency, title: str, purpose: str | None, links: Iterable[LinkIn], by: "Member | None"
) -> tuple[Package, int]:
    """Post a package to the emergency's networks and mail each of their active members once, in
    their own written form: (package, how many mailed).

    Only while the emergency is open (``while_open``: a shared lock – a close waits for the post,
    and a post after the close is refused); a member of an observer organisation only where the
    coordinators allowed it.  The same form sent twice is stopped by its submission key (one
    package, one mail each).  The caller commits."""
    title = (title or "").strip()
    if not title:
        raise DomainError(_l("Give the package a title."))
    if len(title) > TITLE_LIMIT:
        raise DomainError(_l("Write at most %(n)s characters.", n=TITLE_LIMIT))
    checked = _checked_links(links)
    while_open(emergency)
    db.session.refresh(emergency, ["observers_may_post"])  # as it stands now, under the lock
    if by is not None and observers_refused(emergency, by):
        raise DomainError(
            _l(
                "The coordinators have not let observer organisations post information packages in this emergency."
            )
        )
    package = Package(
        emergency_id=emergency.id,
        title=title,
        purpose=(purpose or "").strip() or None,
        posted_by_id=by.id if by is not None else None,
        posted_at=utcnow(),
    )
    package.links = [PackageLink(url=m.url, language_code=m.language_code, source=m.source) for m in checked]
    db.session.add(package)
    db.session.flush()
    mailed = _mail(package)
    audit.record(
        "package.posted",
        network=audit.filed_under(emergency.networks),
        subject=f"emergency:{emergency.id}",
        after={"title": title, "recipients": mailed},  # the fields the audit page names
    )
    return package, mailed


def _mail(package: Package) -> int:
    """Every active member of the emergency's networks, once each, in their own written form
    (composed once per form: the language names are read in it)."""
    from models.language import mail_locale_sql
    from models.member import Member, active_in
    from models.outbox import compose_each, link, queue_many

    emergency = package.emergency
    people = db.session.execute(
        active_in(n.id for n in emergency.networks)
        .with_only_columns(Member.email, mail_locale_sql())
        .order_by(Member.id)
    )
    return queue_many(
        compose_each(
            ((email, locale, {}) for email, locale in people),
            _l("Information package: %(title)s", title=package.title),
            "package",
            mailing_list=("package", emergency.networks),
            package=package,
            emergency=emergency,
            url=link("emergencies.package", package_id=package.id),
            batch=f"package:{package.id}",
        )
    )


# -- sharing locally --------------------------------------------------------------------------------


def share(package: Package, member: "Member", note: str | None = None) -> bool:
    """``member`` shared the package in their municipality (``note``: where, to whom): True the
    first time; False when it was marked already (a new note then replaces the old one).

    Once per member: one ``INSERT … ON CONFLICT DO NOTHING`` on (package, member) – two presses
    at the same moment store one row.  Only while the emergency is open, and only by a member of
    a municipality (the share counts for it on the board).  The caller commits."""
    from models.quota import insert_for

    organisation = member.organisation
    if organisation is None or organisation.kind != OrganisationKind.MUNICIPALITY:
        raise DomainError(_l("Only members from a municipality mark a package as shared locally."))
    note = (note or "").strip() or None
    while_open(package.emergency)
    inserted = db.session.execute(
        insert_for(db.session.get_bind().dialect.name)(PackageShare.__table__)
        .values(
            package_id=package.id,
            member_id=member.id,
            organisation_id=organisation.id,
            note=note,
            shared_at=utcnow(),
        )
        .on_conflict_do_nothing()
        .returning(PackageShare.__table__.c.id)  # rowcount is -1 on PostgreSQL here
    ).first()
    if inserted is None and note is not None:
        db.session.execute(
            update(PackageShare)
            .where(PackageShare.package_id == package.id, PackageShare.member_id == member.id)
            .values(note=note)
            .execution_options(synchronize_session=False)
        )
    return inserted is not None


def share_of(package: Package, member: "Member") -> PackageShare | None:
    return db.session.scalar(select(PackageShare).filter_by(package_id=package.id, member_id=member.id))


def of_emergency(emergency: Emergency, member: "Member | None" = None) -> list[tuple[Package, bool]]:
    """The emergency's packages, newest first, each with whether ``member`` shared it (two queries
    and the links' languages)."""
    packages = db.session.scalars(
        select(Package)
        .where(Package.emergency_id == emergency.id)
        .options(selectinload(Package.links).selectinload(PackageLink.language))
        .order_by(Package.posted_at.desc(), Package.id.desc())
    ).all()
    mine: set[int] = set()
    if member is not None and packages:
        mine = set(
            db.session.scalars(
                select(PackageShare.package_id).where(
                    PackageShare.member_id == member.id,
                    PackageShare.package_id.in_([p.id for p in packages]),
                )
            )
        )
    return [(package, package.id in mine) for package in packages]


# -- how far the packages have reached --------------------------------------------------------------


class CountyCoverage(NamedTuple):
    number: str | None  # the county's number (None: municipalities without one)
    name: str
    shared: int  # municipalities of the county where a member shared a package of the emergency
    municipalities: int  # municipalities of the county with active members in the emergency's networks


class LanguageCoverage(NamedTuple):
    language: Language
    shared: int  # municipalities that shared a package with material in this language


class Coverage(NamedTuple):
    counties: list[CountyCoverage]
    languages: list[LanguageCoverage]
    missing: list[Language]  # asked for in signals, and no material in any package yet
    packages: int

    @property
    def shared(self) -> int:
        return sum(c.shared for c in self.counties)

    @property
    def municipalities(self) -> int:
        return sum(c.municipalities for c in self.counties)


def coverage(emergency: Emergency, asked: "Iterable[Language] | None" = None) -> Coverage:
    """How far the emergency's packages have reached (for the board and the report), in a fixed
    number of grouped queries (three; two when the caller gives ``asked``, the languages the
    emergency's signals name – the board has them with its counts):

    - per county: how many municipalities have shared any package of the emergency, out of the
      municipalities of the county with active members in the emergency's networks (those the
      networks reach: a municipality without members there has no one to share it) – read with
      the counties' names and the number of packages in one query (UNION ALL, each row marked);
    - per language with material: how many municipalities shared a package with material in it;
    - the languages asked for in signals that no package has material in yet."""
    from models.member import Member
    from models.membership import Membership, MembershipStatus
    from models.organisation import Organisation
    from models.signal import Signal, counted, signal_languages

    network_ids = select(emergency_networks.c.network_id).where(
        emergency_networks.c.emergency_id == emergency.id
    )
    names: dict[str | None, str] = {}
    figures: dict[str, dict[str | None, int]] = {"reached": {}, "shared": {}, "packages": {}}
    rows: Any = db.session.execute(
        union_all(
            select(literal("name"), Organisation.number, Organisation.name, literal(0)).where(
                Organisation.kind == OrganisationKind.COUNTY_MUNICIPALITY
            ),
            # a municipality is reached when it has an active member of the networks: EXISTS, one
            # probe of its memberships each, rather than a distinct count over every membership
            select(literal("reached"), Organisation.county_number, null(), func.count())
            .where(
                Organisation.kind == OrganisationKind.MUNICIPALITY,
                select(Membership.id)
                .join(Member, Member.id == Membership.member_id)
                .where(
                    Membership.organisation_id == Organisation.id,
                    Member.deleted_at.is_(None),
                    Membership.status == MembershipStatus.ACTIVE,
                    Membership.network_id.in_(network_ids),
                )
                .exists(),
            )
            .group_by(Organisation.county_number),
            select(
                literal("shared"),
                Organisation.county_number,
                null(),
                func.count(func.distinct(Organisation.id)),
            )
            .join(PackageShare, PackageShare.organisation_id == Organisation.id)
            .join(Package, Package.id == PackageShare.package_id)
            .where(Package.emergency_id == emergency.id)
            .group_by(Organisation.county_number),
            select(literal("packages"), null(), null(), func.count())
            .select_from(Package)
            .where(Package.emergency_id == emergency.id),
        )
    )
    for what, number, name, n in rows:
        if what == "name":
            names[number] = name
        else:
            figures[what][number] = n
    reached, shared = figures["reached"], figures["shared"]
    by_language = db.session.execute(
        select(Language, func.count(func.distinct(PackageShare.organisation_id)))
        .select_from(PackageLink)
        .join(Language, Language.code == PackageLink.language_code)
        .join(Package, Package.id == PackageLink.package_id)
        .outerjoin(PackageShare, PackageShare.package_id == Package.id)
        .where(Package.emergency_id == emergency.id)
        .group_by(Language.code, Language.name_nb, Language.name_nn, Language.name_en, Language.rank)
    ).all()
    if asked is None:
        asked = db.session.scalars(
            select(Language).where(
                Language.code.in_(
                    select(signal_languages.c.language_code)
                    .join(Signal, Signal.id == signal_languages.c.signal_id)
                    .where(*counted(emergency))
                )
            )
        ).all()
    material = {language.code for language, _n in by_language}
    counties = [
        CountyCoverage(
            number, names.get(number) or number or "–", shared.get(number, 0), reached.get(number, 0)
        )
        for number in sorted(set(reached) | set(shared), key=lambda n: (n is None, n or ""))
    ]
    return Coverage(
        counties=counties,
        languages=sorted(
            (LanguageCoverage(language, n) for language, n in by_language),
            key=lambda row: Language.list_order(row.language),
        ),
        missing=sorted(
            (language for language in asked if language.code not in material), key=Language.list_order
        ),
        packages=figures["packages"].get(None, 0),
    )
