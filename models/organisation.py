"""Municipalities, county municipalities, observers and the other organisations members come from."""

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    distinct,
    false,
    func,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from extensions import Model, db
from models import audit, guard, search
from models.errors import DomainError
from models.language import LanguageDecision
from models.types import LabelledEnum, string_enum

if TYPE_CHECKING:
    from sqlalchemy import Select

    from models.member import Member

NAME_LENGTH = 200  # an organisation's name, and its folded form
# The rows ``uq_organisations_name`` keeps to one per (kind, folded name): all but the official lists'.
NAMED_ONCE = "kind NOT IN ('municipality', 'county_municipality')"


class OrganisationKind(LabelledEnum):
    MUNICIPALITY = "municipality", _l("Municipality")
    COUNTY_MUNICIPALITY = "county_municipality", _l("County municipality")
    OBSERVER = "observer", _l("Observer")
    VOLUNTARY_ORGANISATION = "voluntary_organisation", _l("Voluntary organisation")
    HOSPITAL_TRUST = "hospital_trust", _l("Hospital trust")
    OTHER = "other", _l("Other")


def fold(text: str) -> str:
    """The form of a name that tells names apart and orders them: case-folded, spaces collapsed
    ("Bærum" and "Baerum" are two names).  Search does not use it: it compares the looser
    ``models.search.key`` (kept in ``search_key``), which finds "Bærum" for "baerum".
    """
    return " ".join(text.casefold().split())


