"""Signals: what members hear in their communities during an emergency, reported to the listening
post – a rumour, an information need, a need for interpretation, a barrier, a good local example –
with the language groups it concerns, the municipality and how urgent it is.

A signal carries no personal data about residents or patients (``models.personal_data`` refuses
identity and phone numbers; there are no attachments).  Coordinators follow each one on the
situation board: *new → seen → followed up / passed on*, with a note; a duplicate is merged into the
signal it repeats (it then counts once); a reply reaches the reporter by mail in their own form.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, ForeignKey, Index, Integer, Table, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model, db
from models.emergency import Emergency, Language, languages_named, while_open
from models.errors import DomainError
from models.organisation import OrganisationKind
from models.personal_data import refuse_personal_data
from models.types import LabelledEnum, UTCDateTime, string_enum, utcnow

if TYPE_CHECKING:
    from models.member import Member
    from models.organisation import Organisation

TEXT_LIMIT = 1000  # a short text: what was heard, where, by whom (no names)


class Refused(DomainError):
    """A signal refused for one of its parts: ``field`` names the form field to show it beside
    (``text``, ``languages``, ``municipality``)."""

    def __init__(self, message: "str | LazyString", field: str) -> None:
        super().__init__(message)
        self.field = field


class SignalKind(LabelledEnum):
    RUMOUR = "rumour", _l("Rumour or misinformation")
    INFORMATION_NEED = "information_need", _l("Information need")
    INTERPRETATION = "interpretation", _l("Need for interpretation or translation")
    BARRIER = "barrier", _l("Barrier to services")
    GOOD_EXAMPLE = "good_example", _l("Local initiative or good example")
    OTHER = "other", _l("Other")


class Urgency(LabelledEnum):
    URGENT = "urgent", _l("Urgent: today")
    SOON = "soon", _l("Within a few days")
    CAN_WAIT = "can_wait", _l("Can wait")


class SignalStatus(LabelledEnum):
    NEW = "new", _l("New")
    SEEN = "seen", _l("Seen")
    FOLLOWED_UP = "followed_up", _l("Followed up")
    PASSED_ON = "passed_on", _l("Passed on")


signal_languages = Table(
    "signal_languages",
    db.metadata,
    Column("signal_id", ForeignKey("signals.id", ondelete="CASCADE"), primary_key=True),
    Column("language_code", ForeignKey("languages.code"), primary_key=True, index=True),
)


class Signal(Model):
    __tablename__ = "signals"
    __table_args__ = (Index("ix_signals_emergency_created", "emergency_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    emergency_id: Mapped[int] = mapped_column(ForeignKey("emergencies.id", ondelete="CASCADE"))
    # Who reported it: shown to coordinators only (never in the situation report); gone with an erasure.
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    # The municipality it concerns (the reporter's own by default); none: not one municipality.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[SignalKind] = mapped_column(string_enum(SignalKind, "signal_kind", 20))
    urgency: Mapped[Urgency] = mapped_column(string_enum(Urgency, "signal_urgency", 10))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[SignalStatus] = mapped_column(
        string_enum(SignalStatus, "signal_status", 12), default=SignalStatus.NEW
    )
    note: Mapped[str | None] = mapped_column(Text)  # the coordinators' follow-up note
    # A duplicate merged into the signal it repeats: it then counts once, as that one.
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("signals.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))

    emergency: Mapped[Emergency] = relationship(Emergency)
    reporter: Mapped["Member | None"] = relationship("Member", foreign_keys=[reporter_id])
    organisation: Mapped["Organisation | None"] = relationship("Organisation")
    languages: Mapped[list[Language]] = relationship(
        Language, secondary=signal_languages, order_by=Language.code
    )

    def __init__(self, **values: object) -> None:
        values.setdefault("status", SignalStatus.NEW)
        super().__init__(**values)

    @property
    def is_merged(self) -> bool:
        return self.duplicate_of_id is not None


class SignalReply(Model):
    """A coordinator's answer to the reporter (mailed in the reporter's form; kept beside the signal)."""

    __tablename__ = "signal_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id", ondelete="CASCADE"), index=True)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    by: Mapped["Member | None"] = relationship("Member")


def report(
    emergency: Emergency,
    reporter: "Member",
    kind: SignalKind | str,
    urgency: Urgency | str,
    text: str,
    language_codes: Iterable[str] = (),
    organisation: "Organisation | None" = None,
) -> Signal:
    """Store what ``reporter`` heard, while the emergency is open (a shared lock on it: see
    ``while_open``).  Refused (``Refused``, naming the part): an empty or too long text, or one with
    what looks like a national identity number or phone number (``PersonalData``); a language not in
    the list; an organisation that is not an active municipality; and (a plain ``DomainError``) a
    closed emergency.  The caller commits (a repeat of the same form is stopped by its submission
    key; two forms are two signals)."""
    text = (text or "").strip()
    if not text:
        raise Refused(_l("Write what you have heard or seen."), "text")
    if len(text) > TEXT_LIMIT:
        raise Refused(_l("Write at most %(n)s characters.", n=TEXT_LIMIT), "text")
    refuse_personal_data(text)
    if organisation is not None and (
        organisation.kind != OrganisationKind.MUNICIPALITY or not organisation.active
    ):
        raise Refused(_l("Choose a municipality from the list."), "municipality")
    try:
        chosen = languages_named(language_codes)
    except DomainError as error:
        raise Refused(error.message, "languages") from None
    while_open(emergency)
    signal = Signal(
        emergency_id=emergency.id,
        reporter_id=reporter.id,
        organisation_id=organisation.id if organisation is not None else None,
        kind=SignalKind(kind),
        urgency=Urgency(urgency),
        text=text,
        created_at=utcnow(),
    )
    signal.languages = chosen
    db.session.add(signal)
    db.session.flush()
    return signal


def reported_by(emergency: Emergency, member: "Member") -> list[tuple[Signal, int]]:
    """The member's own signals in ``emergency``, newest first, each with how many replies it has
    had: one query."""
    replies = select(func.count(SignalReply.id)).where(SignalReply.signal_id == Signal.id).scalar_subquery()
    rows = db.session.execute(
        select(Signal, replies)
        .where(Signal.emergency_id == emergency.id, Signal.reporter_id == member.id)
        .order_by(Signal.created_at.desc(), Signal.id.desc())
    ).all()
    return [(signal, count) for signal, count in rows]


def replies_to(signal: Signal) -> Sequence[SignalReply]:
    """The coordinators' replies to ``signal``, oldest first (the newest last, as a conversation)."""
    return db.session.scalars(
        select(SignalReply)
        .where(SignalReply.signal_id == signal.id)
        .order_by(SignalReply.sent_at, SignalReply.id)
    ).all()


