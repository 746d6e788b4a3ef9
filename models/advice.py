"""Requests for advice (*innspillsrunde*): members "may advise the Directorate's communication
work, normative products and emergency preparedness".

A coordinator posts a request (what is asked, a document link, a deadline) to one or more
networks; their active members are mailed, each once, and answer in the app until the deadline.
One reminder goes on its day, only to those who have not answered.

Every change takes or claims its row first (``models/guard.py``): posting and answering take the
member's row (the same request posted from two tabs is one request; an answer sent twice at once is
one answer row), the reminder is claimed by a conditional UPDATE (two cron runs at once send it
once).  ``may_answer`` is the rule the page shows and the operation keeps.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from extensions import Model, db
from models import audit, guard
from models.errors import DomainError
from models.language import mail_locale_sql
from models.member import Member, active_in
from models.network import Network, ToNetworks
from models.outbox import compose_each, link, queue_many
from models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Select

advice_request_networks = Table(
    "advice_request_networks",
    db.metadata,
    Column("request_id", ForeignKey("advice_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("network_id", ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True),
)


class AdviceRequest(ToNetworks, Model):
    __tablename__ = "advice_requests"
    __table_args__ = (CheckConstraint("remind_at < deadline", name="reminder_before_deadline"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    document_url: Mapped[str | None] = mapped_column(String(500))
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    remind_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))

    networks: Mapped[list["Network"]] = relationship(
        "Network", secondary=advice_request_networks, order_by="Network.id"
    )
    answers: Mapped[list["AdviceAnswer"]] = relationship(
        "AdviceAnswer", back_populates="request", cascade="all, delete-orphan", passive_deletes=True
    )
    created_by: Mapped["Member | None"] = relationship("Member")

    @property
    def batch(self) -> str:
        return f"advice:{self.id}"

    def is_open(self, now: datetime | None = None) -> bool:
        return (now or utcnow()) < self.deadline

    def may_answer(self, member: Member, now: datetime | None = None) -> bool:
        """Whether ``member`` may give or change an answer now: asked, and before the deadline."""
        return self.is_open(now) and self.asks(member)

    def asks(self, member: Member) -> bool:
        """Whether ``member`` is asked: active in one of its networks."""
        return member.deleted_at is None and bool({n.id for n in self.networks} & member.active_network_ids)


class AdviceAnswer(Model):
    __tablename__ = "advice_answers"
    __table_args__ = (UniqueConstraint("request_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("advice_requests.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    request: Mapped["AdviceRequest"] = relationship("AdviceRequest", back_populates="answers")
    member: Mapped["Member"] = relationship("Member")


def asked(request: AdviceRequest) -> "Select[Member]":
    """Who the request goes to: active in any of its networks, each once."""
    return active_in(n.id for n in request.networks)


def count_asked(request: AdviceRequest) -> int:
    return db.session.scalar(select(func.count()).select_from(asked(request).subquery())) or 0


def _mail(
    request: AdviceRequest, template: str, subject: str | LazyString, only_unanswered: bool = False
) -> int:
    query = asked(request).with_only_columns(Member.email, mail_locale_sql()).order_by(Member.id)
    if only_unanswered:
        query = query.where(
            ~Member.id.in_(select(AdviceAnswer.member_id).where(AdviceAnswer.request_id == request.id))
        )
    return queue_many(
        compose_each(
            ((email, locale, {}) for email, locale in db.session.execute(query)),
            subject,
            template,
            mailing_list=("advice", request.networks),
            request=request,
            url=link("advice.show", request_id=request.id),
            batch=request.batch,
        )
    )


def post(
    title: str,
    body: str,
    document_url: str | None,
    networks: Sequence[Network],
    deadline: datetime,
    remind_at: datetime,
    by: Member | None,
    now: datetime | None = None,
) -> tuple[AdviceRequest, int]:
    """Post a request to ``networks`` and mail their active members: (request, how many asked).

    The coordinator's row is taken first: the same request posted again (two tabs: same text, same
    networks and deadline) is the same request – not posted, nor mailed, twice."""
    now = now or utcnow()
    by = guard.lock(guard.real(by)) if by is not None else None
    if deadline <= now:
        raise DomainError(_l("The deadline must lie ahead."))
    if remind_at >= deadline:
        raise DomainError(_l("The reminder must come before the deadline."))
    if not networks:
        raise DomainError(_l("Choose at least one network."))
    if by is not None:
        for same in db.session.scalars(
            select(AdviceRequest).where(
                AdviceRequest.created_by_id == by.id,
                AdviceRequest.title == title,
                AdviceRequest.body == body,
                AdviceRequest.deadline == deadline,
                AdviceRequest.deadline > now,
            )
        ):
            if {n.id for n in same.networks} == {n.id for n in networks}:
                return same, count_asked(same)
    request = AdviceRequest(
        title=title,
        body=body,
        document_url=document_url or None,
        networks=list(networks),
        deadline=deadline,
        remind_at=remind_at,
        created_by=by,
        created_at=now,
    )
    db.session.add(request)
    db.session.flush()
    count = _mail(request, "advice_request", _l("Request for advice: %(title)s", title=title))
    audit.record(
        "advice.posted",
        subject=f"advice:{request.id}",
        after={
            "title": title,
            "networks": [n.code for n in networks],
            "asked": count,
            "deadline": deadline.isoformat(),
        },
    )
    return request, count


def remind(request: AdviceRequest, now: datetime | None = None) -> int:
    """The one reminder, to those asked who have not answered; 0 if it was already sent."""
    now = now or utcnow()
    if not guard.claim(
        update(AdviceRequest)
        .where(
            AdviceRequest.id == request.id, AdviceRequest.reminded_at.is_(None), AdviceRequest.deadline > now
        )
        .values(reminded_at=now)
    ):
        return 0
    count = _mail(
        request,
        "advice_reminder",
        _l("Reminder: request for advice: %(title)s", title=request.title),
        only_unanswered=True,
    )
    audit.record("advice.reminded", subject=f"advice:{request.id}", after={"reminded": count})
    db.session.expire(request)
    return count


def remind_due(now: datetime | None = None) -> int:
    """Send the reminders whose day has come (``flask advice remind``, run by cron); returns how many mails."""
    now = now or utcnow()
    due = db.session.scalars(
        select(AdviceRequest).where(
            AdviceRequest.reminded_at.is_(None), AdviceRequest.remind_at <= now, AdviceRequest.deadline > now
        )
    ).all()
    total = 0
    for request in due:
        total += remind(request, now)
        db.session.commit()
    return total


def answer(request: AdviceRequest, member: Member, body: str, now: datetime | None = None) -> AdviceAnswer:
    """Record or change ``member``'s answer while the request is open.

    The member's row is taken first, so the first answer sent twice at once (two tabs, a double
    click) is one row: the second finds the first and changes it – to the same text, which
    changes nothing."""
    now = now or utcnow()
    member = guard.lock(guard.real(member))
    if not request.is_open(now):
        raise DomainError(_l("The deadline has passed: answers are closed."))
    if not request.asks(member):
        raise DomainError(
            _l("This request is for the active members of %(networks)s.", networks=request.codes)
        )
    existing = db.session.scalar(select(AdviceAnswer).filter_by(request_id=request.id, member_id=member.id))
    if existing is None:
        existing = AdviceAnswer(request=request, member=member, body=body, answered_at=now)
        db.session.add(existing)
    elif existing.body != body:
        existing.body, existing.updated_at = body, now
    return existing


def answer_of(request: AdviceRequest, member: Member) -> AdviceAnswer | None:
    return db.session.scalar(select(AdviceAnswer).filter_by(request_id=request.id, member_id=member.id))


def answers(request: AdviceRequest) -> Sequence[AdviceAnswer]:
    return db.session.scalars(
        select(AdviceAnswer)
        .where(AdviceAnswer.request_id == request.id)
        .options(selectinload(AdviceAnswer.member).selectinload(Member.organisation))
        .order_by(AdviceAnswer.answered_at)
    ).all()


def open_for(member: Member, now: datetime | None = None) -> tuple[Sequence[AdviceRequest], set[int]]:
    """The open requests to ``member``'s networks, nearest deadline first, and their own answers."""
    now = now or utcnow()
    ids = member.active_network_ids
    requests = db.session.scalars(
        select(AdviceRequest)
        .where(AdviceRequest.deadline > now, AdviceRequest.networks.any(Network.id.in_(ids)))
        .options(selectinload(AdviceRequest.networks))
        .order_by(AdviceRequest.deadline)
    ).all()
    answered = set(
        db.session.scalars(
            select(AdviceAnswer.request_id).where(
                AdviceAnswer.member_id == member.id, AdviceAnswer.request_id.in_([r.id for r in requests])
            )
        )
    )
    return requests, answered


def managed_by(coordinator: Member) -> list[tuple[AdviceRequest, int]]:
    """Every request to networks the coordinator coordinates, newest first, with answer counts."""
    requests = [
        r
        for r in db.session.scalars(
            select(AdviceRequest)
            .options(selectinload(AdviceRequest.networks))
            .order_by(AdviceRequest.created_at.desc())
        )
        if r.managed_by(coordinator)
    ]
    counts = dict(
        db.session.execute(
            select(AdviceAnswer.request_id, func.count())
            .where(AdviceAnswer.request_id.in_([r.id for r in requests]))
            .group_by(AdviceAnswer.request_id)
        ).all()
    )
    return [(r, counts.get(r.id, 0)) for r in requests]
