"""The annual mandate review: is the network working to its purpose, and who is still on the list.

Once a year per network the coordinator opens a cycle: every active member is asked, by a
personal link, to confirm they take part (or leave), to check their line manager and unit, and
to score how well the network served each of its four purposes.  One reminder goes to those
who have not answered; at the deadline those who still have not are lapsed – off the list,
kept in history, restorable.  Opening and closing work in a fixed number of statements
whatever the number of members (bulk INSERT … SELECT and UPDATE, no per-member queries).

``flask reviews tick`` (cron) sends due reminders and closes due cycles; every step is
guarded by a conditional UPDATE, so running it twice – or in two places – does nothing twice.

Every change here is one operation that first takes or claims its row (``models/guard.py``):
starting (the network's row), answering (the response: the personal link is spent by a
conditional UPDATE before anything else happens), reminding and closing (the cycle), restoring
and taking oneself back (the response), recording a mandate version (the network's row).  So a
double click, two tabs, or a coordinator's early close at the moment the tick closes at the
deadline gives one effect and one clear answer.  The templates ask ``may_close``,
``may_restore`` and ``may_take_back``; the operations ask the same and refuse on a direct POST.
"""

import enum
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from flask_babel import LazyString, format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from extensions import Model, db
from models import audit, guard, tokens
from models.errors import DomainError
from models.language import mail_locale, mail_locale_sql
from models.member import Member
from models.membership import Membership, MembershipStatus, lapse_many
from models.notices import coordinators_of, notify
from models.outbox import OutboxMessage, compose_each, link, queue, queue_many
from models.types import LabelledEnum, UTCDateTime, string_enum, utcnow

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Select
    from sqlalchemy.orm import InstrumentedAttribute

    from models.network import Network

# A cycle's evaluation: {purpose key: {"answers", "mean", "counts", "comments"}, "change": {"comments"}}.
Summary = dict[str, dict[str, Any]]

# The network's four purposes, as the mandate states them; the evaluation asks about each.
PURPOSES = (
    ("competence", _l("Strengthen members' competence and cooperation in migration health")),
    ("equity", _l("Equitable services (Health and Care Services Act § 1-1 no. 4 and 5)")),
    (
        "public_health",
        _l("Reduce social inequality and promote long-term public health work (Public Health Act § 1)"),
    ),
    (
        "emergency",
        _l(
            "Strengthen communication with a diverse population in emergencies "
            "(Emergency Preparedness Regulation § 5, Health Preparedness Act § 2-2)"
        ),
    ),
)
SCALE = range(1, 6)
DEFAULT_DEADLINE = timedelta(weeks=3)
DEFAULT_REMINDER = timedelta(weeks=1)  # before the deadline
GRACE = timedelta(days=90)  # a lapsed member may take themself back this long after the close
LAPSE_REASON = "No answer to the yearly review"


class CycleStatus(LabelledEnum):
    OPEN = "open", _l("Open")
    CLOSED = "closed", _l("Closed")


class Decision(enum.StrEnum):
    STAY = "stay"
    LEAVE = "leave"


