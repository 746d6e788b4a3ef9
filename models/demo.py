"""Demo and scale data: ``flask demo seed --members 10000 --years 5``.

Realistic fake people (Faker's Norwegian locale, ``no_NO``; Faker has no ``nb_NO``) in the
members' own organisations, memberships in all three networks, main contacts, meetings within
the quotas with sign-ups and attendance, newsletters, and a yearly review per network and past
year with answers.  Everything is written set-wise (one batched INSERT per table), seeded from
the size, so the same size gives the same data, and seeding again changes nothing.

Every demo account has the password ``DEMO_PASSWORD``; ``koordinator@demo.example`` coordinates
all three networks.
"""

import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from faker import Faker
from sqlalchemy import Table, func, insert, select, text, update
from werkzeug.security import generate_password_hash

from extensions import db
from models import audit, search
from models.anchoring import Anchoring
from models.language import LanguageDecision
from models.meeting import OSLO, Meeting, MeetingKind, meeting_networks
from models.member import Member
from models.membership import Membership
from models.network import Network
from models.newsletter import Newsletter, newsletter_networks
from models.organisation import Organisation, OrganisationKind, fold
from models.quota import QuotaCounter
from models.review import PURPOSES, ReviewCycle, ReviewResponse, store_results
from models.role import CoordinatorRole
from models.signup import Signup
from models.types import utcnow

DEMO_PASSWORD = "demo demo demo demo"
COORDINATOR = "koordinator@demo.example"
MARK = "demo.seeded"

UNITS = [
    "Helsestasjonen",
    "Flyktningtjenesten",
    "Legevakten",
    "Smittevernkontoret",
    "Kommuneoverlegen",
    "NAV-kontoret",
    "Voksenopplæringen",
    "Psykisk helse og rus",
    "Barneverntjenesten",
    "Folkehelsekoordinator",
    "Tolketjenesten",
    "Fastlegekontoret",
    "Introduksjonsprogrammet",
    "Skolehelsetjenesten",
]
JOBS = [
    "Helsesykepleier",
    "Kommuneoverlege",
    "Rådgiver",
    "Seniorrådgiver",
    "Fagleder",
    "Sykepleier",
    "Lege",
    "Flyktningkonsulent",
    "Folkehelsekoordinator",
    "Avdelingsleder",
    "Psykolog",
    "Jordmor",
]
VOLUNTARY = [
    "Røde Kors",
    "Redd Barna",
    "Kirkens Bymisjon",
    "Norsk Folkehjelp",
    "Caritas Norge",
    "MiRA-senteret",
    "Helsesenteret for papirløse migranter",
    "Selvhjelp for innvandrere og flyktninger",
    "Fargerike Norge",
    "LHL Internasjonal",
    "Primærmedisinsk verksted",
    "Norsk organisasjon for asylsøkere",
]
TOPICS = [
    "Tolk i helsetjenesten",
    "Vaksinasjon og tillit",
    "Psykisk helse hos flyktninger",
    "Smittevern i mottak",
    "Helsekompetanse",
    "Arbeidsinnvandreres helse",
    "Barn og unge på flukt",
    "Beredskap og kommunikasjon",
    "Kvinnehelse",
    "Kronisk sykdom",
    "Tuberkulose",
    "Rusforebygging",
]


def _ascii(text: str) -> str:
    """Letters, digits and single hyphens, for addresses: "Våler (Innlandet)" → "valer-innlandet"."""
    text = fold(text).replace("æ", "ae").replace("ø", "o").replace("å", "a")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join(re.findall(r"[a-z0-9]+", text))


def existing() -> dict[str, Any] | None:
    """The size of the demo already in the database, or None."""
    entry = db.session.scalar(select(audit.AuditEntry).where(audit.AuditEntry.action == MARK))
    return entry.after if entry else None


NYNORSK_MUNICIPALITIES = ("Volda", "Ørsta", "Voss", "Ulstein", "Stord", "Sogndal")


