"""The situation report of an emergency (issue 21, item 4) and the emergencies of a year in the
yearly evaluation (item 6).

The report is what a coordinator passes on to the directorate's crisis staff, FHI and IMDi – and
what observers' members (FHI, IMDi) read themselves: for the whole emergency or one day (in
Norwegian time), the counted signals by kind × county and by kind × language group, the follow-up
by status, the main signals' texts with the coordinators' notes, and the information packages.
It is anonymised: it carries no reporter, no member's name or address – nothing here reads
``Signal.reporter``, ``handled_by``, ``opened_by`` or ``posted_by``.

Every figure comes from a fixed number of queries, however many signals there are.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import joinedload, selectinload

from extensions import db
from models import package as packages
from models.emergency import Emergency, Language, emergency_networks
from models.meeting import OSLO, Meeting
from models.organisation import Organisation, OrganisationKind
from models.package import Package, PackageLink, PackageShare
from models.signal import (
    Signal,
    SignalKind,
    SignalStatus,
    Urgency,
    counted,
    counts_by_county,
    counts_by_language,
)
from models.types import utcnow

if TYPE_CHECKING:
    from models.network import Network
    from models.package import Coverage

MAIN_SIGNALS = 20  # the main signals' texts on the page and in the summary's basis
# What a coordinator has done something with: the report shows these first (with the urgent ones).
HANDLED_ON = (SignalStatus.FOLLOWED_UP, SignalStatus.PASSED_ON)


def local_day(moment: datetime) -> date:
    return moment.astimezone(OSLO).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The day in Norwegian time as [since, until) instants (23 or 25 hours when the clock changes)."""
    since = datetime.combine(day, time(), OSLO)
    until = datetime.combine(day + timedelta(days=1), time(), OSLO)
    return since, until


