"""What waits for someone when they sign in: the member's and the coordinator's home.

Each function gathers one person's items in a fixed number of queries; the templates say them
in words and link each to the place to act.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from extensions import db
from models import heartbeat, tokens
from models.advice import AdviceAnswer, AdviceRequest
from models.anchoring import Anchoring
from models.change_request import ChangeRequest, ChangeStatus
from models.main_contact import needing_main_contact
from models.meeting import OSLO, Meeting, MeetingStatus
from models.network import Network
from models.newsletter import InputStatus, NewsInput, Newsletter, archive_for, queue_for
from models.outbox import OutboxMessage, OutboxStatus, link
from models.quota import quota_status
from models.review import CycleStatus, ReviewCycle, ReviewResponse, progress
from models.signup import Signup
from models.topic import ProposalStatus, TopicProposal
from models.types import utcnow

if TYPE_CHECKING:
    from models.member import Member

RECENT = timedelta(days=60)  # a decision on my topic or input is news this long
CLOSING = timedelta(days=7)  # a request for advice "closing soon"


def member_home(member: "Member", now: datetime | None = None) -> dict[str, Any]:
    """What the member's home page shows, each part one query (a template's values)."""
    now = now or utcnow()
    active = member.active_network_ids
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
    signed_up = db.session.scalars(
        select(Meeting)
        .join(Signup, Signup.meeting_id == Meeting.id)
        .where(Signup.member_id == member.id, Meeting.ends_at >= now, Meeting.status == MeetingStatus.PLANNED)
        .order_by(Meeting.starts_at)
    ).all()
    topics = db.session.scalars(
        select(TopicProposal)
        .where(
            TopicProposal.proposed_by_id == member.id,
            (TopicProposal.status == ProposalStatus.WAITING) | (TopicProposal.decided_at >= now - RECENT),
        )
        .options(selectinload(TopicProposal.network))
        .order_by(TopicProposal.created_at.desc())
    ).all()
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
    advice = db.session.scalars(
        select(AdviceRequest)
        .where(
            AdviceRequest.deadline > now,
            AdviceRequest.networks.any(Network.id.in_(active)),
            ~AdviceRequest.id.in_(select(AdviceAnswer.request_id).where(AdviceAnswer.member_id == member.id)),
        )
        .order_by(AdviceRequest.deadline)
    ).all()
    needs_main_contact = db.session.execute(
        needing_main_contact(network_ids=active, organisation_ids=[member.organisation_id])
    ).all()
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
        "anchoring": member.pending_anchoring,
        "reviews": [
            (cycle, link("reviews.answer", token=tokens.make("review", response=response_id)))
            for response_id, cycle in reviews
        ],
        "signed_up": signed_up,
        "topics": topics,
        "inputs": inputs,
        "advice": advice,
        "needs_main_contact": [
            (organisation, network_id) for organisation, network_id, _count in needs_main_contact
        ],
        "next_meetings": next_meetings,
        "latest_newsletter": newsletters[0] if newsletters else None,
    }


def coordinator_home(coordinator: "Member", now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    ids = coordinator.coordinated_network_ids
    networks = db.session.scalars(select(Network).where(Network.id.in_(ids)).order_by(Network.id)).all()
    year = now.astimezone(OSLO).year
    pending = db.session.scalar(select(func.count()).select_from(Anchoring.pending_in(ids).subquery()))
    change_requests = db.session.scalar(
        select(func.count())
        .select_from(ChangeRequest)
        .where(ChangeRequest.status == ChangeStatus.PENDING, ChangeRequest.network_id.in_(ids))
    )
    without_main_contact = _without_main_contact(ids)
    reviews = db.session.scalars(
        select(ReviewCycle)
        .where(ReviewCycle.network_id.in_(ids), ReviewCycle.status == CycleStatus.OPEN)
        .options(selectinload(ReviewCycle.network))
    ).all()
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
    closing = [
        r
        for r in db.session.scalars(
            select(AdviceRequest)
            .where(AdviceRequest.deadline > now, AdviceRequest.deadline <= now + CLOSING)
            .options(selectinload(AdviceRequest.networks))
            .order_by(AdviceRequest.deadline)
        )
        if r.managed_by(coordinator)
    ]
    answers = dict(
        db.session.execute(
            select(AdviceAnswer.request_id, func.count())
            .where(AdviceAnswer.request_id.in_([r.id for r in closing]))
            .group_by(AdviceAnswer.request_id)
        ).all()
    )
    return {
        "pending_anchorings": pending,
        "change_requests": change_requests,
        "without_main_contact": without_main_contact,
        "quotas": [(n, quota_status(n, year)) for n in networks],
        "year": year,
        "reviews": [(cycle, progress(cycle)) for cycle in reviews],
        "outbox": outbox,
        # Mail is due and the worker has not run for 10 minutes: none goes out (one query, only then).
        "worker_stalled_since": heartbeat.worker_stalled_since(due_since, now),
        "input_waiting": len(queue_for(coordinator)),
        "advice_closing": [(r, answers.get(r.id, 0)) for r in closing],
    }


def _without_main_contact(network_ids: Iterable[int]) -> dict[str, int]:
    """{network code: how many municipalities and counties need a main contact}."""
    from models.membership import Membership

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
