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
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model, db
from models import audit, guard
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


def _by_county(emergency: Emergency, since: datetime | None = None, until: datetime | None = None):  # type: ignore[no-untyped-def]
    """SELECT kind, county number (None: no municipality), signals – grouped."""
    from models.organisation import Organisation

    return (
        select(Signal.kind, Organisation.county_number, func.count())
        .outerjoin(Organisation, Organisation.id == Signal.organisation_id)
        .where(*counted(emergency, since, until))
        .group_by(Signal.kind, Organisation.county_number)
    )


def _by_language(emergency: Emergency, since: datetime | None = None, until: datetime | None = None):  # type: ignore[no-untyped-def]
    """SELECT kind, language code, signals (``n``) – grouped; a signal naming two languages counts
    under each."""
    return (
        select(Signal.kind, signal_languages.c.language_code, func.count().label("n"))
        .join(signal_languages, signal_languages.c.signal_id == Signal.id)
        .where(*counted(emergency, since, until))
        .group_by(Signal.kind, signal_languages.c.language_code)
    )


def counts_by_county(
    emergency: Emergency, since: datetime | None = None, until: datetime | None = None
) -> dict[tuple[str, str | None], int]:
    """{(kind, county number or None): signals} in one query."""
    return {
        (str(kind), county): n for kind, county, n in db.session.execute(_by_county(emergency, since, until))
    }


def counts_by_language(
    emergency: Emergency, since: datetime | None = None, until: datetime | None = None
) -> dict[tuple[str, str], int]:
    """{(kind, language code): signals naming that language} in one query (a signal naming two
    languages counts under each)."""
    return {
        (str(kind), code): n for kind, code, n in db.session.execute(_by_language(emergency, since, until))
    }


def board_counts(
    emergency: Emergency,
) -> tuple[list[tuple[str, str]], dict[tuple[str, str | None], int]]:
    """The county municipalities, (number, name) by number, and ``counts_by_county`` – in one
    query: the counties' names are reference rows, read beside the counts (UNION ALL) rather than
    in a query of their own on every poll of the board (and so never stale after a reference load)."""
    from models.organisation import Organisation, OrganisationKind

    rows: Any = db.session.execute(
        union_all(
            _by_county(emergency).add_columns(null()),
            select(null(), Organisation.number, literal(0), Organisation.name).where(
                Organisation.kind == OrganisationKind.COUNTY_MUNICIPALITY
            ),
        )
    )
    counties: list[tuple[str, str]] = []
    counts: dict[tuple[str, str | None], int] = {}
    for kind, number, n, name in rows:
        if kind is None:
            counties.append((number, name))
        else:
            counts[(str(kind), number)] = n
    return sorted(counties), counts


def counts_by_named_language(emergency: Emergency) -> tuple[list[Language], dict[tuple[str, str], int]]:
    """The languages the emergency's signals name (common ones first) and ``counts_by_language``,
    in one query: the counts are grouped first, then joined to their language rows."""
    counts = _by_language(emergency).subquery()
    rows = db.session.execute(
        select(counts.c.kind, Language, counts.c.n).join(Language, Language.code == counts.c.language_code)
    ).all()
    languages = {language.code: language for _kind, language, _n in rows}
    return (
        sorted(languages.values(), key=Language.list_order),
        {(str(kind), language.code): n for kind, language, n in rows},
    )


def asked_languages(emergency: Emergency) -> Sequence[str]:
    """The language codes the emergency's signals have named (each once)."""
    return db.session.scalars(
        select(signal_languages.c.language_code)
        .join(Signal, Signal.id == signal_languages.c.signal_id)
        .where(*counted(emergency))
        .distinct()
        .order_by(signal_languages.c.language_code)
    ).all()


# -- the situation board: the coordinators' list and their follow-up (blueprints/emergencies/board.py) --

NOTE_LIMIT = 1000
REPLY_LIMIT = 2000


