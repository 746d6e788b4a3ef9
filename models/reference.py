"""Reference data: the networks, the official organisation lists, the observers.

``load()`` is idempotent: it adds what is missing, renames what the official source
renamed, deactivates municipalities and counties that are no longer listed, and
leaves everything else alone (a coordinator's edits to a hospital trust or an
observer stay).  Each loaded organisation keeps its ``reference_key``, so a reload
finds it whatever it is called now.  A second run changes nothing.
"""

import csv
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from extensions import db
from models.network import Network
from models.organisation import Organisation, OrganisationKind

if TYPE_CHECKING:
    from models.member import Member

DATA = Path(__file__).resolve().parent.parent / "data" / "reference"

NETWORKS = [
    {
        "code": "NIK",
        "name": "Norsk nettverk for innvandrerhelse i kommuner",
        "name_en": "Norwegian network for immigrant health in municipalities",
        "description": "For ansatte i kommuner og fylkeskommuner som arbeider med helse og "
        "levekår for innvandrere. Nettverket deler erfaring og kunnskap, styrker samarbeidet "
        "om migrasjonshelse og bidrar til god kommunikasjon med en mangfoldig befolkning i "
        "kriser.",
        "description_en": "For employees of municipalities and county municipalities working "
        "on the health and living conditions of immigrants. The network shares experience and "
        "knowledge, strengthens cooperation on migration health and helps communication with a "
        "diverse population in emergencies.",
    },
    {
        "code": "NIFS",
        "name": "Norsk nettverk for innvandrerhelse i ideell og frivillig sektor",
        "name_en": "Norwegian network for immigrant health in the non-profit and voluntary sector",
        "description": "For ideelle og frivillige organisasjoner som arbeider med innvandreres "
        "helse: erfaringsdeling, faglig påfyll og rask informasjonsutveksling.",
        "description_en": "For non-profit and voluntary organisations working on immigrants' "
        "health: sharing experience, professional updates and fast exchange of information.",
    },
    {
        "code": "NONEMI",
        "name": "Norsk nettverk for migrantvennlige sykehus",
        "name_en": "Norwegian network for migrant-friendly hospitals",
        "description": "For helseforetak og sykehus som vil gi likeverdige helsetjenester til "
        "pasienter med innvandrerbakgrunn.",
        "description_en": "For hospital trusts and hospitals that want to give equitable health "
        "services to patients with an immigrant background.",
    },
]

# The coordinators' own organisation.
OTHER: list[dict[str, str]] = [{"short_name": "Hdir", "name": "Helsedirektoratet"}]

OBSERVERS: list[dict[str, str]] = [
    {"short_name": "FHI", "name": "Folkehelseinstituttet"},
    {"short_name": "IMDi", "name": "Integrerings- og mangfoldsdirektoratet"},
]


def read_csv(name: str | Path) -> list[dict[str, str]]:
    """Rows of a reference CSV: a file name in ``data/reference`` or a path to a new list."""
    path = DATA / name if Path(name).name == name else Path(name)  # a bare name is one of ours
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    required = {"number", "name"}
    if rows and not required <= set(rows[0]):
        raise ValueError(f"{path}: the columns must include {', '.join(sorted(required))}")
    return [
        {k: v.strip() for k, v in row.items() if k in ("number", "name", "county_number")} for row in rows
    ]


