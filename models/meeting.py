"""Meetings: planning, changing, cancelling, attendance and minutes.

Each network holds 2 network meetings a year and up to 4 professional meetings (``models.quota``
holds the counts); emergency call-ins are outside the counts (``models.call_in``).  Who comes is in
``models.signup``; the invitation's calendar file is written by ``models.calendar``.

Every change of a meeting is one operation here that first takes the meeting's row
(``guard.lock``: read afresh, a concurrent change waits), then checks the state it starts from on
those fresh values with the same ``may_*`` question the page asks, then acts and tells whoever the
rule says – so a double click, two tabs or two coordinators give one effect and one clear answer.
"""

import enum
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model, db
from models import audit, guard
from models.errors import DomainError
from models.types import LabelledEnum, UTCDateTime, string_enum, utcnow

if TYPE_CHECKING:
    from models.emergency import Emergency
    from models.member import Member
    from models.network import Network
    from models.topic import TopicProposal

OSLO = ZoneInfo("Europe/Oslo")


class MeetingKind(LabelledEnum):
    NETWORK = "network_meeting", _l("Network meeting")
    PROFESSIONAL = "professional_meeting", _l("Professional meeting")
    EMERGENCY = "emergency", _l("Emergency call-in")


class MeetingStatus(LabelledEnum):
    PLANNED = "planned", _l("Planned")
    HELD = "held", _l("Held")
    CANCELLED = "cancelled", _l("Cancelled")


class MeetingFormat(enum.StrEnum):
    DIGITAL = "digital"
    HYBRID = "hybrid"


meeting_networks = Table(
    "meeting_networks",
    db.metadata,
    Column("meeting_id", ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True),
    Column("network_id", ForeignKey("networks.id"), primary_key=True),
)


