"""Meetings and the yearly quotas the mandate sets.

Each network holds 2 network meetings a year and up to 4 professional meetings; a
joint meeting counts for every network taking part; emergency call-ins are outside
the counts.  The counts are held by the database: one ``quota_counters`` row per
network, year and kind, changed only by ``used = used + 1`` under a CHECK
``used <= quota``, so two coordinators planning at the same moment cannot both
take the last place (no count-then-insert).
"""

import enum
from datetime import datetime, timedelta
from typing import NamedTuple
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask_babel import force_locale, format_datetime
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models import audit
from models.errors import DomainError
from models.types import UTCDateTime, string_enum, utcnow

OSLO = ZoneInfo("Europe/Oslo")


class MeetingKind(enum.StrEnum):
    NETWORK = "network_meeting"
    PROFESSIONAL = "professional_meeting"
    EMERGENCY = "emergency"

    @property
    def label(self):
        return {
            MeetingKind.NETWORK: _l("Network meeting"),
            MeetingKind.PROFESSIONAL: _l("Professional meeting"),
            MeetingKind.EMERGENCY: _l("Emergency call-in"),
        }[self]


class MeetingStatus(enum.StrEnum):
    PLANNED = "planned"
    HELD = "held"
    CANCELLED = "cancelled"

    @property
    def label(self):
        return {
            MeetingStatus.PLANNED: _l("Planned"),
            MeetingStatus.HELD: _l("Held"),
            MeetingStatus.CANCELLED: _l("Cancelled"),
        }[self]


class MeetingFormat(enum.StrEnum):
    DIGITAL = "digital"
    HYBRID = "hybrid"


meeting_networks = Table(
    "meeting_networks",
    db.metadata,
    Column("meeting_id", ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True),
    Column("network_id", ForeignKey("networks.id"), primary_key=True),
)


class QuotaCounter(db.Model):
    """How many meetings of a kind a network has planned in a year, against its quota."""

    __tablename__ = "quota_counters"
    __table_args__ = (
        CheckConstraint("used >= 0 AND used <= quota", name="within_quota"),
    )

    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[MeetingKind] = mapped_column(string_enum(MeetingKind, "quota_kind", 25), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)
    quota: Mapped[int] = mapped_column(Integer)


class Meeting(db.Model):
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
    status: Mapped[MeetingStatus] = mapped_column(string_enum(MeetingStatus, "meeting_status", 10), index=True)
    agenda: Mapped[str | None] = mapped_column(Text)
    minutes: Mapped[str | None] = mapped_column(Text)
    minutes_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attachments: Mapped[str | None] = mapped_column(Text)  # links, one a line
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # iCalendar SEQUENCE: moves on with each change
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))

    networks = relationship("Network", secondary=meeting_networks, order_by="Network.id")
    created_by = relationship("Member")

    # Optimistic locking: every UPDATE of a meeting says "… WHERE sequence = <the one read>", so of two
    # changes made at the same moment the second finds no row and fails (StaleDataError) instead of
    # overwriting the first.  The application moves ``sequence`` on itself (reschedule, cancel).
    __mapper_args__ = {"version_id_col": sequence, "version_id_generator": False}

    def __init__(self, **values):
        values.setdefault("status", MeetingStatus.PLANNED)
        values.setdefault("sequence", 0)
        super().__init__(**values)

    @property
    def counts_against_quota(self):
        return self.kind != MeetingKind.EMERGENCY and self.status != MeetingStatus.CANCELLED

    @property
    def is_joint(self):
        return len(self.networks) > 1

    @property
    def attachment_links(self):
        """The attachments as (label, address) pairs, in the order written."""
        return parse_links(self.attachments or "")

    @staticmethod
    def year_of(moment):
        return moment.astimezone(OSLO).year


def parse_links(text):
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


def _insert(dialect):
    return pg_insert if dialect == "postgresql" else sqlite_insert


def _take_place(network, year, kind):
    """used + 1 for this network, year and kind, only while below the quota; False if full.

    One conditional UPDATE: on PostgreSQL a concurrent planner waits for the row lock and
    then re-reads the row, so the last place goes once.  The CHECK is the backstop.
    """
    quota = network.network_meetings_per_year if kind == MeetingKind.NETWORK else network.professional_meetings_max
    insert = _insert(db.session.get_bind().dialect.name)
    db.session.execute(
        insert(QuotaCounter.__table__)
        .values(network_id=network.id, year=year, kind=kind.value, used=0, quota=quota)
        .on_conflict_do_nothing()
    )
    result = db.session.execute(
        update(QuotaCounter)
        .where(
            QuotaCounter.network_id == network.id,
            QuotaCounter.year == year,
            QuotaCounter.kind == kind,
            QuotaCounter.used < QuotaCounter.quota,
        )
        .values(used=QuotaCounter.used + 1)
    )
    return result.rowcount == 1


