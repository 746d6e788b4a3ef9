"""What waits for someone when they sign in: the member's and the coordinator's home.

Each function gathers one person's items in a fixed number of queries (one per kind of item, never
one per row), as lists of ``Item`` – one list per section of the page: what needs attention, and
what is news.  ``templates/_attention.html`` says each item in words (by its ``kind``) and links it
to ``url``, the place to act.  A new kind of item is one query here and one branch there.

Looking ahead: from ``NEXT_YEAR_FROM`` (1 November) the coordinator's home shows next year's plan
and quotas – this year's are then as good as settled, and next year's meetings want planning.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import url_for
from sqlalchemy import and_, distinct, func, select
from sqlalchemy.orm import joinedload, selectinload

from extensions import db
from models import heartbeat, tokens
from models.advice import AdviceAnswer, AdviceRequest
from models.anchoring import Anchoring
from models.call_in import Acknowledgement
from models.change_request import ChangeRequest, ChangeStatus
from models.emergency import open_for
from models.main_contact import Handover, HandoverStatus, needing_main_contact
from models.meeting import OSLO, Meeting, MeetingKind, MeetingStatus, meeting_networks
from models.membership import Membership, MembershipStatus
from models.network import Network
from models.newsletter import InputStatus, NewsInput, Newsletter, archive_for, drafts_for, queue_for
from models.outbox import OutboxMessage, OutboxStatus, link
from models.quota import QuotaCounter
from models.review import CycleStatus, ReviewCycle, ReviewResponse, progress
from models.signup import Signup
from models.topic import ProposalStatus, TopicProposal
from models.types import utcnow

if TYPE_CHECKING:
    from models.member import Member

RECENT = timedelta(days=60)  # a decision on my topic or input is news this long
CLOSING = timedelta(days=7)  # a request for advice "closing soon" is marked urgent
CALL_IN_FOLLOW_UP = timedelta(days=7)  # a call-in's missing receipts are listed this long after it ends
NEXT_YEAR_FROM = (11, 1)  # (month, day) in Oslo from which the coordinator's home plans next year


@dataclass(frozen=True)
class Item:
    """One line on a home: what it is (``kind``, said in words by the template), where to act
    (``url``), the row it is about (``subject``) and any figures the sentence needs (``data``)."""

    kind: str
    url: str
    subject: Any = None
    data: dict[str, Any] = field(default_factory=dict)
    urgent: bool = False


def plan_year(now: datetime) -> int:
    """The year whose plan the coordinator's home shows: next year from 1 November (Oslo)."""
    local = now.astimezone(OSLO)
    return local.year + 1 if (local.month, local.day) >= NEXT_YEAR_FROM else local.year


