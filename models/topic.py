"""Topic proposals (*foreslå tema*): members propose and support; the coordinator decides."""

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models import audit
from models.errors import DomainError
from models.meeting import MeetingKind
from models.types import UTCDateTime, string_enum, utcnow


class ProposalStatus(enum.StrEnum):
    WAITING = "waiting"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class TopicProposal(db.Model):
    __tablename__ = "topic_proposals"
    __table_args__ = (
        # A topic is proposed for a network or a professional meeting; call-ins are not planned ahead.
        CheckConstraint("meeting_kind <> 'emergency'", name="for_a_planned_kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    meeting_kind: Mapped[MeetingKind] = mapped_column(string_enum(MeetingKind, "topic_meeting_kind", 25))
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ProposalStatus] = mapped_column(string_enum(ProposalStatus, "proposal_status", 10), index=True)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    network = relationship("Network")
    proposed_by = relationship("Member")
    meeting = relationship("Meeting")
    supports = relationship("TopicSupport", cascade="all, delete-orphan", back_populates="proposal")

    def __init__(self, **values):
        values.setdefault("status", ProposalStatus.WAITING)
        super().__init__(**values)

    def _decide(self, status):
        if self.status != ProposalStatus.WAITING:
            raise DomainError(_l("This proposal has already been decided."))
        self.status = status
        self.decided_at = utcnow()

    def accept_into(self, meeting):
        if self.network not in meeting.networks:
            raise DomainError(_l("Choose a meeting of %(network)s.", network=self.network.code))
        self._decide(ProposalStatus.ACCEPTED)
        self.meeting = meeting
        audit.record("topic.accepted", network=self.network, subject=f"topic:{self.id}",
                     after={"meeting": meeting.title})

    def decline(self, reason):
        if not (reason or "").strip():
            raise DomainError(_l("Say why the proposal is declined."))
        self._decide(ProposalStatus.DECLINED)
        self.reason = reason.strip()
        audit.record("topic.declined", network=self.network, subject=f"topic:{self.id}", reason=self.reason)


class TopicSupport(db.Model):
    """One member's support of a proposal: at most one each, held by the database."""

    __tablename__ = "topic_supports"
    __table_args__ = (UniqueConstraint("proposal_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("topic_proposals.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    proposal = relationship("TopicProposal", back_populates="supports")


def support(proposal, member):
    if proposal.status != ProposalStatus.WAITING:
        raise DomainError(_l("This proposal has already been decided."))
    if any(s.member_id == member.id for s in proposal.supports):
        raise DomainError(_l("You already support this proposal."))
    proposal.supports.append(TopicSupport(member_id=member.id))


def waiting(network):
    """Waiting proposals of a network with their support counts, most supported first."""
    count = func.count(TopicSupport.id).label("supports")
    return db.session.execute(
        select(TopicProposal, count)
        .outerjoin(TopicSupport, TopicSupport.proposal_id == TopicProposal.id)
        .where(TopicProposal.network_id == network.id, TopicProposal.status == ProposalStatus.WAITING)
        .group_by(TopicProposal.id)
        .order_by(count.desc(), TopicProposal.created_at)
    ).all()
