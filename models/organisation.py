"""Municipalities, county municipalities, observers and the other organisations members come from."""

import enum

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    distinct,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from extensions import db
from models.errors import DomainError
from models.types import string_enum


class OrganisationKind(enum.StrEnum):
    MUNICIPALITY = "municipality"
    COUNTY_MUNICIPALITY = "county_municipality"
    OBSERVER = "observer"
    VOLUNTARY_ORGANISATION = "voluntary_organisation"
    HOSPITAL_TRUST = "hospital_trust"
    OTHER = "other"

    @property
    def label(self):
        return KIND_LABELS[self]


KIND_LABELS = {
    OrganisationKind.MUNICIPALITY: _l("Municipality"),
    OrganisationKind.COUNTY_MUNICIPALITY: _l("County municipality"),
    OrganisationKind.OBSERVER: _l("Observer"),
    OrganisationKind.VOLUNTARY_ORGANISATION: _l("Voluntary organisation"),
    OrganisationKind.HOSPITAL_TRUST: _l("Hospital trust"),
    OrganisationKind.OTHER: _l("Other"),
}


def fold(text):
    """The form of a name that search compares: case-folded, spaces collapsed.

    SQLite's ``lower()`` and ``LIKE`` fold ASCII only ("Ø" stays "Ø"), so the folded
    name is kept in a column and searched the same way on both databases.
    """
    return " ".join(text.casefold().split())


class Organisation(db.Model):
    """An organisation in the register; merged-away municipalities are deactivated, never deleted."""

    __tablename__ = "organisations"
    __table_args__ = (
        UniqueConstraint("kind", "number"),
        CheckConstraint(
            "kind <> 'municipality' OR (length(number) = 4 AND substr(number, 1, 2) = county_number)",
            name="municipality_number",
        ),
        CheckConstraint(
            "kind <> 'county_municipality' OR length(number) = 2", name="county_number_format"
        ),
        CheckConstraint(
            "county_number IS NULL OR kind = 'municipality'", name="county_only_for_municipality"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[OrganisationKind] = mapped_column(string_enum(OrganisationKind, "organisation_kind", 30))
    # Kommunenummer (4 digits) or fylkesnummer (2 digits) where there is an official one.
    number: Mapped[str | None] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(String(200))
    name_folded: Mapped[str] = mapped_column(String(200), index=True)
    short_name: Mapped[str | None] = mapped_column(String(40))
    county_number: Mapped[str | None] = mapped_column(String(2))
    # A hospital trust's regional health authority.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Where a reference list put it ("municipality:4601", "hospital_trust:Helse Bergen HF"):
    # how a reload finds it again, whatever it has been renamed to locally.
    reference_key: Mapped[str | None] = mapped_column(String(250), unique=True)

    parent: Mapped["Organisation | None"] = relationship(remote_side=[id])
    members = relationship("Member", back_populates="organisation")

    def __repr__(self):
        return f"<Organisation {self.kind} {self.number or ''} {self.name}>"

    @validates("name")
    def _fold_name(self, key, value):
        value = " ".join(value.split())
        self.name_folded = fold(value)
        return value

    @property
    def display_name(self):
        return f"{self.name} ({self.short_name})" if self.short_name else self.name

    @property
    def county(self):
        """The county municipality a municipality lies in."""
        if self.county_number is None:
            return None
        return db.session.scalar(
            select(Organisation).filter_by(
                kind=OrganisationKind.COUNTY_MUNICIPALITY, number=self.county_number
            )
        )

    @property
    def can_have_main_contact(self):
        return self.kind != OrganisationKind.OBSERVER

    @property
    def is_reference_data(self):
        """Municipalities and counties change only through the official lists."""
        return self.kind in (OrganisationKind.MUNICIPALITY, OrganisationKind.COUNTY_MUNICIPALITY)

    def deactivate(self):
        """Take an organisation out of use (a merged municipality) while keeping its history."""
        self.active = False

    def deactivate_by_coordinator(self):
        """A coordinator retires an organisation; one with active members keeps going until
        they have moved or left, and reference data is not theirs to retire."""
        if self.is_reference_data:
            raise DomainError(_l("Municipalities and counties change only through the official lists."))
        if self.active_member_counts([self.id]).get(self.id):
            raise DomainError(_l("%(name)s still has active members. Move them or let them leave first.", name=self.name))
        self.active = False

    @classmethod
    def search(cls, text="", kind=None, include_inactive=False):
        """Organisations whose name contains ``text`` or whose number starts with it."""
        query = select(cls)
        text = fold(text or "")
        if text:
            query = query.where(
                or_(
                    cls.name_folded.contains(text, autoescape=True),
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
    def active_member_counts(organisation_ids):
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