def hospital_trusts() -> list[tuple[str, str | None]]:
    """(name, regional authority or None) pairs from ``helseforetak.txt``.

    Lines read ``<RHF>: <HF>; <HF>; …``; a label that is not an RHF (the jointly owned
    companies) gives trusts without a parent.  Parenthesised notes are dropped.
    """
    pairs: list[tuple[str, str | None]] = []
    for line in (DATA / "helseforetak.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        label, _, rest = line.partition(":")
        region = label.strip() if label.strip().endswith(" RHF") else None
        if region:
            pairs.append((region, None))
        for name in rest.split(";"):
            name = re.sub(r"\(.*?\)", "", name).strip()
            if name.endswith(" HF"):
                pairs.append((name, region))
    return pairs


def _label(org: Organisation) -> str:
    return f"{org.name} ({org.number})" if org.number else org.name


def _people(members: "Iterable[Member]") -> str:
    return ", ".join(f"{m.name} (#{m.id})" for m in sorted(members, key=lambda m: (m.name, m.id)))


class _Loader:
    def __init__(self) -> None:
        self.changes: Counter[str] = Counter()
        self.existing: dict[str | None, Organisation] = {
            o.reference_key: o
            for o in db.session.scalars(select(Organisation).where(Organisation.reference_key.is_not(None)))
        }
        self.first_load = not self.existing  # an empty register: no list of every organisation added
        # What the run does, by name, for ``details()``: the lines an operator reads before (a
        # dry run) and after a load.
        self.added: list[Organisation] = []
        self.renamed: list[tuple[str, Organisation]] = []
        self.reactivated: list[Organisation] = []
        self.deactivated: list[Organisation] = []
        self.merged: list[tuple[Organisation, Organisation, list[Member]]] = []

    def organisation(
        self, kind: OrganisationKind, key: str, official: bool = False, **values: Any
    ) -> Organisation:
        """Add the organisation if new; an official list also renames and reactivates."""
        reference_key = f"{kind}:{key}"
        org = self.existing.get(reference_key)
        if org is None:
            org = Organisation(kind=kind, reference_key=reference_key, **values)
            db.session.add(org)
            self.existing[reference_key] = org
            self.changes["added"] += 1
            self.added.append(org)
        elif official:
            if org.name != values["name"]:
                self.renamed.append((org.name, org))
                org.name = values["name"]
                self.changes["renamed"] += 1
            if not org.active:
                org.active = True
                self.changes["reactivated"] += 1
                self.reactivated.append(org)
        return org

    def merge(self, old_number: str, new_number: str) -> None:
        """Move the members of a merged-away municipality to its successor."""
        old = self.existing.get(f"{OrganisationKind.MUNICIPALITY}:{old_number}")
        new = self.existing.get(f"{OrganisationKind.MUNICIPALITY}:{new_number}")
        if old is None or new is None or not new.active:
            raise ValueError(f"cannot merge {old_number} into {new_number}: unknown or inactive municipality")
        db.session.flush()
        moving = list(old.members)
        for member in moving:
            member.move_to(new)
            self.changes["members moved"] += 1
        self.merged.append((old, new, moving))
        if old.active:
            old.deactivate()
            self.changes["deactivated"] += 1
            self.deactivated.append(old)

    def deactivate_unlisted(self, kind: OrganisationKind, listed: Iterable[str]) -> None:
        keys = {f"{kind}:{key}" for key in listed}
        for reference_key, org in self.existing.items():
            if org.kind == kind and reference_key not in keys and org.active:
                org.deactivate()
                self.changes["deactivated"] += 1
                self.deactivated.append(org)

    def details(self) -> tuple[list[str], list[str]]:
        """(lines, warnings): each organisation the run adds, renames, reactivates, deactivates or
        merges, and who moves, by name; a warning for each organisation deactivated with members
        still on it (no longer listed and not merged: they would stay on an organisation out of
        use).  Read after the merges, before the commit or the dry run's rollback."""
        db.session.flush()
        lines: list[str] = []
        if not self.first_load:
            lines += [f"Added: {org.kind.value.replace('_', ' ')} {_label(org)}" for org in self.added]
        lines += [f"Renamed: {before} → {_label(org)}" for before, org in self.renamed]
        lines += [f"Reactivated: {_label(org)}" for org in self.reactivated]
        merged = {old.id for old, _new, _members in self.merged}
        for old, new, members in self.merged:
            lines.append(
                f"Merged: {_label(old)} into {_label(new)}; "
                + (f"{len(members)} member(s) move: {_people(members)}" if members else "no members to move")
            )
        warnings: list[str] = []
        for org in self.deactivated:
            if org.id in merged:
                continue
            lines.append(f"Deactivated: {_label(org)} (no longer listed)")
            staying = _members_on(org)
            if staying:
                warnings.append(
                    f"Warning: {len(staying)} member(s) would stay on {_label(org)}, which is deactivated "
                    f"and merged into no other: {_people(staying)}. "
                    + (
                        f"To move them, give --merge {org.number}:<successor's number>."
                        if org.kind == OrganisationKind.MUNICIPALITY
                        else "--merge moves municipalities only: they stay on it."
                    )
                )
        return lines, warnings


def _members_on(org: Organisation) -> list["Member"]:
    """The members on ``org`` who still take part or may again (any membership not ended)."""
    from models.member import Member
    from models.membership import Membership, MembershipStatus

    return list(
        db.session.scalars(
            select(Member).where(
                Member.organisation_id == org.id,
                Member.memberships.any(
                    Membership.status.not_in((MembershipStatus.LEFT, MembershipStatus.DECLINED))
                ),
            )
        )
    )


def load(
    municipalities: str | Path = "kommuner.csv",
    counties: str | Path = "fylker.csv",
    merges: Mapping[str, str] | None = None,
    dry_run: bool = False,
    details: list[str] | None = None,
    warnings: list[str] | None = None,
) -> dict[str, int]:
    """Load or refresh the reference data; returns what changed (empty on a second run).

    ``municipalities`` and ``counties`` name the official lists (a new classification
    from Statistics Norway); ``merges`` maps a municipality number that is gone to its
    successor's: its members move there (main-contact roles do not move).  With
    ``dry_run`` nothing is kept: the changes are only counted.  ``details`` and ``warnings``,
    if given, are filled with what changes by name (``_Loader.details``): the organisations, the
    members a merger moves, and those left on a municipality being deactivated.
    """
    loader = _Loader()

    networks = {n.code for n in db.session.scalars(select(Network))}
    for values in NETWORKS:
        if values["code"] not in networks:
            db.session.add(Network(**values))
            loader.changes["added"] += 1

    # The official lists (Statistics Norway): columns number, name[, county_number].
    for kind, filename in (
        (OrganisationKind.COUNTY_MUNICIPALITY, counties),
        (OrganisationKind.MUNICIPALITY, municipalities),
    ):
        rows = read_csv(filename)
        for row in rows:
            loader.organisation(kind, row["number"], official=True, **row)
        loader.deactivate_unlisted(kind, {row["number"] for row in rows})

    for kind, listed in ((OrganisationKind.OBSERVER, OBSERVERS), (OrganisationKind.OTHER, OTHER)):
        for values in listed:
            loader.organisation(
                kind, values["short_name"], name=values["name"], short_name=values["short_name"]
            )

    for name, region in hospital_trusts():
        parent = loader.existing[f"{OrganisationKind.HOSPITAL_TRUST}:{region}"] if region else None
        loader.organisation(OrganisationKind.HOSPITAL_TRUST, name, name=name, parent=parent)

    for old, new in (merges or {}).items():
        loader.merge(old, new)

    if languages := load_languages():
        loader.changes["languages"] += languages

    if details is not None or warnings is not None:
        lines, warned = loader.details()
        (details if details is not None else []).extend(lines)
        (warnings if warnings is not None else []).extend(warned)

    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return dict(loader.changes)


def load_languages(filename: str | Path = "languages.csv") -> int:
    """The language groups signals and information packages name (``data/reference/languages.csv``:
    code, rank, and the name in bokmål, nynorsk and English): added or corrected; one no longer listed
    stays (signals may name it).  Returns how many rows changed."""
    from models.emergency import Language

    existing = {language.code: language for language in db.session.scalars(select(Language))}
    changed = 0
    path = DATA / filename if Path(filename).name == filename else Path(filename)
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [{k: v.strip() for k, v in row.items()} for row in csv.DictReader(f)]
    for row in rows:
        values = {
            "name_nb": row["name_nb"],
            "name_nn": row["name_nn"],
            "name_en": row["name_en"],
            "rank": int(row["rank"]) if row["rank"] else None,
        }
        language = existing.get(row["code"])
        if language is None:
            db.session.add(Language(code=row["code"], **values))
            changed += 1
        elif any(getattr(language, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(language, k, v)
            changed += 1
    return changed


def load_written_forms(path: str | Path, dry_run: bool = False) -> list[tuple[str, str, str]]:
    """Municipalities' and counties' målvedtak from a CSV (columns ``number`` – kommune- or
    fylkesnummer – and ``language_decision``: nynorsk, bokmål or nøytral; Språkrådet's list
    written out so).  Returns (name, before, after) for each change; running it twice
    changes nothing.  A number not in the register or a decision not understood stops the load
    before anything is kept, naming the lines."""
    from models.language import from_label

    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    if rows and not {"number", "language_decision"} <= set(rows[0]):
        raise ValueError(f"{path}: the columns must include language_decision, number")
    by_number = {
        (o.kind, o.number): o
        for o in db.session.scalars(
            select(Organisation).where(
                Organisation.kind.in_((OrganisationKind.MUNICIPALITY, OrganisationKind.COUNTY_MUNICIPALITY))
            )
        )
    }
    problems, wanted = [], []
    for line, row in enumerate(rows, start=2):
        number = (row.get("number") or "").strip()
        kind = OrganisationKind.MUNICIPALITY if len(number) == 4 else OrganisationKind.COUNTY_MUNICIPALITY
        organisation = by_number.get((kind, number))
        decision = from_label(row.get("language_decision") or "")
        if organisation is None:
            problems.append(f"line {line}: no municipality or county numbered {number!r}")
        elif decision is None:
            problems.append(
                f"line {line}: {row.get('language_decision')!r} is not nynorsk, bokmål or nøytral"
            )
        else:
            wanted.append((organisation, decision))
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    changes = [
        (organisation.display_name, str(organisation.language_decision.label), str(decision.label))
        for organisation, decision in wanted
        if organisation.language_decision is not decision
    ]
    if dry_run:
        db.session.rollback()
        return changes
    for organisation, decision in wanted:
        organisation.set_language_decision(decision)
    db.session.commit()
    return changes