def member_home(member: "Member", now: datetime | None = None) -> dict[str, Any]:
    """What the member's home page shows: ``attention`` (to act on or keep in mind) and ``news``
    (decisions on what they sent), each a list of ``Item``; one query per kind."""
    now = now or utcnow()
    active = member.active_network_ids
    attention: list[Item] = []
    news: list[Item] = []

    # An open emergency in my networks comes first, with the way to report what I hear.
    attention += [
        Item(
            "emergency",
            url_for("emergencies.show", emergency_id=e.id),
            e,
            {"report": url_for("emergencies.report_signal", emergency_id=e.id)},
            urgent=True,
        )
        for e in open_for(member)
    ]

    offers = db.session.scalars(
        select(Handover)
        .join(Membership, Membership.id == Handover.to_membership_id)
        .where(Membership.member_id == member.id, Handover.status == HandoverStatus.PENDING)
        .options(
            joinedload(Handover.from_membership).joinedload(Membership.member),
            joinedload(Handover.to_membership).joinedload(Membership.organisation),
            joinedload(Handover.to_membership).joinedload(Membership.network),
        )
        .order_by(Handover.created_at)
    ).all()
    for offer in offers:
        to = offer.to_membership
        attention.append(
            Item(
                "handover",
                url_for("municipalities.show", organisation_id=to.organisation_id)
                + f"#network-{to.network.code}",
                offer,
                urgent=True,
            )
        )

    if member.pending_anchoring:
        attention.append(Item("anchoring", url_for("account.index"), member.pending_anchoring))

    reviews = db.session.execute(
        select(ReviewResponse.id, ReviewCycle)
        .join(ReviewCycle, ReviewCycle.id == ReviewResponse.cycle_id)
        .where(
            ReviewResponse.member_id == member.id,
            ReviewResponse.answered_at.is_(None),
            ReviewCycle.status == CycleStatus.OPEN,
            ReviewCycle.deadline > now,
        )
        .options(selectinload(ReviewCycle.network))
    ).all()
    attention += [
        Item(
            "review",
            link("reviews.answer", token=tokens.make("review", response=response_id)),
            cycle,
            urgent=True,
        )
        for response_id, cycle in reviews
    ]

    advice = db.session.scalars(
        select(AdviceRequest)
        .where(
            AdviceRequest.deadline > now,
            AdviceRequest.networks.any(Network.id.in_(active)),
            ~AdviceRequest.id.in_(select(AdviceAnswer.request_id).where(AdviceAnswer.member_id == member.id)),
        )
        .order_by(AdviceRequest.deadline)
    ).all()
    attention += [Item("advice", url_for("advice.show", request_id=r.id), r) for r in advice]

    needs_main_contact = db.session.execute(
        needing_main_contact(network_ids=active, organisation_ids=[member.organisation_id])
    ).all()
    attention += [
        Item(
            "needs_main_contact",
            url_for("municipalities.show", organisation_id=organisation.id),
            organisation,
        )
        for organisation, _network_id, _count in needs_main_contact
    ]

    signed_up = db.session.scalars(
        select(Meeting)
        .join(Signup, Signup.meeting_id == Meeting.id)
        .where(Signup.member_id == member.id, Meeting.ends_at >= now, Meeting.status == MeetingStatus.PLANNED)
        .order_by(Meeting.starts_at)
    ).all()
    attention += [Item("signed_up", url_for("meetings.show", meeting_id=m.id), m) for m in signed_up]

    topics = db.session.scalars(
        select(TopicProposal)
        .where(
            TopicProposal.proposed_by_id == member.id,
            (TopicProposal.status == ProposalStatus.WAITING) | (TopicProposal.decided_at >= now - RECENT),
        )
        .options(selectinload(TopicProposal.network), selectinload(TopicProposal.meeting))
        .order_by(TopicProposal.created_at.desc())
    ).all()
    for topic in topics:
        # An accepted topic leads to the meeting it is on; the others to the network's plan.
        place = (
            url_for("meetings.show", meeting_id=topic.meeting.id)
            if topic.meeting is not None
            else url_for("meetings.year_plan", code=topic.network.code)
        )
        item = Item(f"topic_{topic.status.value}", place, topic)
        (attention if topic.status == ProposalStatus.WAITING else news).append(item)

    inputs = db.session.scalars(
        select(NewsInput)
        .outerjoin(Newsletter, Newsletter.id == NewsInput.newsletter_id)
        .where(
            NewsInput.member_id == member.id,
            (NewsInput.status == InputStatus.QUEUED)
            | (NewsInput.decided_at >= now - RECENT)
            | (Newsletter.sent_at >= now - RECENT),
        )
        .options(selectinload(NewsInput.newsletter))
        .order_by(NewsInput.submitted_at.desc())
    ).all()
    for news_input in inputs:
        state = news_input.state
        if state == "sent":
            news.append(
                Item(
                    "input_sent",
                    url_for("newsletters.show", newsletter_id=news_input.newsletter_id),
                    news_input,
                )
            )
        elif state == "queued":
            attention.append(Item("input_queued", url_for("newsletters.submit_input"), news_input))
        else:  # taken into a draft, or not included: a decision, not yet anything to read
            news.append(Item(f"input_{state}", url_for("newsletters.submit_input"), news_input))

    next_meetings = db.session.scalars(
        select(Meeting)
        .where(
            Meeting.networks.any(Network.id.in_(active)),
            Meeting.starts_at >= now,
            Meeting.status == MeetingStatus.PLANNED,
        )
        .options(selectinload(Meeting.networks))
        .order_by(Meeting.starts_at)
        .limit(5)
    ).all()
    newsletters = archive_for(member)
    return {
        "attention": attention,
        "news": news,
        "next_meetings": next_meetings,
        "latest_newsletter": newsletters[0] if newsletters else None,
    }