class BoardFilter:
    """What the board's list is narrowed to (each None: all): a kind, a county number (``NO_COUNTY``:
    signals about no municipality), a language code, a status, an urgency."""

    NO_COUNTY = "none"

    def __init__(
        self,
        kind: str | None = None,
        county: str | None = None,
        language: str | None = None,
        status: str | None = None,
        urgency: str | None = None,
    ) -> None:
        self.kind, self.county, self.language = kind or None, county or None, language or None
        self.status, self.urgency = status or None, urgency or None

    @property
    def narrowed(self) -> bool:
        """True when any filter is set (else the list is every signal counted)."""
        return any((self.kind, self.county, self.language, self.status, self.urgency))

    def where(self, emergency: Emergency) -> list[Any]:
        """The WHERE clause list over ``Signal`` (duplicates merged into another are never rows of their own)."""
        from models.organisation import Organisation

        where: list[Any] = list(counted(emergency))
        if self.kind:
            where.append(Signal.kind == SignalKind(self.kind))
        if self.status:
            where.append(Signal.status == SignalStatus(self.status))
        if self.urgency:
            where.append(Signal.urgency == Urgency(self.urgency))
        if self.county == self.NO_COUNTY:
            where.append(Signal.organisation_id.is_(None))
        elif self.county:
            where.append(
                Signal.organisation_id.in_(
                    select(Organisation.id).where(Organisation.county_number == self.county)
                )
            )
        if self.language:
            where.append(
                Signal.id.in_(
                    select(signal_languages.c.signal_id).where(
                        signal_languages.c.language_code == self.language
                    )
                )
            )
        return where


class BoardSignal(NamedTuple):
    """A signal as the board lists it: plain values read in one query, with its languages and the
    duplicates merged into it filled in by ``board_signals``."""

    id: int
    kind: SignalKind
    urgency: Urgency
    status: SignalStatus
    text: str
    note: str | None
    created_at: datetime
    municipality: str | None
    reporter: str | None
    languages: list[Language]
    duplicates: list["BoardSignal"]


def board_count(emergency: Emergency, filters: BoardFilter) -> int:
    return db.session.scalar(select(func.count()).select_from(Signal).where(*filters.where(emergency))) or 0