def seed(members: int = 1000, years: int = 5, today: date | None = None) -> dict[str, int]:
    """Fill the database with ``members`` demo members and ``years`` years of history; returns what it made.

    Refuses (ValueError) if a demo of another size is there; does nothing if this size is.
    """
    size = {"members": members, "years": years}
    there = existing()
    if there == size:
        return {}
    if there is not None:
        raise ValueError(
            f"the database holds a demo of {there['members']} members and {there['years']} years; "
            "seed another size into an empty database"
        )
    today = today or utcnow().astimezone(OSLO).date()
    rng = random.Random(members * 1000 + years)
    fake = Faker("no_NO")
    fake.seed_instance(members * 1000 + years)
    now = utcnow()
    networks = {n.code: n for n in db.session.scalars(select(Network))}
    db.session.execute(  # municipalities known to have chosen nynorsk (their målvedtak)
        update(Organisation)
        .where(
            Organisation.kind == OrganisationKind.MUNICIPALITY, Organisation.name.in_(NYNORSK_MUNICIPALITIES)
        )
        .values(language_decision=LanguageDecision.NYNORSK)
    )
    places = _places(rng)
    password = generate_password_hash(DEMO_PASSWORD)

    people: list[dict[str, Any]] = []  # a row of members each, and the networks it joins
    used: set[str] = set()
    for i in range(members):
        first, last = fake.first_name(), fake.last_name()
        organisation, codes = places(i)
        domain = _ascii(organisation.short_name or organisation.name) + ".example"
        local = f"{_ascii(first)}.{_ascii(last)}"
        email = f"{local}@{domain}"
        n = 2
        while email in used:
            email, n = f"{local}{n}@{domain}", n + 1
        used.add(email)
        people.append(
            {
                "name": f"{first} {last}",
                "name_folded": fold(f"{first} {last}"),
                "search_key": search.key(f"{first} {last}"),
                "email": email,
                "organisation_id": organisation.id,
                "phone": fake.phone_number(),
                "unit": rng.choice(UNITS),
                "job_title": rng.choice(JOBS),
                "manager_name": fake.name(),
                "manager_email": f"leder.{i}@{domain}",
                "password_hash": password,
                "auth_version": 1,
                "created_at": now - timedelta(days=rng.randrange(30, 365 * years)),
                "email_verified_at": now,
                "consented_at": now,
                "directory_hidden": rng.random() < 0.03,
                # Most leave it to their organisation; some chose nynorsk, a few English.
                "language": rng.choices((None, "nn", "nb", "en"), weights=(80, 10, 6, 4))[0],
            }
        )
        people[-1]["_codes"] = codes
    db.session.execute(insert(Member), [{k: v for k, v in p.items() if k != "_codes"} for p in people])
    ids = dict(
        db.session.execute(
            select(Member.email, Member.id).where(Member.email.in_([p["email"] for p in people]))
        ).all()
    )

    # Anchorings (confirmed by the manager), memberships: mostly active, a few on their way in or out.
    db.session.execute(
        insert(Anchoring),
        [
            {
                "member_id": ids[p["email"]],
                "manager_name": p["manager_name"],
                "manager_email": p["manager_email"],
                "status": "confirmed",
                "requested_at": p["created_at"],
                "decided_at": p["created_at"] + timedelta(days=2),
                "decided_by_name": p["manager_name"],
                "decided_by_email": p["manager_email"],
                "method": "manager_link",
            }
            for p in people
        ],
    )
    anchoring = dict(
        db.session.execute(
            select(Anchoring.member_id, Anchoring.id).where(Anchoring.member_id.in_(ids.values()))
        ).all()
    )
    rows: list[dict[str, Any]] = []
    for p in people:
        member_id = ids[p["email"]]
        for code in p["_codes"]:
            roll = rng.random()
            status = (
                "active"
                if roll < 0.9
                else "pending_anchoring"
                if roll < 0.94
                else "lapsed"
                if roll < 0.97
                else "left"
            )
            rows.append(
                {
                    "member_id": member_id,
                    "organisation_id": p["organisation_id"],
                    "network_id": networks[code].id,
                    "_status": status,
                    "is_main_contact": False,
                    "created_at": p["created_at"],
                    "status_changed_at": p["created_at"],
                    "activated_at": p["created_at"] if status != "pending_anchoring" else None,
                    "ended_at": now if status in ("lapsed", "left") else None,
                    "anchoring_id": anchoring[member_id] if status != "pending_anchoring" else None,
                }
            )
    db.session.execute(insert(Membership), rows)

    # Main contacts: in most municipalities and counties, the first active member of each network.
    contacts, seen = [], set()
    for membership_id, organisation_id, network_id in db.session.execute(
        select(Membership.id, Membership.organisation_id, Membership.network_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(
            Membership.status == "active",
            Membership.member_id.in_(ids.values()),
            Organisation.kind.in_([OrganisationKind.MUNICIPALITY, OrganisationKind.COUNTY_MUNICIPALITY]),
        )
        .order_by(Membership.id)
    ):
        if (organisation_id, network_id) not in seen:
            seen.add((organisation_id, network_id))
            if rng.random() < 0.85:
                contacts.append(membership_id)
    if contacts:
        db.session.execute(
            cast(Table, Membership.__table__)
            .update()
            .where(Membership.id.in_(contacts))
            .values(is_main_contact=True)
        )

    coordinator = _coordinator(networks, password, now)
    active = {
        code: db.session.scalars(
            select(Membership.member_id)
            .where(Membership.network_id == n.id, Membership.status == "active")
            .order_by(Membership.member_id)
        ).all()
        for code, n in networks.items()
    }
    meetings = _meetings(rng, networks, active, coordinator, today, years, now)
    issues = _newsletters(rng, networks, active, coordinator, today, years)
    cycles = _reviews(rng, networks, active, coordinator, today, years, fake)
    signals = _emergency(rng, networks, active, coordinator, now, members // 2)
    audit.record(MARK, subject="demo", after=size)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # Fresh statistics after a bulk load: without them the planner takes "active" for a rare
        # status and nests loops over 10,000 rows (the directory's count took 98 ms, now 16).
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    return {
        "members": members,
        "memberships": len(rows),
        "main_contacts": len(contacts),
        "meetings": meetings,
        "newsletters": issues,
        "review_cycles": cycles,
        "signals": signals,
    }


def _places(rng: random.Random) -> Callable[[int], tuple[Organisation, tuple[str, ...]]]:
    """A function giving the i-th demo member an organisation and networks, the way the networks are made up."""
    by_kind = {
        kind: db.session.scalars(
            select(Organisation)
            .where(Organisation.kind == kind, Organisation.active)
            .order_by(Organisation.id)
        ).all()
        for kind in OrganisationKind
    }
    if not by_kind[OrganisationKind.VOLUNTARY_ORGANISATION]:
        db.session.add_all(
            Organisation(kind=OrganisationKind.VOLUNTARY_ORGANISATION, name=name) for name in VOLUNTARY
        )
        db.session.flush()
        by_kind[OrganisationKind.VOLUNTARY_ORGANISATION] = db.session.scalars(
            select(Organisation)
            .where(Organisation.kind == OrganisationKind.VOLUNTARY_ORGANISATION)
            .order_by(Organisation.id)
        ).all()

    def place(i: int) -> tuple[Organisation, tuple[str, ...]]:
        roll = rng.random()
        if roll < 0.72:
            return rng.choice(by_kind[OrganisationKind.MUNICIPALITY]), ("NIK",)
        if roll < 0.78:
            return rng.choice(by_kind[OrganisationKind.COUNTY_MUNICIPALITY]), ("NIK",)
        if roll < 0.87:
            return rng.choice(by_kind[OrganisationKind.VOLUNTARY_ORGANISATION]), ("NIFS",)
        if roll < 0.995:
            return rng.choice(by_kind[OrganisationKind.HOSPITAL_TRUST]), ("NONEMI",)
        return rng.choice(by_kind[OrganisationKind.OBSERVER]), rng.choice(
            (("NIK", "NIFS"), ("NIK", "NIFS", "NONEMI"))
        )

    return place


def _coordinator(networks: dict[str, Network], password: str, now: datetime) -> Member:
    hdir = db.session.scalar(select(Organisation).where(Organisation.short_name == "Hdir"))
    member = Member(
        name="Kari Koordinator",
        email=COORDINATOR,
        organisation=hdir,
        password_hash=password,
        auth_version=1,
        email_verified_at=now,
        consented_at=now,
    )
    db.session.add(member)
    db.session.flush()
    db.session.execute(
        insert(CoordinatorRole), [{"member_id": member.id, "network_id": n.id} for n in networks.values()]
    )
    return member


def _meetings(
    rng: random.Random,
    networks: dict[str, Network],
    active: dict[str, Sequence[int]],
    coordinator: Member,
    today: date,
    years: int,
    now: datetime,
) -> int:
    """Each year: the network meetings and the professional meetings the quotas allow, in spring and
    autumn; the past ones held, with sign-ups and attendance.  The next professional meeting of NIK
    has 200 sign-ups or more (the benchmark's meeting page)."""
    count = 0
    rows: list[dict[str, Any]] = []
    signups: list[dict[str, Any]] = []
    counters: list[dict[str, Any]] = []
    for year in range(today.year - years + 1, today.year + 1):
        for code, network in networks.items():
            plan = [(MeetingKind.NETWORK, month) for month in (4, 10)][: network.network_meetings_per_year]
            plan += [(MeetingKind.PROFESSIONAL, month) for month in (2, 5, 9, 11)][
                : network.professional_meetings_max
            ]
            counters += [
                {
                    "network_id": network.id,
                    "year": year,
                    "kind": MeetingKind.NETWORK,
                    "used": network.network_meetings_per_year,
                    "quota": network.network_meetings_per_year,
                },
                {
                    "network_id": network.id,
                    "year": year,
                    "kind": MeetingKind.PROFESSIONAL,
                    "used": network.professional_meetings_max,
                    "quota": network.professional_meetings_max,
                },
            ]
            for kind, month in plan:
                day = date(year, month, 10 + rng.randrange(15))
                starts = datetime.combine(day, time(10, 0), tzinfo=OSLO).astimezone(UTC)
                topic = rng.choice(TOPICS)
                title = (
                    f"Nettverksmøte {code} {'våren' if month < 7 else 'høsten'} {year}"
                    if kind == MeetingKind.NETWORK
                    else f"Fagmøte: {topic}"
                )
                rows.append(
                    {
                        "kind": kind,
                        "title": title,
                        "topic": topic,
                        "description": f"{topic} – erfaringer og ny kunnskap.",
                        "starts_at": starts,
                        "ends_at": starts + timedelta(hours=3),
                        "year": year,
                        "format": "digital" if kind == MeetingKind.PROFESSIONAL else "hybrid",
                        "online_link": "https://teams.microsoft.com/l/meetup-join/demo",
                        "place": "Helsedirektoratet, Oslo" if kind == MeetingKind.NETWORK else None,
                        "status": "held" if starts < now else "planned",
                        "sequence": 0,
                        "created_at": now,
                        "created_by_id": coordinator.id,
                        "_network": network.id,
                        "_code": code,
                    }
                )
    db.session.execute(insert(QuotaCounter), counters)
    db.session.execute(insert(Meeting), [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
    made = db.session.execute(
        select(Meeting.id, Meeting.title, Meeting.starts_at).order_by(Meeting.id)
    ).all()[-len(rows) :]
    db.session.execute(
        insert(meeting_networks),
        [{"meeting_id": m.id, "network_id": r["_network"]} for m, r in zip(made, rows, strict=True)],
    )
    next_nik = min(
        (
            m
            for m, r in zip(made, rows, strict=True)
            if r["_code"] == "NIK" and r["status"] == "planned" and r["kind"] == MeetingKind.PROFESSIONAL
        ),
        key=lambda m: m.starts_at,
        default=None,
    )
    for m, r in zip(made, rows, strict=True):
        people = active[r["_code"]]
        share = (
            min(len(people), max(200, len(people) // 20))
            if next_nik is not None and m.id == next_nik.id
            else min(len(people), rng.randrange(10, 80))
        )
        for member_id in rng.sample(people, share):
            signups.append(
                {
                    "meeting_id": m.id,
                    "member_id": member_id,
                    "created_at": now,
                    "attended": (rng.random() < 0.8) if r["status"] == "held" else None,
                }
            )
        count += 1
    if signups:
        db.session.execute(insert(Signup), signups)
    return count


def _newsletters(
    rng: random.Random,
    networks: dict[str, Network],
    active: dict[str, Sequence[int]],
    coordinator: Member,
    today: date,
    years: int,
) -> int:
    rows = []
    for year in range(today.year - years + 1, today.year + 1):
        for month in (1, 3, 5, 6, 9, 11):
            sent = datetime(year, month, 15, 9, 0, tzinfo=UTC)
            if sent.date() > today:
                continue
            codes = rng.choice((("NIK",), ("NIFS",), ("NONEMI",), ("NIK", "NIFS", "NONEMI")))
            rows.append(
                (
                    {
                        "title": f"Nytt fra migrasjonshelsenettverkene – {sent:%m/%Y}",
                        "body": f"## {rng.choice(TOPICS)}\n\nNy kunnskap og nye kurs.\n\n## {rng.choice(TOPICS)}\n\n"
                        "Les mer på helsedirektoratet.no.",
                        "created_at": sent - timedelta(days=3),
                        "created_by_id": coordinator.id,
                        "sent_at": sent,
                        "sent_by_id": coordinator.id,
                        "recipient_count": len(set().union(*(active[c] for c in codes))),
                    },
                    codes,
                )
            )
    db.session.execute(insert(Newsletter), [r for r, _ in rows])
    made = db.session.scalars(select(Newsletter.id).order_by(Newsletter.id)).all()[-len(rows) :]
    db.session.execute(
        insert(newsletter_networks),
        [
            {"newsletter_id": i, "network_id": networks[c].id}
            for i, (_, codes) in zip(made, rows, strict=True)
            for c in codes
        ],
    )
    return len(rows)


def _reviews(
    rng: random.Random,
    networks: dict[str, Network],
    active: dict[str, Sequence[int]],
    coordinator: Member,
    today: date,
    years: int,
    fake: Faker,
) -> int:
    """A closed review for each network and past year; the members answered, most of them staying."""
    count = 0
    for year in range(today.year - years + 1, today.year):
        for code, network in networks.items():
            opened = datetime(year, 10, 1, 8, 0, tzinfo=UTC)
            cycle = ReviewCycle(
                network_id=network.id,
                year=year,
                status="closed",
                opened_at=opened,
                remind_at=opened + timedelta(days=14),
                deadline=opened + timedelta(days=21),
                reminded_at=opened + timedelta(days=14),
                closed_at=opened + timedelta(days=22),
                opened_by_id=coordinator.id,
            )
            db.session.add(cycle)
            db.session.flush()
            responses = []
            for member_id in active[code]:
                answered = rng.random() < 0.92
                row = {
                    "cycle_id": cycle.id,
                    "member_id": member_id,
                    "asked_at": opened,
                    "answered_at": opened + timedelta(days=rng.randrange(20)) if answered else None,
                    "decision": "stay" if answered else None,
                }
                for key, _label in PURPOSES:
                    row[f"score_{key}"] = rng.choice((3, 4, 4, 5, 5)) if answered else None
                    row[f"comment_{key}"] = fake.sentence() if answered and rng.random() < 0.05 else None
                responses.append(row)
            if responses:
                db.session.execute(insert(ReviewResponse), responses)
            store_results(cycle, cycle.closed_at)  # as the close keeps them
            count += 1
    return count


SIGNAL_TEXTS = [
    "Rykte i gruppen på sosiale medier om at vaksinen gjør folk sterile.",
    "Mange spør hvor de kan teste seg uten fastlege.",
    "Trenger tolk på helsestasjonen torsdag; ingen tilgjengelig.",
    "Informasjonen på kommunens nettside finnes bare på norsk og engelsk.",
    "Moskeen har startet en infomøteserie etter fredagsbønnen – fungerer godt.",
    "Foreldre er usikre på om barna kan gå i barnehagen.",
    "Folk vet ikke at testing er gratis.",
    "Frivilligsentralen deler ut oversatte plakater; ber om flere språk.",
    "Det sirkulerer en falsk lydfil om portforbud.",
    "Eldre uten smarttelefon får ikke timebestilling.",
]
# The language groups the signals name, weighted: the common ones most often.
SIGNAL_LANGUAGES = {
    "ar": 8,
    "so": 6,
    "ti": 5,
    "uk": 7,
    "pl": 6,
    "prs": 4,
    "ur": 3,
    "ckb": 2,
    "en": 2,
    "th": 1,
}


def _emergency(
    rng: random.Random,
    networks: dict[str, Network],
    active: dict[str, Sequence[int]],
    coordinator: Member,
    now: datetime,
    count: int,
) -> int:
    """An open emergency for NIK with ``count`` signals from its active members over the last three
    days (some followed up, a few merged as duplicates), and an information package some
    municipalities have shared; returns how many signals."""
    from models.emergency import Emergency, emergency_networks
    from models.package import Package, PackageLink, PackageShare
    from models.signal import Signal, SignalKind, SignalStatus, Urgency, signal_languages

    reporters = list(active["NIK"])
    if not reporters or not count:
        return 0
    emergency = Emergency(
        title="Meslingutbrudd",
        description="Utbrudd av meslinger i flere kommuner; behov for informasjon på mange språk.",
        opened_at=now - timedelta(days=3),
        opened_by_id=coordinator.id,
    )
    db.session.add(emergency)
    db.session.flush()
    db.session.execute(
        insert(emergency_networks), [{"emergency_id": emergency.id, "network_id": networks["NIK"].id}]
    )
    places = dict(
        db.session.execute(
            select(Member.id, Organisation.id)
            .join(Organisation, Organisation.id == Member.organisation_id)
            .where(Member.id.in_(reporters), Organisation.kind == OrganisationKind.MUNICIPALITY)
        ).all()
    )
    municipalities = sorted(set(places.values()))
    codes, weights = list(SIGNAL_LANGUAGES), list(SIGNAL_LANGUAGES.values())
    rows = []
    for _ in range(count):
        reporter = rng.choice(reporters)
        status = rng.choices(list(SignalStatus), weights=(50, 25, 15, 10))[0]
        created = now - timedelta(minutes=rng.randrange(3 * 24 * 60))
        rows.append(
            {
                "emergency_id": emergency.id,
                "reporter_id": reporter,
                "organisation_id": places.get(reporter)
                or (rng.choice(municipalities) if municipalities else None),
                "kind": rng.choice(list(SignalKind)).value,
                "urgency": rng.choices(list(Urgency), weights=(2, 5, 3))[0].value,
                "text": rng.choice(SIGNAL_TEXTS),
                "status": status.value,
                "note": "Sendt videre til kommunelegen." if status == SignalStatus.PASSED_ON else None,
                "created_at": created,
                "handled_at": None if status == SignalStatus.NEW else created + timedelta(hours=1),
                "handled_by_id": None if status == SignalStatus.NEW else coordinator.id,
            }
        )
    db.session.execute(insert(Signal), rows)
    ids = db.session.scalars(
        select(Signal.id).where(Signal.emergency_id == emergency.id).order_by(Signal.id)
    ).all()
    db.session.execute(
        insert(signal_languages),
        [
            {"signal_id": signal_id, "language_code": code}
            for signal_id in ids
            for code in set(rng.choices(codes, weights=weights, k=rng.choice((1, 1, 1, 2))))
        ],
    )
    duplicates = ids[1 : len(ids) // 50 + 1]  # about one in fifty repeats the first signal
    if duplicates:
        db.session.execute(update(Signal).where(Signal.id.in_(duplicates)).values(duplicate_of_id=ids[0]))
    package = Package(
        emergency_id=emergency.id,
        title="Informasjon om meslinger og vaksine",
        purpose="Til kommunenes helsestasjoner, flyktningtjenester og frivillige organisasjoner.",
        posted_by_id=coordinator.id,
        posted_at=now - timedelta(days=2),
    )
    package.links = [
        PackageLink(
            url=f"https://www.helsenorge.no/{code}/meslinger/", language_code=code, source="Helsenorge"
        )
        for code in ("ar", "so", "ti", "uk", "pl")
    ]
    db.session.add(package)
    db.session.flush()
    sharers = {}
    for member_id, organisation_id in places.items():
        if organisation_id not in sharers and rng.random() < 0.1:
            sharers[organisation_id] = member_id
    if sharers:
        db.session.execute(
            insert(PackageShare),
            [
                {
                    "package_id": package.id,
                    "member_id": member_id,
                    "organisation_id": organisation_id,
                    "note": "Delt med flyktningtjenesten",
                    "shared_at": now - timedelta(days=1),
                }
                for organisation_id, member_id in sharers.items()
            ],
        )
    return count


def key_pages() -> dict[str, tuple[str, dict[str, str]]]:
    """The pages the benchmark loads and whose statements are counted, on the demo data:
    {name: (path, extra headers)}, all for the demo coordinator."""
    nik = db.session.scalar(select(Network).filter_by(code="NIK"))
    assert nik is not None, "seed the demo first"
    busiest = db.session.scalar(  # the municipality with most active NIK members
        select(Membership.organisation_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(
            Membership.network_id == nik.id,
            Membership.status == "active",
            Organisation.kind == OrganisationKind.MUNICIPALITY,
        )
        .group_by(Membership.organisation_id)
        .order_by(func.count().desc(), Membership.organisation_id)
        .limit(1)
    )
    meeting = db.session.scalar(
        select(Signup.meeting_id)
        .group_by(Signup.meeting_id)
        .order_by(func.count().desc(), Signup.meeting_id)
        .limit(1)
    )
    cycle = db.session.scalar(
        select(ReviewCycle.id)
        .where(ReviewCycle.network_id == nik.id)
        .order_by(ReviewCycle.year.desc())
        .limit(1)
    )
    year = db.session.scalar(select(func.max(Meeting.year)))
    from models.emergency import Emergency

    emergency = db.session.scalar(  # the demo's open emergency ("Meslingutbrudd", members // 2 signals)
        select(Emergency.id).where(Emergency.closed_at.is_(None)).order_by(Emergency.id).limit(1)
    )
    fragment = {"HX-Request": "true", "HX-Target": "directory-results"}
    return {
        "directory": ("/directory/?q=an", {}),
        "directory fragment": ("/directory/?q=an", fragment),
        "municipality": (f"/municipality/{busiest}", {}),
        "year plan": (f"/meetings/plan/NIK/{year}", {}),
        "meeting (most sign-ups)": (f"/meetings/{meeting}", {}),
        "coordinator overview": ("/coordinator/overview?network=NIK", {}),
        "review results": (f"/reviews/cycle/{cycle}", {}),
        "situation board": (f"/emergencies/{emergency}/board", {}),
        # what the board's polling asks for (board.html: hx-target="this" on #board-live)
        "situation board fragment": (
            f"/emergencies/{emergency}/board",
            {"HX-Request": "true", "HX-Target": "board-live"},
        ),
    }