def coordinator_home(coordinator: "Member", now: datetime | None = None) -> dict[str, Any]:
    """What the coordinator's home shows: ``attention`` (a list of ``Item``), the mail worker's
    state, and the plan of ``year`` (next year from 1 November) with each network's quotas."""
    now = now or utcnow()
    ids = coordinator.coordinated_network_ids
    networks = db.session.scalars(select(Network).where(Network.id.in_(ids)).order_by(Network.id)).all()
    attention: list[Item] = []

    pending = db.session.scalar(select(func.count()).select_from(Anchoring.pending_in(ids).subquery()))
    if pending:
        attention.append(Item("pending_anchorings", url_for("anchorings.pending"), data={"num": pending}))
    change_requests = db.session.scalar(
        select(func.count())
        .select_from(ChangeRequest)
        .where(ChangeRequest.status == ChangeStatus.PENDING, ChangeRequest.network_id.in_(ids))
    )
    if change_requests:
        attention.append(
            Item("change_requests", url_for("coordinator.change_requests"), data={"num": change_requests})
        )
    attention += [
        Item("without_main_contact", url_for("coordinator.overview", network=code), code, {"num": count})
        for code, count in sorted(_without_main_contact(ids).items())
    ]
    reviews = db.session.scalars(
        select(ReviewCycle)
        .where(ReviewCycle.network_id.in_(ids), ReviewCycle.status == CycleStatus.OPEN)
        .options(selectinload(ReviewCycle.network))
    ).all()
    for cycle in reviews:  # at most one open per network
        asked, answered = progress(cycle)
        attention.append(
            Item(
                "review",
                url_for("reviews.cycle", cycle_id=cycle.id),
                cycle,
                {"asked": asked, "answered": answered},
            )
        )
    attention += _call_ins(ids, now)
    waiting_input = len(queue_for(coordinator))
    if waiting_input:
        attention.append(Item("input_waiting", url_for("newsletters.queue"), data={"num": waiting_input}))
    attention += [
        Item("draft", url_for("newsletters.show", newsletter_id=draft.id), draft)
        for draft in reversed(drafts_for(coordinator))  # oldest first
    ]
    attention += _advice_open(coordinator, now)

    outbox = dict.fromkeys(OutboxStatus, 0)
    due_since = None  # when the oldest mail that is due now was written
    for status, count, oldest, first_due in db.session.execute(
        select(
            OutboxMessage.status,
            func.count(),
            func.min(OutboxMessage.created_at),
            func.min(OutboxMessage.next_attempt_at),
        ).group_by(OutboxMessage.status)
    ):
        outbox[status] = count
        if status == OutboxStatus.PENDING and first_due <= now:
            due_since = oldest
    if outbox[OutboxStatus.FAILED]:
        attention.append(
            Item(
                "outbox_failed",
                url_for("coordinator.outbox", status="failed"),
                data={"num": outbox[OutboxStatus.FAILED]},
                urgent=True,
            )
        )

    year = plan_year(now)
    return {
        "attention": attention,
        "pending_anchorings": pending,
        "change_requests": change_requests,
        "input_waiting": waiting_input,
        "outbox": outbox,
        # Mail is due and the worker has not run for 10 minutes: none goes out (one query, only then).
        "worker_stalled_since": heartbeat.worker_stalled_since(due_since, now),
        "year": year,
        "next_year": year != now.astimezone(OSLO).year,
        "quotas": _quotas(networks, year),
    }