def board_signals(
    emergency: Emergency, filters: BoardFilter, limit: int, offset: int = 0
) -> list[BoardSignal]:
    """A page of the board's list, newest first, in three queries however many signals there are:
    the page's signals, the duplicates merged into them, and the languages of both."""
    from models.member import Member
    from models.organisation import Organisation

    columns = (
        Signal.id,
        Signal.kind,
        Signal.urgency,
        Signal.status,
        Signal.text,
        Signal.note,
        Signal.created_at,
        Organisation.name,
        Member.name,
    )

    def rows(query: Any) -> list[Any]:
        return list(
            db.session.execute(
                query.outerjoin(Organisation, Organisation.id == Signal.organisation_id).outerjoin(
                    Member, Member.id == Signal.reporter_id
                )
            )
        )

    page = rows(
        select(*columns)
        .where(*filters.where(emergency))
        .order_by(Signal.created_at.desc(), Signal.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if not page:
        return []
    ids = [row[0] for row in page]
    duplicates = rows(
        select(*columns, Signal.duplicate_of_id)
        .where(Signal.duplicate_of_id.in_(ids))
        .order_by(Signal.created_at, Signal.id)
    )
    named: dict[int, list[Language]] = {}
    for signal_id, language in db.session.execute(
        select(signal_languages.c.signal_id, Language)
        .join(Language, Language.code == signal_languages.c.language_code)
        .where(signal_languages.c.signal_id.in_(ids + [row[0] for row in duplicates]))
        .order_by(Language.rank.is_(None), Language.rank, Language.code)
    ):
        named.setdefault(signal_id, []).append(language)

    def board_signal(row: Any, duplicates: list[BoardSignal]) -> BoardSignal:
        id_, kind, urgency, status, text, note, created_at, municipality, reporter = row[:9]
        return BoardSignal(
            id_,
            kind,
            urgency,
            status,
            text,
            note,
            created_at,
            municipality,
            reporter,
            named.get(id_, []),
            duplicates,
        )

    under: dict[int, list[BoardSignal]] = {}
    for row in duplicates:
        under.setdefault(row[9], []).append(board_signal(row, []))
    return [board_signal(row, under.get(row[0], [])) for row in page]


def duplicates_of(signal: Signal) -> Sequence[Signal]:
    """The signals merged into ``signal``, oldest first."""
    return db.session.scalars(
        select(Signal).where(Signal.duplicate_of_id == signal.id).order_by(Signal.created_at, Signal.id)
    ).all()


def handle(signal: Signal, status: SignalStatus | str, note: str | None, by: "Member | None" = None) -> bool:
    """Mark ``signal`` seen, followed up or passed on, with the coordinators' note (empty: none).

    One conditional UPDATE decides (the signal not merged, and its status or note not already
    these): True when it changed; the same status and note again – or the same press twice at
    once – change nothing and audit nothing (False).  A merged duplicate is followed up as the
    signal it repeats: refused.  The caller commits."""
    status = SignalStatus(status)
    if status == SignalStatus.NEW:
        raise DomainError(_l("Choose seen, followed up or passed on."))
    note = (note or "").strip() or None
    if note is not None:
        if len(note) > NOTE_LIMIT:
            raise DomainError(_l("Write at most %(n)s characters.", n=NOTE_LIMIT))
        refuse_personal_data(note)
    changed = guard.claim(
        update(Signal)
        .where(
            Signal.id == signal.id,
            Signal.duplicate_of_id.is_(None),
            or_(Signal.status != status, Signal.note.is_distinct_from(note)),
        )
        .values(
            status=status, note=note, handled_at=utcnow(), handled_by_id=by.id if by is not None else None
        )
    )
    db.session.refresh(signal)
    if signal.duplicate_of_id is not None:
        raise DomainError(
            _l("This signal is merged into number %(n)s: follow that one up.", n=signal.duplicate_of_id)
        )
    if not changed:
        return False
    audit.record(
        "signal.handled",
        network=audit.filed_under(signal.emergency.networks),
        subject=f"emergency:{signal.emergency_id}",
        after={"signal": signal.id, "status": status.value},
    )
    return True


def merge(signal: Signal, into: "Signal | int | None", by: "Member | None" = None) -> Signal:
    """Merge ``signal`` as a duplicate of ``into`` (a signal of the same emergency, or its number):
    it then counts once, as ``into``; duplicates already merged into ``signal`` move to ``into``
    with it, so no duplicate ever repeats a duplicate.  Both rows are locked (lower number first)
    and checked afresh: refused when ``into`` is missing, in another emergency, the signal itself
    or itself merged, or when ``signal`` is merged already.  The caller commits."""
    target = into if isinstance(into, Signal) or into is None else db.session.get(Signal, into)
    if target is None or target.emergency_id != signal.emergency_id:
        raise DomainError(_l("There is no signal with that number in this emergency."))
    if target.id == signal.id:
        raise DomainError(_l("A signal cannot be merged into itself: give the number of the one it repeats."))
    for each in sorted((signal, target), key=lambda s: s.id):
        guard.lock(each)
    if signal.duplicate_of_id is not None:
        raise DomainError(_l("This signal is merged already (into number %(n)s).", n=signal.duplicate_of_id))
    if target.duplicate_of_id is not None:
        raise DomainError(
            _l(
                "Signal number %(n)s is itself merged into number %(m)s: merge into that one.",
                n=target.id,
                m=target.duplicate_of_id,
            )
        )
    moved = db.session.execute(
        update(Signal)
        .where(Signal.duplicate_of_id == signal.id)
        .values(duplicate_of_id=target.id)
        .execution_options(synchronize_session=False)
    )
    signal.duplicate_of_id = target.id
    signal.handled_at = utcnow()
    signal.handled_by_id = by.id if by is not None else None
    db.session.flush()
    audit.record(
        "signal.merged",
        network=audit.filed_under(signal.emergency.networks),
        subject=f"emergency:{signal.emergency_id}",
        after={"signal": signal.id, "into": target.id, "moved": cast("Any", moved).rowcount or 0},
    )
    return target


def reply(signal: Signal, body: str, by: "Member | None" = None) -> SignalReply:
    """Answer the reporter: the reply is kept beside the signal and mailed to them through the outbox
    in their own written form, with their text quoted and the way to their signal.  The signal's row
    is locked first, so a reporter erased meanwhile is seen: refused, as is an empty reply.  (The same
    form sent twice is done once by its submission key; two replies are two.)  The caller commits."""
    from models import outbox
    from models.language import mail_locale

    body = (body or "").strip()
    if not body:
        raise DomainError(_l("Write the reply."))
    if len(body) > REPLY_LIMIT:
        raise DomainError(_l("Write at most %(n)s characters.", n=REPLY_LIMIT))
    guard.lock(signal)
    reporter = signal.reporter
    if reporter is None or reporter.deleted_at is not None:
        raise DomainError(_l("The reporter's account is deleted: there is no one to send a reply to."))
    answer = SignalReply(
        signal_id=signal.id, by_id=by.id if by is not None else None, body=body, sent_at=utcnow()
    )
    db.session.add(answer)
    db.session.flush()
    outbox.queue(
        reporter.email,
        _l("A reply to your signal in the emergency “%(emergency)s”", emergency=signal.emergency.title),
        "signal_reply",
        locale=mail_locale(reporter),
        signal=signal,
        reply=answer,
        url=outbox.link("emergencies.own_signal", signal_id=signal.id),
    )
    audit.record(
        "signal.replied",
        network=audit.filed_under(signal.emergency.networks),
        subject=f"emergency:{signal.emergency_id}",
        after={"signal": signal.id, "reply": answer.id},
    )
    return answer