def _free_place(network, year, kind):
    db.session.execute(
        update(QuotaCounter)
        .where(QuotaCounter.network_id == network.id, QuotaCounter.year == year, QuotaCounter.kind == kind)
        .values(used=QuotaCounter.used - 1)
    )


def planned(network, year, kind):
    """The meetings of a kind that hold a place in the network's quota for the year."""
    return db.session.scalars(
        select(Meeting)
        .join(meeting_networks)
        .where(
            meeting_networks.c.network_id == network.id,
            Meeting.year == year,
            Meeting.kind == kind,
            Meeting.status != MeetingStatus.CANCELLED,
        )
        .order_by(Meeting.starts_at)
    ).all()


def _full(network, year, kind):
    titles = ", ".join(f"«{m.title}»" for m in planned(network, year, kind))
    if kind == MeetingKind.NETWORK:
        return DomainError(_l("%(network)s already has its %(n)s network meetings in %(year)s: %(titles)s.",
                              network=network.code, n=network.network_meetings_per_year, year=year, titles=titles))
    return DomainError(_l("%(network)s already has %(n)s professional meetings planned in %(year)s: %(titles)s.",
                          network=network.code, n=network.professional_meetings_max, year=year, titles=titles))


def _reserve(meeting):
    """Take a place in every network's quota; if one is full the meeting is refused (and the
    caller's rollback gives back the places already taken)."""
    if not meeting.counts_against_quota:
        return
    for network in meeting.networks:
        if not _take_place(network, meeting.year, meeting.kind):
            raise _full(network, meeting.year, meeting.kind)


def plan(networks, created_by=None, **values):
    """A new meeting for ``networks``; refused with the meetings already planned if a quota is full.

    The caller commits; on DomainError it must roll back.
    """
    if not networks:
        raise DomainError(_l("Choose at least one network."))
    kind = MeetingKind(values.pop("kind"))
    meeting = Meeting(kind=kind, created_by=created_by, year=Meeting.year_of(values["starts_at"]), **values)
    meeting.networks = list(networks)
    _reserve(meeting)
    db.session.add(meeting)
    db.session.flush()
    audit.record("meeting.planned", subject=f"meeting:{meeting.id}",
                 after={"title": meeting.title, "kind": kind.value, "networks": [n.code for n in networks],
                        "starts_at": meeting.starts_at.isoformat()})
    return meeting


class EditConflict(DomainError):
    """The meeting changed since the form was opened: the change is not made over someone else's."""

    def __init__(self):
        super().__init__(_l("Someone else changed the meeting while you were editing it. Its details "
                            "are now as shown below; check them and save again."))


def reschedule(meeting, starts_at, ends_at, version=None, **details):
    """Change a planned meeting; a move to another year moves its quota places (or is refused).

    ``version`` is the SEQUENCE the editor read: if the meeting has moved on since, EditConflict.
    Kind and networks stay: to change them, cancel and plan anew.  SEQUENCE rises, so
    the invitations sent again replace the old ones in calendars.
    """
    if version is not None and version != meeting.sequence:
        raise EditConflict()
    if meeting.status != MeetingStatus.PLANNED:
        raise DomainError(_l("Only a planned meeting can be changed."))
    year = Meeting.year_of(starts_at)
    if year != meeting.year and meeting.counts_against_quota:
        for network in meeting.networks:
            if not _take_place(network, year, meeting.kind):
                raise _full(network, year, meeting.kind)
            _free_place(network, meeting.year, meeting.kind)
    before = {"starts_at": meeting.starts_at.isoformat(), "title": meeting.title}
    meeting.starts_at, meeting.ends_at, meeting.year = starts_at, ends_at, year
    for name, value in details.items():
        setattr(meeting, name, value)
    meeting.sequence += 1
    audit.record("meeting.changed", subject=f"meeting:{meeting.id}", before=before,
                 after={"starts_at": starts_at.isoformat(), "title": meeting.title})


def in_feed(member, since):
    """The meetings of the member's active networks from ``since``, for the calendar feed."""
    network_ids = member.active_network_ids
    return db.session.scalars(
        select(Meeting)
        .join(meeting_networks)
        .where(meeting_networks.c.network_id.in_(network_ids), Meeting.starts_at >= since)
        .distinct()
        .order_by(Meeting.starts_at)
    ).all()


