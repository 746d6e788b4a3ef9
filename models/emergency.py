"""Emergencies (*beredskapshendelser*): the listening post of the mandate's fourth purpose.

A coordinator opens an emergency for one or more networks; while it is open, members (observers'
members too) report what they hear in their communities as *signals* (``models.signal``), the
coordinators follow them on the situation board, post *information packages* with material per
language (``models.package``), and send call-ins within it (``Meeting.emergency``).  Closing it
keeps everything for the evaluation; nothing is reported to a closed emergency.

The language groups signals and packages name come from ``Language``: the reference list in
``data/reference/languages.csv`` (loaded by ``flask reference load``), the languages most spoken by
immigrants in Norway first.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model, db
from models import audit, guard
from models.errors import DomainError
from models.types import LabelledEnum, UTCDateTime, string_enum, utcnow

if TYPE_CHECKING:
    from models.meeting import Meeting
    from models.member import Member
    from models.network import Network


class Language(Model):
    """A language group, by its code (BCP 47: the ISO 639-1 code where there is one, else ISO 639-3),
    with its name in the app's three languages; ``rank`` orders the common ones first (None: the rest,
    alphabetically)."""

    __tablename__ = "languages"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name_nb: Mapped[str] = mapped_column(String(100))
    name_nn: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    rank: Mapped[int | None] = mapped_column(Integer)

    def list_order(self) -> tuple[bool, int, str]:
        """The list's order: the common ones first, by rank; then the rest by code."""
        return (self.rank is None, self.rank or 0, self.code)

    @property
    def name(self) -> str:
        """The name in the language of the page (or mail) being drawn."""
        return str(getattr(self, f"name_{get_locale() or 'nb'}", self.name_nb))


def languages() -> Sequence[Language]:
    """Every language group: the common ones first (by rank), then the rest by code."""
    return db.session.scalars(
        select(Language).order_by(Language.rank.is_(None), Language.rank, Language.code)
    ).all()


def languages_named(codes: Iterable[str]) -> list[Language]:
    """The languages ``codes`` name, in list order; an unknown code is refused."""
    wanted = set(codes)
    found = db.session.scalars(select(Language).where(Language.code.in_(wanted))).all()
    if len(found) != len(wanted):
        raise DomainError(_l("Choose language groups from the list."))
    return sorted(found, key=Language.list_order)


class EmergencyStatus(LabelledEnum):
    OPEN = "open", _l("Open")
    CLOSED = "closed", _l("Closed")


emergency_networks = Table(
    "emergency_networks",
    db.metadata,
    Column("emergency_id", ForeignKey("emergencies.id", ondelete="CASCADE"), primary_key=True),
    Column("network_id", ForeignKey("networks.id"), primary_key=True),
)


class Emergency(Model):
    __tablename__ = "emergencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[EmergencyStatus] = mapped_column(
        string_enum(EmergencyStatus, "emergency_status", 10), default=EmergencyStatus.OPEN, index=True
    )
    # Whether members of observer organisations (FHI, IMDi) may post information packages.
    observers_may_post: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))

    networks: Mapped[list["Network"]] = relationship(
        "Network", secondary=emergency_networks, order_by="Network.id"
    )
    opened_by: Mapped["Member | None"] = relationship("Member", foreign_keys=[opened_by_id])

    def __init__(self, **values: object) -> None:
        values.setdefault("status", EmergencyStatus.OPEN)
        values.setdefault("observers_may_post", False)
        super().__init__(**values)

    @property
    def is_open(self) -> bool:
        return self.status == EmergencyStatus.OPEN

    @property
    def may_report(self) -> bool:
        """Signals are reported, packages posted and shared, while the emergency is open."""
        return self.is_open

    @property
    def may_close(self) -> bool:
        return self.is_open

    @property
    def network_codes(self) -> str:
        return ", ".join(n.code for n in self.networks)


def open_emergency(
    networks: Sequence["Network"],
    title: str,
    description: str | None = None,
    by: "Member | None" = None,
    observers_may_post: bool = False,
) -> Emergency:
    """Open an emergency for ``networks``.  The caller commits."""
    if not networks:
        raise DomainError(_l("Choose at least one network."))
    title = (title or "").strip()
    if not title:
        raise DomainError(_l("Give the emergency a title."))
    emergency = Emergency(
        title=title,
        description=(description or "").strip() or None,
        opened_by=guard.real(by) if by is not None else None,
        observers_may_post=observers_may_post,
        opened_at=utcnow(),
    )
    emergency.networks = list(networks)
    db.session.add(emergency)
    db.session.flush()
    audit.record(
        "emergency.opened",
        network=audit.filed_under(emergency.networks),
        subject=f"emergency:{emergency.id}",
        after={"title": emergency.title, "networks": [n.code for n in networks]},
    )
    return emergency


def close(emergency: Emergency, by: "Member | None" = None) -> None:
    """Close an open emergency: nothing more is reported to it, everything is kept.

    A conditional UPDATE (still open) decides: of two presses at the same moment one closes, the
    other is told it is closed already."""
    closed = guard.claim(
        update(Emergency)
        .where(Emergency.id == emergency.id, Emergency.status == EmergencyStatus.OPEN)
        .values(status=EmergencyStatus.CLOSED, closed_at=utcnow(), closed_by_id=by.id if by else None)
    )
    db.session.refresh(emergency)
    if not closed:
        raise DomainError(_l("The emergency is already closed."))
    audit.record(
        "emergency.closed",
        network=audit.filed_under(emergency.networks),
        subject=f"emergency:{emergency.id}",
        after={"status": "closed"},
    )


def while_open(emergency: Emergency) -> Emergency:
    """Hold the emergency open for the rest of the transaction, or refuse: a shared row lock
    (``FOR SHARE`` on PostgreSQL – reports at the same moment do not wait for each other; a
    ``close`` waits for them, and a report after the close sees it closed)."""
    status = db.session.execute(
        select(Emergency.status).where(Emergency.id == emergency.id).with_for_update(read=True)
    ).scalar_one()
    if status != EmergencyStatus.OPEN:
        raise DomainError(_l("The emergency is closed: nothing more can be reported to it."))
    return emergency


def open_for(member: "Member") -> Sequence[Emergency]:
    """The open emergencies of the networks ``member`` is active in (or coordinates), newest first."""
    ids = set(member.active_network_ids) | set(member.coordinated_network_ids)
    return db.session.scalars(
        select(Emergency)
        .join(emergency_networks)
        .where(Emergency.status == EmergencyStatus.OPEN, emergency_networks.c.network_id.in_(ids))
        .distinct()
        .order_by(Emergency.opened_at.desc(), Emergency.id.desc())
    ).all()


def of_networks(network_ids: Iterable[int], year: int | None = None) -> Sequence[Emergency]:
    """Every emergency of these networks (open first, then newest); ``year``: opened that year (Oslo)."""
    query = (
        select(Emergency)
        .join(emergency_networks)
        .where(emergency_networks.c.network_id.in_(list(network_ids)))
        .distinct()
        .order_by(Emergency.status.desc(), Emergency.opened_at.desc(), Emergency.id.desc())
    )
    emergencies = db.session.scalars(query).all()
    if year is None:
        return emergencies
    from models.meeting import Meeting

    return [e for e in emergencies if Meeting.year_of(e.opened_at) == year]


def call_ins(emergency: Emergency) -> "Sequence[Meeting]":
    """The call-ins sent within the emergency, in the order they were called."""
    from models.meeting import Meeting

    return db.session.scalars(
        select(Meeting).where(Meeting.emergency_id == emergency.id).order_by(Meeting.starts_at, Meeting.id)
    ).all()