class Meeting(Model):
    __tablename__ = "meetings"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("format = 'digital' OR place IS NOT NULL", name="hybrid_has_place"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[MeetingKind] = mapped_column(string_enum(MeetingKind, "meeting_kind", 25))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The year in Norway the meeting counts for (a meeting at 00:30 on 1 January is next year's).
    year: Mapped[int] = mapped_column(Integer, index=True)
    format: Mapped[MeetingFormat] = mapped_column(string_enum(MeetingFormat, "meeting_format", 10))
    online_link: Mapped[str | None] = mapped_column(String(500))
    place: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[MeetingStatus] = mapped_column(
        string_enum(MeetingStatus, "meeting_status", 10), index=True
    )
    agenda: Mapped[str | None] = mapped_column(Text)
    minutes: Mapped[str | None] = mapped_column(Text)
    minutes_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attachments: Mapped[str | None] = mapped_column(Text)  # links, one a line
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # iCalendar SEQUENCE: moves on with each change
    # When the one reminder of an emergency call-in went to those who had not confirmed (see call_in.remind).
    call_in_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the coordinator wrote when cancelling (optional): in the cancellation mail and on the page.
    cancel_message: Mapped[str | None] = mapped_column(Text)
    # The emergency a call-in is sent within (models/emergency.py): its board lists the call-in.
    emergency_id: Mapped[int | None] = mapped_column(
        ForeignKey("emergencies.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))

    networks: Mapped[list["Network"]] = relationship(
        "Network", secondary=meeting_networks, order_by="Network.id"
    )
    created_by: Mapped["Member | None"] = relationship("Member")
    emergency: Mapped["Emergency | None"] = relationship("Emergency")

    # Optimistic locking: every UPDATE of a meeting says "… WHERE sequence = <the one read>", so a change
    # made over a stale read fails (StaleDataError) instead of overwriting.  The operations below lock the
    # row and read it afresh first, so they never meet it.  ``sequence`` moves on with reschedule, cancel.
    __mapper_args__ = MappingProxyType({"version_id_col": sequence, "version_id_generator": False})

    if TYPE_CHECKING:
        # Given by models/signup.py (which needs this class first), and set by ``plan`` on a call-in.
        signups: Mapped[list["Signup"]]
        called: int

    def __init__(self, **values: Any) -> None:
        values.setdefault("status", MeetingStatus.PLANNED)
        values.setdefault("sequence", 0)
        super().__init__(**values)

    @property
    def counts_against_quota(self) -> bool:
        return self.kind != MeetingKind.EMERGENCY and self.status != MeetingStatus.CANCELLED

    @property
    def is_call_in(self) -> bool:
        return self.kind == MeetingKind.EMERGENCY

    @property
    def is_joint(self) -> bool:
        return len(self.networks) > 1

    @property
    def has_started(self) -> bool:
        return self.starts_at <= utcnow()

    # -- the questions the pages ask and the operations hold -------------------------------------

    @property
    def may_change(self) -> bool:
        """A planned meeting can be changed (also moved, if it has not taken place yet)."""
        return self.status == MeetingStatus.PLANNED

    @property
    def may_cancel(self) -> bool:
        """Only a planned meeting that has not begun: one that has been held keeps its quota place."""
        return self.status == MeetingStatus.PLANNED and not self.has_started

    @property
    def open_for_sign_up(self) -> bool:
        """Members sign up and withdraw while the meeting is planned and not over."""
        return self.status == MeetingStatus.PLANNED and self.ends_at > utcnow()

    @property
    def may_record_attendance(self) -> bool:
        """Attendance is recorded once the meeting has begun, unless it was cancelled."""
        return self.status != MeetingStatus.CANCELLED and self.has_started

    @property
    def may_publish_minutes(self) -> bool:
        """Minutes are written of a meeting that has begun and was not cancelled."""
        return self.status != MeetingStatus.CANCELLED and self.has_started

    @property
    def accepts_topics(self) -> bool:
        """A proposed topic goes onto a planned network or professional meeting, never a call-in."""
        return self.status == MeetingStatus.PLANNED and not self.is_call_in

    @property
    def agenda_topics(self) -> "Sequence[TopicProposal]":
        """The proposed topics accepted into this meeting: on its page, its invitation and its calendar entry."""
        from models.topic import on_agenda

        return on_agenda(self)

    @property
    def may_remind_call_in(self) -> bool:
        """The reminder of a call-in goes once, while the call-in stands."""
        return self.is_call_in and self.status == MeetingStatus.PLANNED and self.call_in_reminded_at is None

    @property
    def attachment_links(self) -> list[tuple[str, str]]:
        """The attachments as (label, address) pairs, in the order written."""
        return parse_links(self.attachments or "")

    @staticmethod
    def year_of(moment: datetime) -> int:
        return moment.astimezone(OSLO).year


def parse_links(text: str) -> list[tuple[str, str]]:
    """Links written one a line, as ``https://…`` or ``Label https://…``: [(label, address)].

    Raises ValueError with the (1-based) number of the first line that is not a link.
    """
    links = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        label, _, address = line.strip().rpartition(" ")
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or "." not in parts.netloc:
            raise ValueError(number)
        links.append((label.strip(" –-:") or address, address))
    return links


def in_feed(member: "Member", since: datetime) -> Sequence[Meeting]:
    """The meetings of the member's active networks from ``since``, for the calendar feed."""
    network_ids = member.active_network_ids
    return db.session.scalars(
        select(Meeting)
        .join(meeting_networks)
        .where(meeting_networks.c.network_id.in_(network_ids), Meeting.starts_at >= since)
        .distinct()
        .order_by(Meeting.starts_at)
    ).all()


# The parts split out of this module need the classes above; imported here, below them.  Their names
# are also reachable as ``models.meeting.<name>`` for the callers written before the split.
from models import quota  # noqa: E402
from models.calendar import feed, ics, invite  # noqa: E402,F401
from models.call_in import Acknowledgement, acknowledge, acknowledged_ids, call_in, called_in  # noqa: E402, F401
from models.quota import QuotaCounter, planned, quota_status  # noqa: E402,F401
from models.signup import (  # noqa: E402,F401
    Signup,
    due_reminders,
    may_attend,
    send_reminders,
    sign_up,
    signup_rows,
    withdraw,
)

NEW_EMERGENCY = "new"  # ``plan(emergency=NEW_EMERGENCY)``: open an emergency with the call-in


class NotWithin(DomainError):
    """A call-in cannot be sent within the emergency asked for."""


def plan(
    networks: Iterable["Network"],
    created_by: "Member | None" = None,
    emergency: "Emergency | str | None" = None,
    **values: Any,
) -> Meeting:
    """A new meeting for ``networks``; refused with the meetings already planned if a quota is full.

    An emergency call-in is called at once: every active member of the networks is mailed (the
    number is left in ``meeting.called``).  It may be sent within an open ``emergency`` whose networks
    include its own, or open one (``NEW_EMERGENCY``: with its title and description).  The caller
    commits; on DomainError it must roll back.
    """
    networks = list(networks)
    if not networks:
        raise DomainError(_l("Choose at least one network."))
    _ahead(values["starts_at"])
    kind = MeetingKind(values.pop("kind"))
    if emergency is not None:
        emergency = _within(emergency, kind, networks, created_by, values)
    meeting = Meeting(kind=kind, created_by=created_by, year=Meeting.year_of(values["starts_at"]), **values)
    meeting.networks = networks
    if emergency is not None:
        meeting.emergency_id = emergency.id
    quota.reserve(meeting)
    db.session.add(meeting)
    db.session.flush()
    audit.record(
        "meeting.planned",
        network=audit.filed_under(meeting.networks),
        subject=f"meeting:{meeting.id}",
        after={
            "title": meeting.title,
            "kind": kind.value,
            "networks": [n.code for n in networks],
            "starts_at": meeting.starts_at.astimezone(UTC).isoformat(),
        },
    )
    meeting.called = call_in(meeting) if meeting.is_call_in else 0
    return meeting


def _within(
    emergency: "Emergency | str",
    kind: MeetingKind,
    networks: list["Network"],
    by: "Member | None",
    values: dict[str, Any],
) -> "Emergency":
    """The emergency a new call-in is sent within: opened now, or an open one covering its networks."""
    from models import emergency as emergencies

    if kind != MeetingKind.EMERGENCY:
        raise NotWithin(_l("Only an emergency call-in is sent within an emergency."))
    if isinstance(emergency, str):
        if emergency != NEW_EMERGENCY:
            raise ValueError(emergency)
        return emergencies.open_emergency(networks, values["title"], values.get("description"), by=by)
    if not {n.id for n in networks} <= {n.id for n in emergency.networks}:
        raise NotWithin(_l("The call-in's networks must be among the emergency's networks."))
    try:
        return emergencies.while_open(emergency)
    except DomainError as closed:
        raise NotWithin(closed.message) from closed


class InThePast(DomainError):
    """A start that has already passed: a meeting is planned (or moved) to a time ahead."""

    def __init__(self) -> None:
        now = utcnow().astimezone(OSLO)
        super().__init__(
            _l(
                "The start has already passed (it is now %(now)s Norwegian time). "
                "Choose a date and time ahead.",
                now=now.strftime("%d.%m.%Y %H:%M"),
            )
        )


def _ahead(starts_at: datetime) -> None:
    """Refuse a start that is not after now (the same moment everywhere; shown in Oslo time)."""
    if starts_at <= utcnow():
        raise InThePast()


class EditConflict(DomainError):
    """The meeting changed since the form was opened: the change is not made over someone else's."""

    def __init__(self) -> None:
        super().__init__(
            _l(
                "Someone else changed the meeting while you were editing it. Its details "
                "are now as shown below; check them and save again."
            )
        )


def _signed_up(meeting: Meeting) -> Sequence["Member"]:
    from models.member import Member

    return db.session.scalars(
        select(Member)
        .join(Signup, Signup.member_id == Member.id)
        .where(Signup.meeting_id == meeting.id)
        .order_by(Signup.created_at, Signup.id)
    ).all()


def reschedule(
    meeting: Meeting, starts_at: datetime, ends_at: datetime, version: int | None = None, **details: Any
) -> None:
    """Change a planned meeting; a move to another year moves its quota places (or is refused).

    ``version`` is the SEQUENCE the editor read: if the meeting has moved on since, EditConflict.
    Kind and networks stay: to change them, cancel and plan anew.  SEQUENCE rises, and those signed
    up get the updated invitation, which replaces the old one in their calendars.
    """
    guard.lock(meeting)
    if version is not None and version != meeting.sequence:
        raise EditConflict()
    if not meeting.may_change:
        raise DomainError(_l("Only a planned meeting can be changed."))
    if starts_at != meeting.starts_at:
        _ahead(starts_at)  # a change that keeps the time (a begun meeting's title) is not a move
    year = Meeting.year_of(starts_at)
    if year != meeting.year:
        quota.reserve(meeting, year)
        quota.release(meeting)
    # Both times in UTC, as the column holds them (the audit page shows them in Oslo time).
    before = {"starts_at": meeting.starts_at.astimezone(UTC).isoformat(), "title": meeting.title}
    meeting.starts_at, meeting.ends_at, meeting.year = starts_at, ends_at, year
    for name, value in details.items():
        setattr(meeting, name, value)
    meeting.sequence += 1
    audit.record(
        "meeting.changed",
        network=audit.filed_under(meeting.networks),
        subject=f"meeting:{meeting.id}",
        before=before,
        after={"starts_at": starts_at.astimezone(UTC).isoformat(), "title": meeting.title},
    )
    for member in _signed_up(meeting):
        invite(member, meeting, _l("Changed: %(title)s", title=meeting.title))


def told_of_cancellation(meeting: Meeting) -> Sequence["Member"]:
    """Who gets the cancellation if the meeting is cancelled now: those signed up (the confirmation
    page names them; ``cancel`` mails them)."""
    return _signed_up(meeting)


def cancel(meeting: Meeting, message: str | None = None, reason: str | None = None) -> int:
    """Cancel a planned meeting that has not begun: its quota places are given back, those signed up
    get the calendar's cancellation with ``message`` (the coordinator's words, kept on the meeting).
    Cancelled already: refused, nothing more happens.  Returns how many were told."""
    guard.lock(meeting)
    if meeting.status == MeetingStatus.CANCELLED:
        raise DomainError(_l("The meeting is already cancelled."))
    if not meeting.may_cancel:
        raise DomainError(_l("A meeting that has begun or been held cannot be cancelled."))
    quota.release(meeting)
    meeting.status = MeetingStatus.CANCELLED
    meeting.cancel_message = (message or "").strip() or None
    meeting.sequence += 1
    audit.record(
        "meeting.cancelled",
        network=audit.filed_under(meeting.networks),
        subject=f"meeting:{meeting.id}",
        after={"status": "cancelled"},
        reason=reason,
    )
    told = told_of_cancellation(meeting)
    for member in told:
        invite(member, meeting, _l("Cancelled: %(title)s", title=meeting.title))
    return len(told)


def record_attendance(meeting: Meeting, attended_member_ids: Collection[int]) -> bool:
    """Who of those signed up attended; the meeting is then held.  The same list again changes
    nothing (no second audit entry).  Returns True if something changed."""
    guard.lock(meeting)
    if not meeting.may_record_attendance:
        if meeting.status == MeetingStatus.CANCELLED:
            raise DomainError(_l("The meeting is cancelled: there is no attendance to record."))
        raise DomainError(_l("Attendance is recorded after the meeting has started."))
    signups = db.session.scalars(select(Signup).where(Signup.meeting_id == meeting.id)).all()
    changed = [s for s in signups if s.attended != (s.member_id in attended_member_ids)]
    if not changed and meeting.status == MeetingStatus.HELD:
        return False
    for signup in changed:
        signup.attended = signup.member_id in attended_member_ids
    meeting.status = MeetingStatus.HELD
    attended = sum(1 for s in signups if s.attended)
    audit.record(
        "meeting.attendance",
        network=audit.filed_under(meeting.networks),
        subject=f"meeting:{meeting.id}",
        after={"attended": attended, "signed_up": len(signups)},
    )
    return True


def publish_minutes(meeting: Meeting, minutes: str | None) -> bool:
    """Publish (or correct) the minutes; the same text again changes nothing.  True if it changed."""
    text = (minutes or "").strip()
    if not text:
        raise DomainError(_l("Write the minutes before publishing them."))
    guard.lock(meeting)
    if not meeting.may_publish_minutes:
        raise DomainError(_l("Minutes are published after the meeting has begun, unless it was cancelled."))
    if meeting.minutes == text and meeting.minutes_published_at is not None:
        return False
    meeting.minutes = text
    meeting.minutes_published_at = utcnow()
    audit.record(
        "meeting.minutes_published",
        network=audit.filed_under(meeting.networks),
        subject=f"meeting:{meeting.id}",
    )
    return True