def cancel(meeting, reason=None):
    """Cancelling frees the place in every network's quota."""
    if meeting.status == MeetingStatus.CANCELLED:
        raise DomainError(_l("The meeting is already cancelled."))
    if meeting.counts_against_quota:
        for network in meeting.networks:
            _free_place(network, meeting.year, meeting.kind)
    meeting.status = MeetingStatus.CANCELLED
    meeting.sequence += 1
    audit.record("meeting.cancelled", subject=f"meeting:{meeting.id}", after={"status": "cancelled"}, reason=reason)


def quota_status(network, year):
    """{kind: (used, quota)} for the year plan's "1 of 2"."""
    counters = {
        c.kind: (c.used, c.quota)
        for c in db.session.scalars(select(QuotaCounter).filter_by(network_id=network.id, year=year))
    }
    return {
        MeetingKind.NETWORK: counters.get(MeetingKind.NETWORK, (0, network.network_meetings_per_year)),
        MeetingKind.PROFESSIONAL: counters.get(MeetingKind.PROFESSIONAL, (0, network.professional_meetings_max)),
    }


class Signup(db.Model):
    """A member signed up for a meeting; attendance is recorded after it."""

    __tablename__ = "signups"
    __table_args__ = (UniqueConstraint("meeting_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attended: Mapped[bool | None] = mapped_column(Boolean)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    meeting = relationship("Meeting", back_populates="signups")
    member = relationship("Member")


Meeting.signups = relationship("Signup", back_populates="meeting", cascade="all, delete-orphan",
                               order_by="Signup.created_at")


class SignupRow(NamedTuple):
    member_id: int
    name: str
    organisation_id: int
    organisation: str
    attended: bool | None


def signup_rows(meeting):
    """Who signed up, in the order they did, as plain rows (hundreds for a network meeting: a list to
    read, so no ORM objects are built for it)."""
    from models.member import Member
    from models.organisation import Organisation

    return [SignupRow(*row) for row in db.session.execute(
        select(Signup.member_id, Member.name, Member.organisation_id, Organisation.name, Signup.attended)
        .join(Member, Member.id == Signup.member_id)
        .join(Organisation, Organisation.id == Member.organisation_id)
        .where(Signup.meeting_id == meeting.id)
        .order_by(Signup.created_at, Signup.id))]


def may_attend(member, meeting):
    """Active members of a network taking part, and its coordinators."""
    networks = {n.id for n in meeting.networks}
    return bool(networks & (member.active_network_ids | member.coordinated_network_ids))


def sign_up(member, meeting):
    if meeting.status != MeetingStatus.PLANNED or meeting.ends_at <= utcnow():
        raise DomainError(_l("Sign-up is closed for this meeting."))
    if not may_attend(member, meeting):
        raise DomainError(_l("This meeting is for members of %(networks)s.",
                             networks=", ".join(n.code for n in meeting.networks)))
    if any(s.member_id == member.id for s in meeting.signups):
        raise DomainError(_l("You are already signed up."))
    signup = Signup(member=member)
    meeting.signups.append(signup)
    return signup


def withdraw(member, meeting):
    signup = next((s for s in meeting.signups if s.member_id == member.id), None)
    if signup is None:
        raise DomainError(_l("You are not signed up."))
    meeting.signups.remove(signup)


def record_attendance(meeting, attended_member_ids):
    if meeting.starts_at > utcnow():
        raise DomainError(_l("Attendance is recorded after the meeting has started."))
    for signup in meeting.signups:
        signup.attended = signup.member_id in attended_member_ids
    if meeting.status == MeetingStatus.PLANNED:
        meeting.status = MeetingStatus.HELD
    audit.record("meeting.attendance", subject=f"meeting:{meeting.id}",
                 after={"attended": len(attended_member_ids), "signed_up": len(meeting.signups)})


def publish_minutes(meeting, minutes):
    if not (minutes or "").strip():
        raise DomainError(_l("Write the minutes before publishing them."))
    meeting.minutes = minutes.strip()
    meeting.minutes_published_at = utcnow()
    audit.record("meeting.minutes_published", subject=f"meeting:{meeting.id}")


def _calendar(method=None):
    from icalendar import Calendar

    calendar = Calendar()
    calendar.add("prodid", "-//Helsedirektoratet//Migrasjonshelsenettverkene//NB")
    calendar.add("version", "2.0")
    if method:
        calendar.add("method", method)
    return calendar


def ics(meeting, organiser_email):
    """The meeting as an iCalendar invitation: times in Europe/Oslo, a reminder the day before.

    The UID stays; SEQUENCE moves on with each change, so calendars update the event.
    """
    calendar = _calendar("CANCEL" if meeting.status == MeetingStatus.CANCELLED else "REQUEST")
    calendar.add_component(_event(meeting, organiser_email))
    return calendar.to_ical()


def feed(meetings_, organiser_email):
    """Many meetings as one calendar, for a subscription."""
    calendar = _calendar()
    calendar.add("x-wr-calname", "Migrasjonshelsenettverkene")
    for meeting in meetings_:
        calendar.add_component(_event(meeting, organiser_email))
    return calendar.to_ical()


def _event(meeting, organiser_email):
    from icalendar import Alarm, Event, vCalAddress, vText

    event = Event()
    event.add("uid", f"meeting-{meeting.id}@{organiser_email.split('@')[-1]}")
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", utcnow())
    event.add("dtstart", meeting.starts_at.astimezone(OSLO))
    event.add("dtend", meeting.ends_at.astimezone(OSLO))
    event.add("summary", meeting.title)
    description = "\n\n".join(filter(None, [meeting.description, meeting.agenda, meeting.online_link]))
    if description:
        event.add("description", description)
    if meeting.place or meeting.online_link:
        event.add("location", meeting.place or meeting.online_link)
    if meeting.online_link:
        event.add("url", meeting.online_link)
    event.add("status", "CANCELLED" if meeting.status == MeetingStatus.CANCELLED else "CONFIRMED")
    organiser = vCalAddress(f"mailto:{organiser_email}")
    organiser.params["cn"] = vText("Migrasjonshelsenettverkene")
    event["organizer"] = organiser
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", meeting.title)
    alarm.add("trigger", timedelta(days=-1))
    event.add_component(alarm)
    return event


class Acknowledgement(db.Model):
    """A member confirmed receiving an emergency call-in."""

    __tablename__ = "acknowledgements"
    __table_args__ = (UniqueConstraint("meeting_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def called_in(meeting):
    """The active members of the meeting's networks, each once (someone in two networks gets one mail)."""
    from models.member import Member, active_in

    return db.session.scalars(active_in(n.id for n in meeting.networks).order_by(Member.name)).all()


EMERGENCY_PRIORITY = 10  # an emergency call-in passes other mail in the outbox


def call_in(meeting, only=None):
    """Mail every active member of the meeting's networks (once each; ``only``: just these member ids),
    ahead of other mail, composed once; the first call-in is also posted in the networks' Teams channels."""
    from models import teams, tokens
    from models.outbox import compose_each, link, queue_many

    members = [m for m in called_in(meeting) if only is None or m.id in only]
    with force_locale("nb"):
        title = str(_l("Emergency call-in: %(title)s", title=meeting.title))
        when = format_datetime(meeting.starts_at, "EEEE d. MMMM y HH:mm")
    if only is None:  # the channels hear of it once, not again with each repeat
        text = "\n\n".join(filter(None, [when, meeting.online_link, meeting.description,
                                          link("meetings.show", meeting_id=meeting.id)]))
        for network in meeting.networks:
            teams.post(network, title, text, "emergency_call_in", priority=EMERGENCY_PRIORITY)
    return queue_many(compose_each(
        ((member.email, {"name": member.name, "ack_url": link(
            "meetings.acknowledge", token=tokens.make("acknowledge", meeting=meeting.id, member=member.id))})
         for member in members),
        title, "emergency_call_in", personal=("name", "ack_url"), priority=EMERGENCY_PRIORITY, meeting=meeting,
        url=link("meetings.show", meeting_id=meeting.id),
    ))


def acknowledged_ids(meeting):
    return set(db.session.scalars(select(Acknowledgement.member_id).filter_by(meeting_id=meeting.id)))


def acknowledge(meeting, member):
    """Record that ``member`` received the call-in; True the first time, False after (nothing changes)."""
    if member.id in acknowledged_ids(meeting):
        return False
    insert = _insert(db.session.get_bind().dialect.name)
    inserted = db.session.execute(
        insert(Acknowledgement.__table__)
        .values(meeting_id=meeting.id, member_id=member.id, at=utcnow())
        .on_conflict_do_nothing()
        .returning(Acknowledgement.__table__.c.id)  # rowcount is -1 on PostgreSQL here
    ).first()
    return inserted is not None


REMIND_BEFORE = timedelta(hours=24)


def due_reminders(now=None):
    """Sign-ups for planned meetings starting within a day that have had no reminder."""
    now = now or utcnow()
    return db.session.scalars(
        select(Signup)
        .join(Meeting, Signup.meeting_id == Meeting.id)
        .where(
            Meeting.status == MeetingStatus.PLANNED,
            Meeting.starts_at > now,
            Meeting.starts_at <= now + REMIND_BEFORE,
            Signup.reminded_at.is_(None),
        )
    ).all()
