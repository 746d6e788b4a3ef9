"""Sign-ups: who comes to a meeting, the invitation they get, attendance afterwards, the reminder
the day before.

Each operation takes the meeting's row first (``guard.lock``), so a sign-up, a withdrawal and a
cancellation of the same meeting at the same moment run one after the other, each seeing what the
one before it left: one sign-up and one invitation however often the button is pressed.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    CursorResult,
    ForeignKey,
    Integer,
    UniqueConstraint,
    delete,
    exists,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model, db
from models import guard
from models.calendar import invite
from models.errors import DomainError
from models.language import mail_locale
from models.meeting import Meeting, MeetingStatus
from models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Select

    from models.member import Member


class Signup(Model):
    """A member signed up for a meeting; attendance is recorded after it."""

    __tablename__ = "signups"
    __table_args__ = (UniqueConstraint("meeting_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attended: Mapped[bool | None] = mapped_column(Boolean)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    meeting: Mapped["Meeting"] = relationship("Meeting", back_populates="signups")
    member: Mapped["Member"] = relationship("Member")


Meeting.signups = relationship(
    "Signup", back_populates="meeting", cascade="all, delete-orphan", order_by="Signup.created_at"
)


class SignupRow(NamedTuple):
    member_id: int
    name: str
    organisation_id: int
    organisation: str
    attended: bool | None


def signup_rows(meeting: Meeting) -> list[SignupRow]:
    """Who signed up, in the order they did, as plain rows (hundreds for a network meeting: a list to
    read, so no ORM objects are built for it)."""
    from models.member import Member
    from models.organisation import Organisation

    return [
        SignupRow(*row)
        for row in db.session.execute(
            select(Signup.member_id, Member.name, Member.organisation_id, Organisation.name, Signup.attended)
            .join(Member, Member.id == Signup.member_id)
            .join(Organisation, Organisation.id == Member.organisation_id)
            .where(Signup.meeting_id == meeting.id)
            .order_by(Signup.created_at, Signup.id)
        )
    ]


def may_attend(member: "Member", meeting: Meeting) -> bool:
    """Active members of a network taking part, and its coordinators."""
    networks = {n.id for n in meeting.networks}
    return bool(networks & (member.active_network_ids | member.coordinated_network_ids))


def is_signed_up(member: "Member", meeting: Meeting) -> bool:
    return bool(
        db.session.scalar(
            select(exists().where(Signup.meeting_id == meeting.id, Signup.member_id == member.id))
        )
    )


def sign_up(member: "Member", meeting: Meeting) -> Signup:
    """Sign ``member`` up and send them the calendar invitation; refused if already signed up."""
    guard.lock(meeting)
    if not meeting.open_for_sign_up:
        raise DomainError(_l("Sign-up is closed for this meeting."))
    if not may_attend(member, meeting):
        raise DomainError(
            _l(
                "This meeting is for members of %(networks)s.",
                networks=", ".join(n.code for n in meeting.networks),
            )
        )
    if is_signed_up(member, meeting):
        raise DomainError(_l("You are already signed up."))
    signup = Signup(meeting_id=meeting.id, member=member)
    db.session.add(signup)
    db.session.flush()
    invite(member, meeting, _l("You are signed up: %(title)s", title=meeting.title))
    return signup


def withdraw(member: "Member", meeting: Meeting) -> None:
    """Take back a sign-up, while sign-up is open (afterwards the sign-up is the attendance record)."""
    guard.lock(meeting)
    if not meeting.open_for_sign_up:
        raise DomainError(_l("Sign-up is closed for this meeting."))
    result = db.session.execute(
        delete(Signup)
        .where(Signup.meeting_id == meeting.id, Signup.member_id == member.id)
        .execution_options(synchronize_session=False)
    )
    removed = cast("CursorResult[Any]", result).rowcount  # a DELETE's result
    if not removed:
        raise DomainError(_l("You are not signed up."))
    db.session.expire(meeting, ["signups"])


REMIND_BEFORE = timedelta(hours=24)


def _due(now: datetime) -> "Select[int]":
    return select(Meeting.id).where(
        Meeting.status == MeetingStatus.PLANNED,
        Meeting.starts_at > now,
        Meeting.starts_at <= now + REMIND_BEFORE,
    )


def due_reminders(now: datetime | None = None) -> Sequence[Signup]:
    """Sign-ups for planned meetings starting within a day that have had no reminder."""
    now = now or utcnow()
    return db.session.scalars(
        select(Signup).where(Signup.meeting_id.in_(_due(now)), Signup.reminded_at.is_(None))
    ).all()


def send_reminders(now: datetime | None = None) -> int:
    """Mail those signed up for a meeting starting within a day, once each (``flask meetings remind``).

    The sign-ups are claimed set-wise by one conditional ``UPDATE … RETURNING`` (``reminded_at``
    still empty): two runs at the same moment each get their own share, so each reminder goes once.
    """
    from models.member import Member
    from models.outbox import link, queue

    now = now or utcnow()
    claimed = guard.claim_rows(
        update(Signup)
        .where(Signup.meeting_id.in_(_due(now)), Signup.reminded_at.is_(None))
        .values(reminded_at=now)
        .returning(Signup.meeting_id, Signup.member_id)
    )
    if not claimed:
        return 0
    meetings = {
        m.id: m
        for m in db.session.scalars(
            select(Meeting).where(Meeting.id.in_({row.meeting_id for row in claimed}))
        )
    }
    members = {
        m.id: m
        for m in db.session.scalars(select(Member).where(Member.id.in_({row.member_id for row in claimed})))
    }
    for row in claimed:
        meeting, member = meetings[row.meeting_id], members[row.member_id]
        queue(
            member.email,
            _l("Reminder: %(title)s", title=meeting.title),
            "meeting_invite",
            locale=mail_locale(member),
            member=member,
            meeting=meeting,
            url=link("meetings.show", meeting_id=meeting.id),
        )
    return len(claimed)