def municipalities() -> Sequence["Organisation"]:
    """The municipalities a signal may name: the active ones, by name."""
    from models.organisation import Organisation

    return db.session.scalars(
        select(Organisation)
        .where(Organisation.kind == OrganisationKind.MUNICIPALITY, Organisation.active.is_(True))
        .order_by(Organisation.name)
    ).all()


# -- what the board and the report count ---------------------------------------------------------


def counted(emergency: Emergency, since: datetime | None = None, until: datetime | None = None):  # type: ignore[no-untyped-def]
    """The signals of ``emergency`` that count (merged duplicates count as the one they repeat),
    reported in [since, until), as a WHERE clause list."""
    where = [Signal.emergency_id == emergency.id, Signal.duplicate_of_id.is_(None)]
    if since is not None:
        where.append(Signal.created_at >= since)
    if until is not None:
        where.append(Signal.created_at < until)
    return where


def counts_by_county(
    emergency: Emergency, since: datetime | None = None, until: datetime | None = None
) -> dict[tuple[str, str | None], int]:
    """{(kind, county number or None): signals} in one query."""
    from models.organisation import Organisation

    rows = db.session.execute(
        select(Signal.kind, Organisation.county_number, func.count())
        .outerjoin(Organisation, Organisation.id == Signal.organisation_id)
        .where(*counted(emergency, since, until))
        .group_by(Signal.kind, Organisation.county_number)
    )
    return {(str(kind), county): n for kind, county, n in rows}


def counts_by_language(
    emergency: Emergency, since: datetime | None = None, until: datetime | None = None
) -> dict[tuple[str, str], int]:
    """{(kind, language code): signals naming that language} in one query (a signal naming two
    languages counts under each)."""
    rows = db.session.execute(
        select(Signal.kind, signal_languages.c.language_code, func.count())
        .join(signal_languages, signal_languages.c.signal_id == Signal.id)
        .where(*counted(emergency, since, until))
        .group_by(Signal.kind, signal_languages.c.language_code)
    )
    return {(str(kind), code): n for kind, code, n in rows}


def asked_languages(emergency: Emergency) -> Sequence[str]:
    """The language codes the emergency's signals have named (each once)."""
    return db.session.scalars(
        select(signal_languages.c.language_code)
        .join(Signal, Signal.id == signal_languages.c.signal_id)
        .where(*counted(emergency))
        .distinct()
        .order_by(signal_languages.c.language_code)
    ).all()