class Organisation(Model):
    """An organisation in the register; merged-away municipalities are deactivated, never deleted."""

    __tablename__ = "organisations"
    __table_args__ = (
        UniqueConstraint("kind", "number"),
        CheckConstraint(
            "kind <> 'municipality' OR (length(number) = 4 AND substr(number, 1, 2) = county_number)",
            name="municipality_number",
        ),
        CheckConstraint("kind <> 'county_municipality' OR length(number) = 2", name="county_number_format"),
        CheckConstraint(
            "county_number IS NULL OR kind = 'municipality'", name="county_only_for_municipality"
        ),
        # One organisation per name and kind – whether a coordinator added it or a reference list
        # did, active or deactivated – for every kind coordinators keep.  Municipalities and
        # counties are told apart by their number: Statistics Norway gives a municipality a new
        # number under the same name (Asker 3025 → 3203 in 2024), and the old row is kept,
        # deactivated, beside the new one.
        Index(
            "uq_organisations_name",
            "kind",
            "name_folded",
            unique=True,
            sqlite_where=text(NAMED_ONCE),
            postgresql_where=text(NAMED_ONCE),
        ),
        # Serves ``search.begins_a_word`` on PostgreSQL (trigrams); on SQLite a plain index.
        Index(
            "ix_organisations_search_key",
            "search_key",
            postgresql_using="gin",
            postgresql_ops={"search_key": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[OrganisationKind] = mapped_column(string_enum(OrganisationKind, "organisation_kind", 30))
    # Kommunenummer (4 digits) or fylkesnummer (2 digits) where there is an official one.
    number: Mapped[str | None] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    name_folded: Mapped[str] = mapped_column(String(NAME_LENGTH), index=True)
    # The name as search finds it (``models.search.key``).
    search_key: Mapped[str] = mapped_column(String(search.KEY_LENGTH), default="", server_default="")
    short_name: Mapped[str | None] = mapped_column(String(40))
    county_number: Mapped[str | None] = mapped_column(String(2))
    # A hospital trust's regional health authority.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Where a reference list put it ("municipality:4601", "hospital_trust:Helse Bergen HF"):
    # how a reload finds it again, whatever it has been renamed to locally.
    reference_key: Mapped[str | None] = mapped_column(String(250), unique=True)
    # Its målvedtak: the written form it has adopted, which the state writes to it (and to its
    # members who chose none) in.
    language_decision: Mapped[LanguageDecision] = mapped_column(
        string_enum(LanguageDecision, "language_decision", 10),
        default=LanguageDecision.NEUTRAL,
        server_default=LanguageDecision.NEUTRAL.value,
    )

    parent: Mapped["Organisation | None"] = relationship(remote_side=[id])
    members: Mapped[list["Member"]] = relationship("Member", back_populates="organisation")

    def __repr__(self) -> str:
        return f"<Organisation {self.kind} {self.number or ''} {self.name}>"

    @validates("name")
    def _fold_name(self, key: str, value: str) -> str:
        value = " ".join(value.split())
        self.name_folded = fold(value)
        self.search_key = search.key(value)
        return value

    @property
    def display_name(self) -> str:
        return f"{self.name} ({self.short_name})" if self.short_name else self.name

    @property
    def county(self) -> "Organisation | None":
        """The county municipality a municipality lies in."""
        if self.county_number is None:
            return None
        return db.session.scalar(
            select(Organisation).filter_by(
                kind=OrganisationKind.COUNTY_MUNICIPALITY, number=self.county_number
            )
        )

    @property
    def can_have_main_contact(self) -> bool:
        return self.kind != OrganisationKind.OBSERVER

    @property
    def is_reference_data(self) -> bool:
        """Municipalities and counties change only through the official lists."""
        return self.kind in (OrganisationKind.MUNICIPALITY, OrganisationKind.COUNTY_MUNICIPALITY)

    def deactivate(self) -> None:
        """Take an organisation out of use (a merged municipality) while keeping its history."""
        self.active = False

    # -- the part of the register coordinators keep (observers, voluntary organisations, hospital
    # trusts, others): each change one operation that locks the row and reads it afresh, audited
    # once; a repeat (a double click, two tabs) changes nothing and writes nothing.

    @classmethod
    def add_by_coordinator(
        cls, kind: OrganisationKind | str, name: str, short_name: str | None = None
    ) -> "Organisation":
        """A coordinator adds an organisation.  A name already in the register for that kind is
        refused, whoever added it and whether or not it is still in use (``uq_organisations_name``
        holds it when two add the same at once)."""
        organisation = cls(kind=OrganisationKind(kind), name=name, short_name=_blank_to_none(short_name))
        organisation._refuse_reference_data()
        organisation._refuse_taken_name(organisation.kind, organisation.name)
        _write_or_taken(organisation.kind, organisation.name, lambda: db.session.add(organisation))
        audit.record(
            "organisation.added",
            subject=f"organisation:{organisation.id}",
            after={"kind": organisation.kind.value, "name": organisation.name},
        )
        return organisation

    def edit_by_coordinator(
        self, kind: OrganisationKind | str, name: str, short_name: str | None = None
    ) -> bool:
        """A coordinator corrects kind, name or short name; True if anything changed."""
        guard.lock(self)
        self._refuse_reference_data()
        before = {"kind": self.kind.value, "name": self.name, "short_name": self.short_name}
        new_name, new_short_name = " ".join(name.split()), _blank_to_none(short_name)
        after = {"kind": OrganisationKind(kind).value, "name": new_name, "short_name": new_short_name}
        if after == before:
            return False
        new_kind = OrganisationKind(kind)
        if new_kind in (OrganisationKind.MUNICIPALITY, OrganisationKind.COUNTY_MUNICIPALITY):
            raise DomainError(_l("Municipalities and counties change only through the official lists."))
        self._refuse_taken_name(new_kind, new_name)

        def change() -> None:
            self.kind, self.name, self.short_name = new_kind, new_name, new_short_name

        _write_or_taken(new_kind, new_name, change)
        audit.record("organisation.edited", subject=f"organisation:{self.id}", before=before, after=after)
        return True

    def set_language_decision(self, decision: LanguageDecision | str) -> bool:
        """A coordinator (or the målvedtak list) records the organisation's written form; True if
        it changed.  Reference data too: a municipality's målvedtak is its own decision, not
        Statistics Norway's.  The row is taken first: the same form sent twice writes once."""
        decision = LanguageDecision(decision)
        guard.lock(self)
        if self.language_decision is decision:
            return False
        before = {"language_decision": self.language_decision.value}
        self.language_decision = decision
        audit.record(
            "organisation.language_decided",
            subject=f"organisation:{self.id}",
            before=before,
            after={"language_decision": decision.value},
        )
        return True

    @property
    def may_deactivate(self) -> bool:
        """Can a coordinator take it out of use now (the page's question; the rule is
        ``_deactivation_refusal``, also checked for active members when it is done)?"""
        return self.active and not self.is_reference_data

    @property
    def may_reactivate(self) -> bool:
        return not self.active and not self.is_reference_data

    def deactivate_by_coordinator(self) -> bool:
        """A coordinator retires an organisation; one with active members keeps going until
        they have moved or left, and reference data is not theirs to retire.  True if it was
        active (a second press changes nothing)."""
        guard.lock(self)
        self._refuse_reference_data()
        if not self.active:
            return False
        if self.active_member_counts([self.id]).get(self.id):
            raise DomainError(
                _l("%(name)s still has active members. Move them or let them leave first.", name=self.name)
            )
        self.active = False
        audit.record("organisation.deactivated", subject=f"organisation:{self.id}", after={"active": False})
        return True

    def reactivate_by_coordinator(self) -> bool:
        """A coordinator takes a retired organisation into use again; True if it was retired."""
        guard.lock(self)
        self._refuse_reference_data()
        if self.active:
            return False
        self.active = True
        audit.record("organisation.reactivated", subject=f"organisation:{self.id}", after={"active": True})
        return True

    def _refuse_reference_data(self) -> None:
        if self.is_reference_data:
            raise DomainError(_l("Municipalities and counties change only through the official lists."))

    def _refuse_taken_name(self, kind: OrganisationKind, name: str) -> None:
        """Refused if another organisation of ``kind`` is called ``name`` (folded), whoever added
        it and whether or not it is still in use."""
        taken = _named(kind, name, other_than=self.id)
        if taken is not None:
            raise _taken(taken)

    @classmethod
    def search(
        cls, text: str | None = "", kind: OrganisationKind | str | None = None, include_inactive: bool = False
    ) -> "Select[Organisation]":
        """Organisations whose name has every word of ``text`` at the start of one of its words
        (``models.search``: "baerum" finds Bærum, "karasjohka" Kárášjohka - Karasjok), whose
        number starts with ``text`` or whose short name is ``text``."""
        query = select(cls)
        text = fold(text or "")
        if len(text) > NAME_LENGTH:  # no name is that long: no question to the database (SQLite refuses
            return query.where(false())  # a LIKE pattern over 50,000 bytes, and the page answered 503)
        if text:
            query = query.where(
                or_(
                    search.matches(cls.search_key, search.terms(text) or []),
                    cls.number.startswith(text, autoescape=True),
                    func.lower(cls.short_name) == text,
                )
            )
        if kind:
            query = query.where(cls.kind == kind)
        if not include_inactive:
            query = query.where(cls.active)
        return query.order_by(cls.name_folded, cls.number)

    @staticmethod
    def active_member_counts(organisation_ids: Iterable[int]) -> dict[int, int]:
        """{organisation id: number of people with an active membership}, in one query."""
        from models.membership import Membership, MembershipStatus

        rows = db.session.execute(
            select(Membership.organisation_id, func.count(distinct(Membership.member_id)))
            .where(
                Membership.status == MembershipStatus.ACTIVE,
                Membership.organisation_id.in_(list(organisation_ids)),
            )
            .group_by(Membership.organisation_id)
        )
        return dict(rows.all())


def _blank_to_none(text: str | None) -> str | None:
    return " ".join((text or "").split()) or None


def _taken(organisation: Organisation) -> DomainError:
    return DomainError(
        _l(
            "%(name)s is already in the register (%(kind)s%(inactive)s).",
            name=organisation.name,
            kind=organisation.kind.label,
            inactive=_l(", deactivated") if not organisation.active else "",
        )
    )


def _named(kind: OrganisationKind, name: str, other_than: int | None = None) -> Organisation | None:
    with db.session.no_autoflush:
        return db.session.scalar(
            select(Organisation).where(
                Organisation.kind == kind,
                Organisation.name_folded == fold(name),
                Organisation.id != other_than if other_than else true(),
            )
        )


def _write_or_taken(kind: OrganisationKind, name: str, change: Callable[[], None]) -> None:
    """Make ``change`` and write it in a savepoint of its own (the changes are made inside it, so
    that opening it flushes nothing of them); if another coordinator wrote the same name a moment
    ago (``uq_organisations_name`` refuses it), the same refusal as when it was there before."""
    try:
        with db.session.begin_nested():
            change()
            db.session.flush()
    except IntegrityError:
        taken = _named(kind, name)
        raise (
            _taken(taken) if taken is not None else DomainError(_l("Someone else got there first"))
        ) from None