class MandateVersion(Model):
    """A version of a network's mandate; the current one is the latest in effect."""

    __tablename__ = "mandate_versions"
    __table_args__ = (UniqueConstraint("network_id", "effective_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    effective_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))

    network: Mapped["Network"] = relationship("Network")
    created_by: Mapped["Member | None"] = relationship("Member")


def mandate_history(network: "Network") -> Sequence[MandateVersion]:
    """The network's mandate versions, newest first."""
    return db.session.scalars(
        select(MandateVersion)
        .where(MandateVersion.network_id == network.id)
        .order_by(MandateVersion.effective_on.desc())
    ).all()


def current_mandate(network: "Network", on: date | None = None) -> MandateVersion | None:
    on = on or utcnow().date()
    return db.session.scalar(
        select(MandateVersion)
        .where(MandateVersion.network_id == network.id, MandateVersion.effective_on <= on)
        .order_by(MandateVersion.effective_on.desc())
        .limit(1)
    )


def record_mandate(
    network: "Network", text: str, effective_on: date, note: str | None = None, by: Member | None = None
) -> MandateVersion:
    """A new version of the mandate; one per date (the network's row is taken first, so two at once
    give one version and a clear refusal, not a refused INSERT)."""
    guard.lock(network)
    if db.session.scalar(
        select(MandateVersion.id).where(
            MandateVersion.network_id == network.id, MandateVersion.effective_on == effective_on
        )
    ):
        raise DomainError(_l("A version already takes effect on that date."))
    version = MandateVersion(network=network, text=text, effective_on=effective_on, note=note, created_by=by)
    db.session.add(version)
    db.session.flush()
    audit.record(
        "mandate.recorded",
        network=network,
        subject=f"mandate:{version.id}",
        after={"effective_on": effective_on.isoformat()},
        reason=note,
    )
    return version


class ReviewCycle(Model):
    __tablename__ = "review_cycles"
    __table_args__ = (
        UniqueConstraint("network_id", "year"),
        CheckConstraint("remind_at < deadline", name="reminder_before_deadline"),
        CheckConstraint("status = 'open' OR closed_at IS NOT NULL", name="closed_has_time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    status: Mapped[CycleStatus] = mapped_column(string_enum(CycleStatus, "review_status", 10), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    remind_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    mandate_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("mandate_versions.id", ondelete="SET NULL")
    )

    network: Mapped["Network"] = relationship("Network")
    opened_by: Mapped["Member | None"] = relationship("Member")
    mandate_version: Mapped["MandateVersion | None"] = relationship("MandateVersion")

    @property
    def is_open(self) -> bool:
        return self.status == CycleStatus.OPEN

    @property
    def may_close(self) -> bool:
        """Whether it can be closed (early by the coordinator, or by the tick at the deadline): while open."""
        return self.status == CycleStatus.OPEN


class ReviewFigures(Model):
    """A closed cycle's results, computed once at its close (in the closing transaction) and never
    changed: who was asked and answered, the evaluation and the answers by day.  Counts only, nothing
    about a person.  The primary key refuses a second row; the migration's trigger refuses an UPDATE."""

    __tablename__ = "review_figures"

    cycle_id: Mapped[int] = mapped_column(
        ForeignKey("review_cycles.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    asked: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    lapsed: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    days: Mapped[list[list[Any]]] = mapped_column(JSON)  # [[iso day, answers that day, so far]]
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReviewResponse(Model):
    """One member's part in a cycle: asked, reminded, answered – or lapsed, and perhaps restored."""

    __tablename__ = "review_responses"
    __table_args__ = (
        UniqueConstraint("cycle_id", "member_id"),
        CheckConstraint("decision IS NULL OR answered_at IS NOT NULL", name="decision_has_time"),
        # an open cycle's counts (``results``) read from the index alone
        Index("ix_review_responses_cycle_answered", "cycle_id", "answered_at"),
        *(
            CheckConstraint(f"score_{key} BETWEEN 1 AND 5", name=f"score_{key}_on_scale")
            for key, _ in PURPOSES
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("review_cycles.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id", ondelete="SET NULL"))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision: Mapped[Decision | None] = mapped_column(string_enum(Decision, "review_decision", 10))
    score_competence: Mapped[int | None] = mapped_column(Integer)
    score_equity: Mapped[int | None] = mapped_column(Integer)
    score_public_health: Mapped[int | None] = mapped_column(Integer)
    score_emergency: Mapped[int | None] = mapped_column(Integer)
    comment_competence: Mapped[str | None] = mapped_column(Text)
    comment_equity: Mapped[str | None] = mapped_column(Text)
    comment_public_health: Mapped[str | None] = mapped_column(Text)
    comment_emergency: Mapped[str | None] = mapped_column(Text)
    change_wish: Mapped[str | None] = mapped_column(Text)
    lapsed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    restored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    cycle: Mapped["ReviewCycle"] = relationship("ReviewCycle")
    member: Mapped["Member"] = relationship("Member")
    membership: Mapped["Membership | None"] = relationship("Membership")

    def score(self, key: str) -> int | None:
        value: int | None = getattr(self, f"score_{key}")
        return value

    def comment(self, key: str) -> str | None:
        value: str | None = getattr(self, f"comment_{key}")
        return value

    @property
    def may_restore(self) -> bool:
        """Whether the member can be put back on the list: the review lapsed them, no one has restored
        them since, and the membership is still the lapsed one."""
        return (
            self.lapsed_at is not None
            and self.restored_at is None
            and self.membership is not None
            and self.membership.status == MembershipStatus.LAPSED
        )

    def may_take_back(self, member: Member, now: datetime | None = None) -> bool:
        """Whether ``member`` may put themself back: their own lapse, within GRACE of it."""
        return (
            self.member_id == member.id
            and self.may_restore
            and self.lapsed_at is not None  # (``may_restore`` says so; the checker cannot see it)
            and self.lapsed_at >= (now or utcnow()) - GRACE
        )


# -- opening -----------------------------------------------------------------------------------


def asked(network: "Network") -> "Select[int, int]":
    """Who a cycle opened now would ask: the network's active members."""
    return (
        select(Membership.id, Membership.member_id)
        .join(Member, Member.id == Membership.member_id)
        .where(
            Membership.network_id == network.id,
            Membership.status == MembershipStatus.ACTIVE,
            Member.deleted_at.is_(None),
        )
    )


def count_asked(network: "Network") -> int:
    return db.session.scalar(select(func.count()).select_from(asked(network).subquery())) or 0


def check_dates(
    network: "Network", year: int, deadline: datetime, remind_at: datetime, now: datetime | None = None
) -> LazyString | None:
    """Why a cycle with these dates cannot open (nor one in a network with no active members), or None."""
    now = now or utcnow()
    if deadline <= now:
        return _l("The deadline must lie ahead.")
    if remind_at >= deadline:  # a reminder date already past goes at the next tick
        return _l("The reminder must come before the deadline.")
    if db.session.scalar(
        select(ReviewCycle.id).where(ReviewCycle.network_id == network.id, ReviewCycle.year == year)
    ):
        return _l("%(network)s has already had its review for %(year)s.", network=network.code, year=year)
    if not count_asked(network):
        return _l(
            "%(network)s has no active members: there is nobody to ask, so the review cannot start.",
            network=network.code,
        )
    return None


def open_cycle(
    network: "Network",
    year: int,
    deadline: datetime,
    remind_at: datetime,
    opened_by: Member | None = None,
    now: datetime | None = None,
) -> "ReviewCycle":
    """Open the year's cycle and ask every active member, by mail, in a fixed number of statements.

    The network's row is taken first: a second start at the same moment waits, then finds the
    year's cycle and is refused ("already had its review"), so one cycle and one mail per member."""
    now = now or utcnow()
    guard.lock(network)
    problem = check_dates(network, year, deadline, remind_at, now)
    if problem:
        raise DomainError(problem)
    cycle = ReviewCycle(
        network=network,
        year=year,
        status=CycleStatus.OPEN,
        opened_at=now,
        deadline=deadline,
        remind_at=remind_at,
        opened_by=opened_by,
        mandate_version=current_mandate(network, now.date()),
    )
    db.session.add(cycle)
    db.session.flush()
    people = asked(network).subquery()
    db.session.execute(
        insert(ReviewResponse).from_select(
            ["cycle_id", "member_id", "membership_id", "asked_at"],
            select(literal(cycle.id), people.c.member_id, people.c.id, literal(now, UTCDateTime)),
        )
    )
    count = _mail(
        cycle,
        "review_request",
        _l("The yearly review of %(network)s: do you still take part?", network=network.code),
    )
    audit.record(
        "review.opened",
        network=network,
        subject=f"review:{cycle.id}",
        after={"year": year, "asked": count, "deadline": deadline.isoformat()},
    )
    return cycle


def _mail(cycle: ReviewCycle, template: str, subject: str | LazyString, only_unanswered: bool = False) -> int:
    """One mail per response of the cycle (each with its personal link), in one batched INSERT."""
    query = (
        select(ReviewResponse.id, Member.name, Member.email, mail_locale_sql())
        .join(Member, Member.id == ReviewResponse.member_id)
        .where(ReviewResponse.cycle_id == cycle.id)
        .order_by(ReviewResponse.id)
    )
    if only_unanswered:
        query = query.where(ReviewResponse.answered_at.is_(None))
    return queue_many(
        compose_each(
            (
                (
                    email,
                    locale,
                    {
                        "name": name,
                        "url": link("reviews.answer", token=tokens.make("review", response=response_id)),
                    },
                )
                for response_id, name, email, locale in db.session.execute(query)
            ),
            subject,
            template,
            personal=("name", "url"),
            mailing_list=("review", [cycle.network]),
            cycle=cycle,
            network=cycle.network,
        )
    )


# -- reminding and closing ---------------------------------------------------------------------


def remind(cycle: ReviewCycle, now: datetime | None = None) -> int:
    """The one reminder, to those who have not answered; False if it was already sent."""
    now = now or utcnow()
    if not guard.claim(
        update(ReviewCycle)
        .where(
            ReviewCycle.id == cycle.id,
            ReviewCycle.reminded_at.is_(None),
            ReviewCycle.status == CycleStatus.OPEN,
        )
        .values(reminded_at=now)
    ):
        return 0
    db.session.execute(
        update(ReviewResponse)
        .where(ReviewResponse.cycle_id == cycle.id, ReviewResponse.answered_at.is_(None))
        .values(reminded_at=now)
        .execution_options(synchronize_session=False)
    )
    count = _mail(
        cycle,
        "review_reminder",
        _l("Reminder: the yearly review of %(network)s", network=cycle.network.code),
        only_unanswered=True,
    )
    audit.record(
        "review.reminded", network=cycle.network, subject=f"review:{cycle.id}", after={"reminded": count}
    )
    db.session.expire(cycle)
    return count


def unanswered(cycle: ReviewCycle) -> "Select[int | None]":
    """The memberships a close would lapse: asked, not answered, still active."""
    return (
        select(ReviewResponse.membership_id)
        .join(Membership, Membership.id == ReviewResponse.membership_id)
        .where(
            ReviewResponse.cycle_id == cycle.id,
            ReviewResponse.answered_at.is_(None),
            Membership.status == MembershipStatus.ACTIVE,
        )
    )


def close(cycle: ReviewCycle, now: datetime | None = None) -> int:
    """Close the cycle: those who did not answer are lapsed (audited, restorable).  Returns how many.

    The cycle is claimed by a conditional UPDATE first: of two closes at the same moment (the
    coordinator's early close pressed twice, or at the moment the tick closes at the deadline) one
    closes and the other is refused with "already closed" – nothing is lapsed or audited twice.
    An answer being given at that moment is either in (it is not lapsed) or refused: the lapse
    takes only responses still unanswered when it writes them."""
    now = now or utcnow()
    if not guard.claim(
        update(ReviewCycle)
        .where(ReviewCycle.id == cycle.id, ReviewCycle.status == CycleStatus.OPEN)
        .values(status=CycleStatus.CLOSED, closed_at=now)
    ):
        raise DomainError(_l("The review is already closed."))
    db.session.execute(
        update(ReviewResponse)
        .where(
            ReviewResponse.cycle_id == cycle.id,
            ReviewResponse.answered_at.is_(None),
            ReviewResponse.lapsed_at.is_(None),
            ReviewResponse.membership_id.in_(
                select(Membership.id).where(Membership.status == MembershipStatus.ACTIVE)
            ),
        )
        .values(lapsed_at=now)
        .execution_options(synchronize_session=False)
    )
    lapsing = select(ReviewResponse.membership_id).where(
        ReviewResponse.cycle_id == cycle.id, ReviewResponse.lapsed_at.is_not(None)
    )
    vacated = _main_contacts_among(lapsing)
    count = lapse_many(lapsing, LAPSE_REASON)
    store_results(cycle, now)  # the figures, once, as they stand at the close
    audit.record(
        "review.closed", network=cycle.network, subject=f"review:{cycle.id}", after={"lapsed": count}
    )
    db.session.expire(cycle)
    if count:  # told in the same guarded operation: a second close is refused above, so mails once
        _tell_the_lapsed(cycle, now)
        _tell_coordinators(cycle, count, vacated)
    return count


def _main_contacts_among(memberships: "Select[int | None]") -> list[tuple[str, str]]:
    """[(organisation, member)] of the active main contacts among ``memberships``, by organisation:
    the roles their lapse will vacate."""
    from models.organisation import Organisation

    return [
        (organisation, name)
        for organisation, name in db.session.execute(
            select(Organisation.name, Member.name)
            .join(Membership, Membership.organisation_id == Organisation.id)
            .join(Member, Member.id == Membership.member_id)
            .where(
                Membership.id.in_(memberships),
                Membership.status == MembershipStatus.ACTIVE,
                Membership.is_main_contact,
            )
            .order_by(Organisation.name, Member.name)
        )
    ]


def take_back_link(response_id: int, locale: str) -> str:
    """The one-click way back a lapsed member is mailed: the link itself proves the mailbox; its
    page opens in the written form of the mail (``?lang=``)."""
    return link("reviews.come_back", token=tokens.make("take_back", response=response_id), lang=locale)


def _tell_the_lapsed(cycle: ReviewCycle, now: datetime) -> int:
    """One mail to each member the close lapsed, in their written form (composed once per form):
    off the list, and how to come back with one click within GRACE."""
    query = (
        select(ReviewResponse.id, Member.name, Member.email, mail_locale_sql())
        .join(Member, Member.id == ReviewResponse.member_id)
        .where(
            ReviewResponse.cycle_id == cycle.id,
            ReviewResponse.lapsed_at.is_not(None),
            ReviewResponse.restored_at.is_(None),
            Member.deleted_at.is_(None),
        )
        .order_by(ReviewResponse.id)
    )
    return queue_many(
        compose_each(
            (
                (email, locale, {"name": name, "url": take_back_link(response_id, locale)})
                for response_id, name, email, locale in db.session.execute(query)
            ),
            _l("You are no longer on the member list of %(network)s", network=cycle.network.code),
            "review_lapsed",
            personal=("name", "url"),
            cycle=cycle,
            network=cycle.network,
            until=now + GRACE,
        )
    )


def _tell_coordinators(cycle: ReviewCycle, lapsed: int, vacated: list[tuple[str, str]]) -> None:
    """One digest to each coordinator of the network: how many lapsed, which main-contact roles fell vacant."""
    for role in coordinators_of(cycle.network):
        coordinator = role.member
        if coordinator is None or coordinator.deleted_at is not None:
            continue
        queue(
            coordinator.email,
            _l("The yearly review of %(network)s is closed", network=cycle.network.code),
            "review_closed",
            locale=mail_locale(coordinator),
            name=coordinator.name,
            cycle=cycle,
            network=cycle.network,
            lapsed=lapsed,
            vacated=vacated,
            grace_days=GRACE.days,
            url=link("reviews.cycle", cycle_id=cycle.id),
        )


def tick(now: datetime | None = None) -> dict[str, int]:
    """Send the reminders and close the cycles that are due: {"reminded": n, "closed": n, "lapsed": n}."""
    now = now or utcnow()
    done = {"reminded": 0, "closed": 0, "lapsed": 0}
    for cycle in db.session.scalars(select(ReviewCycle).where(ReviewCycle.status == CycleStatus.OPEN)).all():
        if cycle.deadline <= now:
            try:
                lapsed = close(cycle, now)
            except DomainError:  # closed meanwhile (the coordinator, or another tick): nothing to do
                db.session.rollback()
                continue
            done["closed"] += 1
            done["lapsed"] += lapsed
        elif cycle.remind_at <= now and cycle.reminded_at is None:
            done["reminded"] += remind(cycle, now)
        db.session.commit()
    return done


# -- answering and restoring -------------------------------------------------------------------


def response_for(token: str) -> ReviewResponse:
    """The response a review link is for; TokenError if the link is not one."""
    payload = tokens.read("review", token)
    response = db.session.get(ReviewResponse, payload.get("response") or 0)
    if response is None:
        raise tokens.TokenError(_l("This link is not valid. Check that you copied all of it."))
    return response


def answerable(response: ReviewResponse, now: datetime | None = None) -> LazyString | None:
    """Why this response cannot be answered now, or None."""
    now = now or utcnow()
    if response.answered_at is not None:
        return _l("You answered on %(date)s. Thank you!", date=format_date(response.answered_at, "d. MMMM y"))
    if (
        response.cycle.status != CycleStatus.OPEN
        or response.cycle.deadline <= now
        or response.lapsed_at is not None
    ):
        return _l("The review closed on %(date)s.", date=format_date(response.cycle.deadline, "d. MMMM y"))
    return None


def answer(
    response: ReviewResponse,
    stay: bool,
    scores: dict[str, int | None],
    comments: dict[str, str | None],
    change_wish: str | None = None,
    unit: str | None = None,
    manager_name: str | None = None,
    manager_email: str | None = None,
    now: datetime | None = None,
) -> None:
    """Record the answer, once: the personal link is spent first.  ``scores``/``comments``: {purpose key: value}.

    The response is claimed by a conditional UPDATE (still unanswered, not lapsed, its cycle open
    and before the deadline) before anything else happens; a second answer at the same moment (a
    double click, two tabs) waits for the first and is refused with "you answered on …" – no second
    audit entry, line-manager request or mail.  Staying records the unit and the line manager (a new
    manager is asked to confirm); leaving takes the member off the list.
    """
    now = now or utcnow()
    decision = Decision.STAY if stay else Decision.LEAVE
    cycle_open = (
        select(ReviewCycle.id)
        .where(
            ReviewCycle.id == ReviewResponse.cycle_id,
            ReviewCycle.status == CycleStatus.OPEN,
            ReviewCycle.deadline > now,
        )
        .exists()
    )
    if not guard.claim(
        update(ReviewResponse)
        .where(
            ReviewResponse.id == response.id,
            ReviewResponse.answered_at.is_(None),
            ReviewResponse.lapsed_at.is_(None),
            cycle_open,
        )
        .values(answered_at=now, decision=decision)
    ):
        db.session.refresh(response)
        db.session.refresh(response.cycle)
        raise DomainError(answerable(response, now) or _l("This review can no longer be answered."))
    db.session.refresh(response)
    for key, _label in PURPOSES:
        setattr(response, f"score_{key}", scores.get(key))
        setattr(response, f"comment_{key}", comments.get(key) or None)
    response.change_wish = change_wish or None
    member = response.member.take()  # as every change of a member's details or memberships starts
    if stay:
        if unit is not None:
            member.unit = unit
        if manager_email is not None and member.change_manager(manager_name, manager_email):
            from models.accounts import request_anchoring

            request_anchoring(member)
    elif response.membership is not None:
        membership = response.membership
        if membership.status == MembershipStatus.ACTIVE:
            membership.leave("Left in the yearly review")
    audit.record(
        "review.answered",
        member=member,
        network=response.cycle.network,
        subject=f"review:{response.cycle_id}",
        after={"decision": decision},
    )


def _claim_restore(response: ReviewResponse, now: datetime, *conditions: "ColumnElement[bool]") -> None:
    """Take the lapse back, once: of two restores at the same moment (the coordinator's and the
    member's own, or either pressed twice) one wins and the other is refused."""
    if not guard.claim(
        update(ReviewResponse)
        .where(
            ReviewResponse.id == response.id,
            ReviewResponse.lapsed_at.is_not(None),
            ReviewResponse.restored_at.is_(None),
            *conditions,
        )
        .values(restored_at=now)
    ):
        db.session.refresh(response)
        if response.restored_at is not None:
            raise DomainError(_l("%(name)s is already back on the list.", name=response.member.name))
        raise DomainError(_l("Only a member the review lapsed can be restored."))
    db.session.refresh(response)
    membership = response.membership
    if membership is None or guard.lock(membership).status != MembershipStatus.LAPSED:
        raise DomainError(_l("Only a member the review lapsed can be restored."))
    membership.restore()


def restore(response: ReviewResponse, now: datetime | None = None) -> None:
    """The coordinator puts a lapsed member back on the list (at any time); the member is told."""
    now = now or utcnow()
    _claim_restore(response, now)
    notify(
        response.member,
        _l("You are back on the list"),
        _l(
            "The coordinator has put you back on the member list of %(network)s.",
            network=response.cycle.network.code,
        ),
        endpoint="account.index",
    )


def take_back(response: ReviewResponse, member: Member, now: datetime | None = None) -> None:
    """The member puts themself back on the list, within GRACE of the lapse."""
    now = now or utcnow()
    if response.member_id != member.id:
        raise DomainError(_l("Only a member the review lapsed can be restored."))
    if response.restored_at is None and response.lapsed_at is not None and response.lapsed_at < now - GRACE:
        raise DomainError(
            _l(
                "More than %(days)s days have passed since you were taken off the list: "
                "ask the coordinator to put you back.",
                days=GRACE.days,
            )
        )
    _claim_restore(
        response, now, ReviewResponse.member_id == member.id, ReviewResponse.lapsed_at >= now - GRACE
    )


def take_back_refusal(response: ReviewResponse, now: datetime | None = None) -> LazyString | None:
    """Why the member cannot take themself back with the mailed link now, or None."""
    now = now or utcnow()
    if response.restored_at is not None:
        return _l(
            "You are already back on the member list of %(network)s.", network=response.cycle.network.code
        )
    if not response.may_restore:
        return _l("Only a member the review lapsed can be restored.")
    if not response.may_take_back(response.member, now):
        return _l(
            "More than %(days)s days have passed since you were taken off the list: "
            "ask the coordinator to put you back.",
            days=GRACE.days,
        )
    return None


def take_back_by_link(response: ReviewResponse, now: datetime | None = None) -> None:
    """The member takes themself back with the link mailed at the close (no sign-in: the link
    proves the mailbox); the same rule and the same once-only claim as ``take_back``."""
    with audit.acting_as(response.member):
        take_back(response, response.member, now)


def response_for_take_back(token: str) -> ReviewResponse:
    """The response a mailed take-back link is for; TokenError if the link is not one."""
    payload = tokens.read("take_back", token)
    response = db.session.get(ReviewResponse, payload.get("response") or 0)
    if response is None or response.member.deleted_at is not None:
        raise tokens.TokenError(_l("This link is not valid. Check that you copied all of it."))
    return response


def restorable_by_member(member: Member, now: datetime | None = None) -> Sequence[ReviewResponse]:
    """The member's own lapses they may still undo themself (within the grace period)."""
    now = now or utcnow()
    return db.session.scalars(
        select(ReviewResponse)
        .join(Membership, Membership.id == ReviewResponse.membership_id)
        .where(
            ReviewResponse.member_id == member.id,
            ReviewResponse.lapsed_at >= now - GRACE,
            ReviewResponse.restored_at.is_(None),
            Membership.status == MembershipStatus.LAPSED,
        )
    ).all()


# -- results -----------------------------------------------------------------------------------


def rows(
    cycle: ReviewCycle, limit: int | None = None, offset: int = 0, lapsed: bool = False
) -> Sequence[Row[ReviewResponse, Member, bool]]:
    """The cycle's responses with their member (and organisation) and whether mail to them bounced,
    by name; a page of them with ``limit``; with ``lapsed``, only those taken off the list."""
    bounced = exists().where(OutboxMessage.recipient == Member.email, OutboxMessage.bounced)
    query = (
        select(ReviewResponse, Member, bounced.label("bounced"))
        .join(Member, Member.id == ReviewResponse.member_id)
        .where(ReviewResponse.cycle_id == cycle.id)
        .options(joinedload(Member.organisation), joinedload(ReviewResponse.membership))
        .order_by(Member.name_folded, Member.id)  # walks the members' name index
        .limit(limit)
        .offset(offset)
    )
    if lapsed:
        query = query.where(ReviewResponse.lapsed_at.is_not(None))
    return db.session.execute(query).all()


def answer_rows(
    cycle: ReviewCycle, limit: int | None = None, offset: int = 0, lapsed: bool = False
) -> Sequence[Row[Any]]:
    """What the results page lists, as plain rows (no objects built): each response's id, decision,
    times and scores, its member's name, address and organisation, whether mail to them bounced, and
    whether they may be restored; by name, a page with ``limit``; with ``lapsed``, only the lapsed."""
    from models.organisation import Organisation

    bounced = exists().where(OutboxMessage.recipient == Member.email, OutboxMessage.bounced)
    restorable = and_(
        ReviewResponse.lapsed_at.is_not(None),
        ReviewResponse.restored_at.is_(None),
        Membership.status == MembershipStatus.LAPSED,
    )
    # The page's responses first (by name: the members' name index, or a sort of two columns), then
    # only those rows joined to the rest – the bounce check and the joins run for 50 rows, not all.
    chosen = (
        select(ReviewResponse.id)
        .join(Member, Member.id == ReviewResponse.member_id)
        .where(ReviewResponse.cycle_id == cycle.id)
        .order_by(Member.name_folded, Member.id)
        .limit(limit)
        .offset(offset)
    )
    if lapsed:
        chosen = chosen.where(ReviewResponse.lapsed_at.is_not(None))
    page = chosen.subquery()
    query = (
        select(
            ReviewResponse.id,
            ReviewResponse.decision,
            ReviewResponse.answered_at,
            ReviewResponse.lapsed_at,
            ReviewResponse.restored_at,
            *[getattr(ReviewResponse, f"score_{key}").label(key) for key, _label in PURPOSES],
            Member.name,
            Member.email,
            Organisation.name.label("organisation"),
            bounced.label("bounced"),
            case((restorable, True), else_=False).label("may_restore"),
        )
        .join(page, page.c.id == ReviewResponse.id)
        .join(Member, Member.id == ReviewResponse.member_id)
        .outerjoin(Organisation, Organisation.id == Member.organisation_id)
        .outerjoin(Membership, Membership.id == ReviewResponse.membership_id)
        .order_by(Member.name_folded, Member.id)
    )
    return db.session.execute(query).all()


COMMENT_KEYS = (*(key for key, _label in PURPOSES), "change")


def _comment_column(key: str) -> "InstrumentedAttribute[str | None]":
    column: InstrumentedAttribute[str | None] = (
        ReviewResponse.change_wish if key == "change" else getattr(ReviewResponse, f"comment_{key}")
    )
    return column


def written(cycle: ReviewCycle, keys: Iterable[str] = COMMENT_KEYS) -> dict[str, list[str]]:
    """The free text of the cycle's answers: {purpose key: [comments], "change": [what should change]}
    for the ``keys`` asked, read as plain columns (no rows built for the answers without text)."""
    keys = tuple(keys)
    texts = [_comment_column(key) for key in keys]
    found: dict[str, list[str]] = {key: [] for key in keys}
    for values in db.session.execute(
        select(*texts)
        .where(ReviewResponse.cycle_id == cycle.id, or_(*[t.is_not(None) for t in texts]))
        .order_by(ReviewResponse.answered_at, ReviewResponse.id)
    ):
        for key, value in zip(keys, values, strict=True):
            if value:
                found[key].append(value)
    return found


class Results(NamedTuple):
    """A cycle's figures: who was asked, answered and lapsed, the evaluation, and the answers by day."""

    asked: int
    answered: int
    lapsed: int
    summary: Summary
    days: list[tuple[date, int, int]]  # (day, answers that day, answered so far)


def _days(counts: Iterable[Sequence[Any]]) -> list[tuple[date, int, int]]:
    total, result = 0, list[tuple[date, int, int]]()
    for when, count in counts:
        total += count
        result.append((date.fromisoformat(str(when)[:10]), int(count), total))
    return result


def live_results(cycle: ReviewCycle) -> Results:
    """The figures read from the answers, in two queries: one pass over the cycle's responses for
    the counts, and the answers by day (the day as the database's ``date()`` of the UTC time)."""
    columns: list[ColumnElement[Any]] = [
        func.count(ReviewResponse.id),
        func.count(ReviewResponse.answered_at),
        func.count(ReviewResponse.lapsed_at),
        *[func.count(_comment_column(key)) for key in COMMENT_KEYS],
    ]
    for key, _label in PURPOSES:
        column = getattr(ReviewResponse, f"score_{key}")
        columns += [func.count(column), func.avg(column)]
        columns += [func.sum(case((column == value, 1), else_=0)) for value in SCALE]
    asked, answered, lapsed, *values = db.session.execute(
        select(*columns).where(ReviewResponse.cycle_id == cycle.id)
    ).one()
    if not asked:
        return Results(0, 0, 0, _empty_summary(), [])
    comments = dict(zip(COMMENT_KEYS, values[: len(COMMENT_KEYS)], strict=True))
    values, step = values[len(COMMENT_KEYS) :], 2 + len(SCALE)
    found: Summary = {"change": {"comments": comments["change"]}}
    for i, (key, _label) in enumerate(PURPOSES):
        chunk = values[i * step : (i + 1) * step]
        found[key] = {
            "answers": chunk[0],
            "mean": float(chunk[1]) if chunk[1] is not None else None,
            "counts": [int(v or 0) for v in chunk[2:]],
            "comments": comments[key],
        }
    day = func.date(ReviewResponse.answered_at)
    days = _days(
        db.session.execute(
            select(day, func.count())
            .where(ReviewResponse.cycle_id == cycle.id, ReviewResponse.answered_at.is_not(None))
            .group_by(day)
            .order_by(day)
        ).all()
    )
    return Results(asked, answered, lapsed, found, days)


def store_results(cycle: ReviewCycle, now: datetime | None = None) -> Results:
    """Compute the figures once and keep them (``close`` calls it in the closing transaction, after
    the lapse).  A second store for the same cycle is refused by the primary key."""
    results = live_results(cycle)
    db.session.execute(
        insert(ReviewFigures).values(
            cycle_id=cycle.id,
            asked=results.asked,
            answered=results.answered,
            lapsed=results.lapsed,
            summary=results.summary,
            days=[[day.isoformat(), count, total] for day, count, total in results.days],
            computed_at=now or utcnow(),
        )
    )
    return results


def _stored(row: ReviewFigures) -> Results:
    return Results(
        row.asked,
        row.answered,
        row.lapsed,
        row.summary,
        [(date.fromisoformat(day), count, total) for day, count, total in row.days],
    )


# An open cycle's figures, kept per process: keyed by the cycle and what any new answer changes
# (how many asked and answered, and the last answer's time), read from the (cycle_id, answered_at)
# index in one cheap query; a new answer makes a new key, so the figures are read anew from the
# answers – exact whatever the number of answers at once.  Held on the app, so one app's cache
# never serves another's database.
OPEN_CACHE_SIZE = 64


def _cache() -> dict[tuple[Any, ...], Results]:
    from flask import current_app

    cache: dict[tuple[Any, ...], Results] = current_app.extensions.setdefault("review_results", {})
    return cache


def results(cycle: ReviewCycle) -> Results:
    """The cycle's figures: a closed cycle's as stored at its close (one read by primary key, no
    aggregate over the answers); an open cycle's read from the answers when one has come since."""
    if not cycle.is_open:
        row = db.session.get(ReviewFigures, cycle.id)
        if row is not None:
            return _stored(row)
        return live_results(cycle)  # closed before the figures were kept and not filled: read them
    key = (
        cycle.id,
        cycle.opened_at,
        *db.session.execute(
            select(
                func.count(), func.count(ReviewResponse.answered_at), func.max(ReviewResponse.answered_at)
            ).where(ReviewResponse.cycle_id == cycle.id)
        ).one(),
    )
    cache = _cache()
    found = cache.get(key)
    if found is None:
        if len(cache) >= OPEN_CACHE_SIZE:
            cache.clear()  # (one step, safe beside another thread of the worker)
        found = cache[key] = live_results(cycle)
    return found


def progress(cycle: ReviewCycle) -> tuple[int, int]:
    """(asked, answered): two counts, not the whole evaluation ``figures`` reads."""
    asked, answered = db.session.execute(
        select(func.count(ReviewResponse.id), func.count(ReviewResponse.answered_at)).where(
            ReviewResponse.cycle_id == cycle.id
        )
    ).one()
    return asked, answered


def _empty_summary() -> Summary:
    return {
        **{
            key: {"answers": 0, "mean": None, "counts": [0] * len(SCALE), "comments": 0}
            for key, _label in PURPOSES
        },
        "change": {"comments": 0},
    }


def earlier(
    cycle: ReviewCycle,
) -> list[tuple[ReviewCycle, tuple[int, int], dict[str, dict[str, float | None]]]]:
    """The network's earlier cycles with their response rate and mean scores, oldest first:
    [(cycle, (asked, answered), {key: {"mean": float | None}})], in one query: each closed cycle's
    figures as stored at its close (an earlier cycle still open is read from its answers)."""
    found = []
    for c, row in db.session.execute(
        select(ReviewCycle, ReviewFigures)
        .outerjoin(ReviewFigures, ReviewFigures.cycle_id == ReviewCycle.id)
        .where(ReviewCycle.network_id == cycle.network_id, ReviewCycle.year < cycle.year)
        .order_by(ReviewCycle.year)
    ).all():
        figures = _stored(row) if row is not None else results(c)
        means = {key: {"mean": figures.summary[key]["mean"]} for key, _label in PURPOSES}
        found.append((c, (figures.asked, figures.answered), means))
    return found