def _quotas(
    networks: Iterable[Network], year: int
) -> list[tuple[Network, dict[MeetingKind, tuple[int, int]]]]:
    """[(network, {kind: (used, quota)})] for ``year``: one query for every network."""
    networks = list(networks)
    used = {
        (c.network_id, c.kind): (c.used, c.quota)
        for c in db.session.scalars(
            select(QuotaCounter).where(
                QuotaCounter.network_id.in_([n.id for n in networks]), QuotaCounter.year == year
            )
        )
    }
    return [
        (
            n,
            {
                MeetingKind.NETWORK: used.get((n.id, MeetingKind.NETWORK), (0, n.network_meetings_per_year)),
                MeetingKind.PROFESSIONAL: used.get(
                    (n.id, MeetingKind.PROFESSIONAL), (0, n.professional_meetings_max)
                ),
            },
        )
        for n in networks
    ]


def _call_ins(network_ids: Iterable[int], now: datetime) -> list[Item]:
    """Call-ins to the coordinator's networks, not over (or over for less than a week), that some of
    those called in have not confirmed: how many of how many.  One query."""
    from models.member import Member

    called = db.session.execute(
        select(
            Meeting,
            func.count(distinct(Membership.member_id)),
            func.count(distinct(Acknowledgement.member_id)),
        )
        .join(meeting_networks, meeting_networks.c.meeting_id == Meeting.id)
        .join(
            Membership,
            and_(
                Membership.network_id == meeting_networks.c.network_id,
                Membership.status == MembershipStatus.ACTIVE,
            ),
        )
        .join(Member, and_(Member.id == Membership.member_id, Member.deleted_at.is_(None)))
        .outerjoin(
            Acknowledgement,
            and_(Acknowledgement.meeting_id == Meeting.id, Acknowledgement.member_id == Membership.member_id),
        )
        .where(
            Meeting.kind == MeetingKind.EMERGENCY,
            Meeting.status == MeetingStatus.PLANNED,
            Meeting.ends_at >= now - CALL_IN_FOLLOW_UP,
            Meeting.networks.any(Network.id.in_(list(network_ids))),
        )
        .group_by(Meeting.id)
        .order_by(Meeting.starts_at)
    ).all()
    return [
        Item(
            "call_in",
            url_for("meetings.acknowledgements", meeting_id=meeting.id),
            meeting,
            {"waiting": asked - confirmed, "asked": asked},
            urgent=True,
        )
        for meeting, asked, confirmed in called
        if confirmed < asked
    ]


def _advice_open(coordinator: "Member", now: datetime) -> list[Item]:
    """Every open request for advice the coordinator manages, whatever its deadline, with its answers
    so far; those closing within a week are marked urgent.  Two queries."""
    open_requests = [
        r
        for r in db.session.scalars(
            select(AdviceRequest)
            .where(AdviceRequest.deadline > now)
            .options(selectinload(AdviceRequest.networks))
            .order_by(AdviceRequest.deadline)
        )
        if r.managed_by(coordinator)
    ]
    answers = dict(
        db.session.execute(
            select(AdviceAnswer.request_id, func.count())
            .where(AdviceAnswer.request_id.in_([r.id for r in open_requests]))
            .group_by(AdviceAnswer.request_id)
        ).all()
    )
    return [
        Item(
            "advice",
            url_for("advice.answers", request_id=r.id),
            r,
            {"num": answers.get(r.id, 0)},
            urgent=r.deadline <= now + CLOSING,
        )
        for r in open_requests
    ]


def _without_main_contact(network_ids: Iterable[int]) -> dict[str, int]:
    """{network code: how many municipalities and counties need a main contact}."""
    flagged = (
        needing_main_contact(network_ids=network_ids).with_only_columns(Membership.network_id).subquery()
    )
    return dict(
        db.session.execute(
            select(Network.code, func.count())
            .join(flagged, flagged.c.network_id == Network.id)
            .group_by(Network.code)
        ).all()
    )
