"""Information packages: material in many languages for an emergency (links per language to
Helsenorge, FHI, IMDi …), posted to the emergency's networks, mailed to their members in their own
written form; each member marks it *shared locally* (where, to whom), so the board shows, per county
and per language, how many municipalities it has reached – and which languages asked for in signals
have no material yet.
"""

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model
from models.emergency import Emergency, Language
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


def coverage(emergency: Emergency) -> dict[str, object]:
    """How far the emergency's packages have reached (for the board and the report): per county and
    per language, how many municipalities have shared them, and the languages asked for in signals
    that have no material yet.  (Being written: the packages helper fills this in.)"""
    return {}