def days_of(emergency: Emergency, now: datetime | None = None) -> list[date]:
    """The emergency's days in Norwegian time, newest first: from the day it opened to the day it
    closed (or today)."""
    first = local_day(emergency.opened_at)
    last = local_day(emergency.closed_at or now or utcnow())
    return [last - timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass
class SituationReport:
    emergency: Emergency
    day: date | None
    since: datetime
    until: datetime | None  # None: up to now (an open emergency)
    by_county: dict[tuple[str, str | None], int]
    by_language: dict[tuple[str, str], int]
    by_status: dict[SignalStatus, int]
    urgent: int  # signals marked urgent
    counties: dict[str | None, str]  # county number → name (None: not one municipality)
    languages: dict[str, Language]
    main: Sequence[Signal]
    packages: Sequence[Package]
    coverage: "Coverage"  # the whole emergency's, whatever the period

    @property
    def total(self) -> int:
        return sum(self.by_county.values())

    @property
    def kinds(self) -> list[SignalKind]:
        """The kinds with signals, in the list's order."""
        present = {kind for kind, _county in self.by_county}
        return [kind for kind in SignalKind if kind.value in present]

    def kind_total(self, kind: str) -> int:
        return sum(n for (k, _county), n in self.by_county.items() if k == kind)

    @property
    def county_columns(self) -> list[str | None]:
        """The counties with signals, by number (signals with no municipality last)."""
        present = {county for _kind, county in self.by_county}
        return sorted(present, key=lambda number: (number is None, number or ""))

    def county_name(self, number: str | None) -> str:
        return self.counties.get(number, number or "")

    def county_total(self, number: str | None) -> int:
        return sum(n for (_kind, county), n in self.by_county.items() if county == number)

    @property
    def language_columns(self) -> list[Language]:
        """The languages signals named, most named first."""
        totals: dict[str, int] = {}
        for (_kind, code), n in self.by_language.items():
            totals[code] = totals.get(code, 0) + n
        codes = sorted(totals, key=lambda code: (-totals[code], code))
        return [self.languages[code] for code in codes if code in self.languages]

    def language_total(self, code: str) -> int:
        return sum(n for (_kind, c), n in self.by_language.items() if c == code)

    @property
    def handled(self) -> int:
        """Signals followed up or passed on."""
        return sum(self.by_status.get(status, 0) for status in HANDLED_ON)

    @property
    def statuses(self) -> list[tuple[SignalStatus, int]]:
        return [(status, self.by_status.get(status, 0)) for status in SignalStatus]

    @property
    def package_languages(self) -> dict[int, list[Language]]:
        """Each package's languages, each once, in list order."""
        result = {}
        for package in self.packages:
            seen: dict[str, Language] = {}
            for link in package.links:
                seen.setdefault(link.language_code, link.language)
            result[package.id] = sorted(seen.values(), key=Language.list_order)
        return result


def period(emergency: Emergency, day: date | None) -> tuple[datetime, datetime | None]:
    """The instants the report covers: one day, or the emergency from its opening on."""
    if day is not None:
        return day_bounds(day)
    return emergency.opened_at, emergency.closed_at


def report(emergency: Emergency, day: date | None = None) -> SituationReport:
    """The anonymised situation report of ``emergency``, for one ``day`` (Norwegian time) or the
    whole of it."""
    since, until = period(emergency, day)
    window = (since, until) if day is not None else (None, None)
    by_county = counts_by_county(emergency, *window)
    by_language = counts_by_language(emergency, *window)
    by_status: dict[SignalStatus, int] = {}
    urgent = 0
    for status, urgency, n in db.session.execute(
        select(Signal.status, Signal.urgency, func.count())
        .where(*counted(emergency, *window))
        .group_by(Signal.status, Signal.urgency)
    ):
        by_status[SignalStatus(status)] = by_status.get(SignalStatus(status), 0) + n
        urgent += n if urgency == Urgency.URGENT else 0
    counties = county_names({county for _kind, county in by_county})
    codes = {code for _kind, code in by_language}
    languages = {
        language.code: language
        for language in db.session.scalars(select(Language).where(Language.code.in_(codes)))
    }
    return SituationReport(
        emergency=emergency,
        day=day,
        since=since,
        until=until,
        by_county=by_county,
        by_language=by_language,
        by_status=by_status,
        urgent=urgent,
        counties=counties,
        languages=languages,
        main=main_signals(emergency, *window),
        packages=posted_packages(emergency, *window),
        coverage=packages.coverage(emergency),
    )


def _signals(emergency: Emergency, since: datetime | None, until: datetime | None):  # type: ignore[no-untyped-def]
    return (
        select(Signal)
        .where(*counted(emergency, since, until))
        .options(joinedload(Signal.organisation), selectinload(Signal.languages))
    )


def main_signals(
    emergency: Emergency,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = MAIN_SIGNALS,
) -> Sequence[Signal]:
    """At most ``limit`` signals: urgent ones and those followed up or passed on first (both: first
    of all), then the newest (two queries: the signals, their languages)."""
    urgent = case((Signal.urgency == Urgency.URGENT, 0), else_=1)
    handled = case((Signal.status.in_(HANDLED_ON), 0), else_=1)
    return db.session.scalars(
        _signals(emergency, since, until)
        .order_by(urgent + handled, urgent, Signal.created_at.desc(), Signal.id.desc())
        .limit(limit)
    ).all()


def county_names(numbers: "set[str | None]") -> dict[str | None, str]:
    """The county municipalities' names by number (one query)."""
    rows = db.session.execute(
        select(Organisation.number, Organisation.name).where(
            Organisation.kind == OrganisationKind.COUNTY_MUNICIPALITY,
            Organisation.number.in_({n for n in numbers if n is not None}),
        )
    )
    return dict(rows.all())


def export_rows(emergency: Emergency, day: date | None = None) -> list[list[object]]:
    """One row per counted signal of the period, oldest first – when, kind, urgency, municipality,
    county, languages, status, note, text – and no reporter (three queries)."""
    since, until = period(emergency, day) if day is not None else (None, None)
    signals = db.session.scalars(
        _signals(emergency, since, until).order_by(Signal.created_at, Signal.id)
    ).all()
    counties = county_names({s.organisation.county_number for s in signals if s.organisation is not None})
    return [
        [
            signal.created_at,
            signal.kind,
            signal.urgency,
            signal.organisation.name if signal.organisation is not None else "",
            counties.get(signal.organisation.county_number, "") if signal.organisation is not None else "",
            ", ".join(language.name for language in signal.languages),
            signal.status,
            signal.note or "",
            signal.text,
        ]
        for signal in signals
    ]


def posted_packages(
    emergency: Emergency, since: datetime | None = None, until: datetime | None = None
) -> Sequence[Package]:
    """The packages posted in the period, with their links' languages (three queries at most)."""
    query = select(Package).where(Package.emergency_id == emergency.id)
    if since is not None:
        query = query.where(Package.posted_at >= since)
    if until is not None:
        query = query.where(Package.posted_at < until)
    return db.session.scalars(
        query.options(selectinload(Package.links).joinedload(PackageLink.language)).order_by(
            Package.posted_at, Package.id
        )
    ).all()


# -- the yearly evaluation's fourth purpose ----------------------------------------------------


@dataclass
class YearEmergency:
    emergency: Emergency
    signals: int
    packages: int
    municipalities: int  # municipalities where a member marked a package shared locally
    call_ins: int


def year_summary(network: "Network", year: int) -> list[YearEmergency]:
    """The emergencies of ``network`` opened in ``year`` (Norwegian time), oldest first, each with
    its counted signals, packages, municipalities that shared a package and call-ins sent within
    it – one query (a correlated count per figure)."""
    since = datetime.combine(date(year, 1, 1), time(), OSLO)
    until = datetime.combine(date(year + 1, 1, 1), time(), OSLO)
    signals = (
        select(func.count())
        .select_from(Signal)
        .where(Signal.emergency_id == Emergency.id, Signal.duplicate_of_id.is_(None))
        .correlate(Emergency)
        .scalar_subquery()
    )
    posted = (
        select(func.count())
        .select_from(Package)
        .where(Package.emergency_id == Emergency.id)
        .correlate(Emergency)
        .scalar_subquery()
    )
    shared = (
        select(func.count(distinct(PackageShare.organisation_id)))
        .select_from(PackageShare)
        .join(Package, Package.id == PackageShare.package_id)
        .join(Organisation, Organisation.id == PackageShare.organisation_id)
        .where(Package.emergency_id == Emergency.id, Organisation.kind == OrganisationKind.MUNICIPALITY)
        .correlate(Emergency)
        .scalar_subquery()
    )
    call_ins = (
        select(func.count())
        .select_from(Meeting)
        .where(Meeting.emergency_id == Emergency.id)
        .correlate(Emergency)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Emergency, signals, posted, shared, call_ins)
        .join(emergency_networks, emergency_networks.c.emergency_id == Emergency.id)
        .where(
            emergency_networks.c.network_id == network.id,
            Emergency.opened_at >= since,
            Emergency.opened_at < until,
        )
        .order_by(Emergency.opened_at, Emergency.id)
    ).all()
    return [YearEmergency(e, s or 0, p or 0, m or 0, c or 0) for e, s, p, m, c in rows]
