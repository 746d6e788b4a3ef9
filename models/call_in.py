"""Emergency call-ins (*beredskapshendelse*): every active member of the networks is mailed at once,
ahead of other mail, with a "received" link; the coordinator sees who has confirmed and may remind
those who have not – once per call-in, with its own subject.
"""

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from flask_babel import force_locale, format_datetime
from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Integer, UniqueConstraint, and_, exists, false, func, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from extensions import Model, db
from models import guard, search
from models.errors import DomainError
from models.meeting import Meeting, MeetingKind, MeetingStatus
from models.quota import insert_for
from models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Select

    from models.member import Member


class Acknowledgement(Model):
    """A member confirmed receiving an emergency call-in."""

    __tablename__ = "acknowledgements"
    __table_args__ = (UniqueConstraint("meeting_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def called_in(meeting: Meeting) -> "Sequence[Member]":
    """The active members of the meeting's networks, each once (someone in two networks gets one mail)."""
    from models.member import Member, active_in

    return db.session.scalars(active_in(n.id for n in meeting.networks).order_by(Member.name)).all()


EMERGENCY_PRIORITY = 10  # an emergency call-in passes other mail in the outbox


def call_in(meeting: Meeting, only: Collection[int] | None = None, reminder: bool = False) -> int:
    """Mail every active member of the meeting's networks (once each; ``only``: just these member ids),
    ahead of other mail, composed once; the first call-in is also posted in the networks' Teams channels.

    Called by ``meeting.plan`` for a call-in and by ``remind``; not an operation of its own.
    """
    from flask import current_app

    from models import cards, teams, tokens
    from models.calendar import ics
    from models.language import mail_locale_sql
    from models.member import Member, active_in
    from models.outbox import compose_each, link, queue_many

    people = db.session.execute(
        active_in(n.id for n in meeting.networks)
        .with_only_columns(Member.id, Member.name, Member.email, mail_locale_sql())
        .order_by(Member.name)
    ).all()
    # Lazy: each mail's subject is written in its recipient's form (``compose_each``).
    title = _l("Emergency call-in: %(title)s", title=meeting.title)
    subject = _l("Reminder: %(title)s", title=title) if reminder else title
    if only is None and not reminder:  # the channels hear of it once, not again with each repeat
        with force_locale("nb"):  # the networks' Teams channels are the Directorate's: bokmål
            post_title = str(title)
            when = format_datetime(meeting.starts_at, "EEEE d. MMMM y HH:mm")
            blocks = [
                cards.Block("text", f"**{_l('When')}:** {when}–{format_datetime(meeting.ends_at, 'HH:mm')}")
            ]
            if meeting.place:
                blocks.append(cards.Block("text", f"**{_l('Place')}:** {meeting.place}"))
            # The receipt is personal (a link in each member's own mail), so the channel gets no such button.
            blocks.append(
                cards.Block(
                    "text", str(_l("Everyone called in confirms receipt with the link in their own e-mail."))
                )
            )
            blocks += cards.from_text(meeting.description)
            if meeting.agenda:
                blocks += [cards.Block("heading", str(_l("Agenda"))), *cards.from_text(meeting.agenda)]
        buttons = [
            (_l("Join the meeting"), meeting.online_link),
            (_l("See the meeting"), link("meetings.show", meeting_id=meeting.id)),
        ]
        for network in meeting.networks:
            teams.post(
                network, post_title, blocks, "emergency_call_in", buttons=buttons, priority=EMERGENCY_PRIORITY
            )
    return queue_many(
        compose_each(
            (
                (
                    email,
                    locale,
                    {
                        "name": name,
                        "ack_url": link(
                            "meetings.acknowledge",
                            token=tokens.make("acknowledge", meeting=meeting.id, member=member_id),
                        ),
                    },
                )
                for member_id, name, email, locale in people
                if only is None or member_id in only
            ),
            subject,
            "emergency_call_in",
            personal=("name", "ack_url"),
            priority=EMERGENCY_PRIORITY,
            # The same calendar file for all (published, naming no attendee): start, end, agenda.
            ics=ics(meeting, current_app.config["MAIL_ORGANISER"]),
            mailing_list=("call-in", meeting.networks),
            meeting=meeting,
            url=link("meetings.show", meeting_id=meeting.id),
            reminder=reminder,
        )
    )


def acknowledged_ids(meeting: Meeting) -> set[int]:
    return set(db.session.scalars(select(Acknowledgement.member_id).filter_by(meeting_id=meeting.id)))


class ReceiptCounts(NamedTuple):
    called: int  # the active members of the call-in's networks, each once
    confirmed: int

    @property
    def waiting(self) -> int:
        return self.called - self.confirmed


def _received(meeting: Meeting) -> "ColumnElement[bool]":
    from models.member import Member

    return exists().where(Acknowledgement.meeting_id == meeting.id, Acknowledgement.member_id == Member.id)


def receipt_counts(meeting: Meeting) -> ReceiptCounts:
    """How many are called in and how many of them have confirmed (two counts in the database)."""
    from models.member import active_in

    called = active_in(n.id for n in meeting.networks)
    return ReceiptCounts(
        called=db.session.scalar(select(func.count()).select_from(called.subquery())) or 0,
        confirmed=db.session.scalar(
            select(func.count()).select_from(called.where(_received(meeting)).subquery())
        )
        or 0,
    )


class Waiting(NamedTuple):
    id: int
    name: str
    email: str
    organisation: str


def _waiting(meeting: Meeting, text: str | None) -> "Select[int, str, str, str]":
    from models.member import Member, active_in
    from models.organisation import Organisation

    query = (
        active_in(n.id for n in meeting.networks)
        .where(~_received(meeting))
        .join(Organisation, Organisation.id == Member.organisation_id)
        .with_only_columns(Member.id, Member.name, Member.email, Organisation.name)
    )
    found = search.terms(text)
    if found is not None:  # every word in the name or the organisation's name, or the text in the address
        query = query.where(
            or_(
                and_(*(search.any_matches([Member.search_key, Organisation.search_key], w) for w in found))
                if found
                else false(),
                Member.email.contains((text or "").strip().lower()[: search.LONGEST], autoescape=True),
            )
        )
    return query


def count_waiting(meeting: Meeting, text: str | None = None) -> int:
    """How many called in have not confirmed, among those whose name, address or organisation
    contains ``text``."""
    return db.session.scalar(select(func.count()).select_from(_waiting(meeting, text).subquery())) or 0


def waiting(meeting: Meeting, text: str | None = None, limit: int = 50, offset: int = 0) -> list[Waiting]:
    """A page of those called in who have not confirmed, by organisation and then name."""
    from models.member import Member
    from models.organisation import Organisation

    rows = db.session.execute(
        _waiting(meeting, text)
        .order_by(Organisation.name_folded, Organisation.id, Member.name_folded, Member.id)
        .limit(limit)
        .offset(offset)
    )
    return [Waiting(row[0], row[1], row[2], row[3]) for row in rows]


def acknowledge(meeting: Meeting, member: "Member") -> bool:
    """Record that ``member`` received the call-in; True the first time, False after (nothing changes).

    One ``INSERT … ON CONFLICT DO NOTHING``: two presses at the same moment store one receipt.
    """
    if meeting.kind != MeetingKind.EMERGENCY:
        raise DomainError(_l("Only an emergency call-in asks for a receipt."))
    inserted = db.session.execute(
        insert_for(db.session.get_bind().dialect.name)(Acknowledgement.__table__)
        .values(meeting_id=meeting.id, member_id=member.id, at=utcnow())
        .on_conflict_do_nothing()
        .returning(Acknowledgement.__table__.c.id)  # rowcount is -1 on PostgreSQL here
    ).first()
    return inserted is not None


def remind(meeting: Meeting) -> int:
    """Remind those called in who have not confirmed: once per call-in, with its own subject.

    The once is claimed by a conditional UPDATE of ``call_in_reminded_at`` (still empty, the call-in
    still planned): of two presses at the same moment one sends, the other is told it was sent.
    Returns how many were reminded.
    """
    if not meeting.is_call_in:
        raise DomainError(_l("Only an emergency call-in has a reminder."))
    now = utcnow()
    claimed = guard.claim(
        update(Meeting)
        .where(
            Meeting.id == meeting.id,
            Meeting.kind == MeetingKind.EMERGENCY,
            Meeting.status == MeetingStatus.PLANNED,
            Meeting.call_in_reminded_at.is_(None),
        )
        .values(call_in_reminded_at=now)
    )
    db.session.refresh(meeting)
    if not claimed:
        if meeting.call_in_reminded_at is not None:
            raise DomainError(_l("The reminder was already sent; it is sent once per call-in."))
        raise DomainError(_l("The call-in is over: no reminder can be sent."))
    done = acknowledged_ids(meeting)
    waiting = {m.id for m in called_in(meeting) if m.id not in done}
    count = call_in(meeting, only=waiting, reminder=True)
    from models import audit

    audit.record("meeting.call_in_reminded", subject=f"meeting:{meeting.id}", after={"reminded": count})
    return count
