"""Topic proposals (*foreslå tema*): members propose and support; the coordinator decides.

Each operation takes its row first (``guard.lock``: the proposal, or for a new proposal the member
proposing), then checks the state on the fresh values: one support per member, one decision per
proposal and one mail to the proposer, however often or from how many tabs the button is pressed.
"""

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask_babel import LazyString, format_datetime
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    exists,
    func,
    select,
)
from sqlalchemy.engine import Row
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from extensions import Model, db
from models import audit, guard
from models.errors import DomainError
from models.meeting import Meeting, MeetingKind
from models.types import UTCDateTime, string_enum, utcnow

if TYPE_CHECKING:
    from models.member import Member
    from models.network import Network


class ProposalStatus(enum.StrEnum):
    WAITING = "waiting"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class TopicProposal(Model):
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
    status: Mapped[ProposalStatus] = mapped_column(
        string_enum(ProposalStatus, "proposal_status", 10), index=True
    )
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    network: Mapped["Network"] = relationship("Network")
    proposed_by: Mapped["Member | None"] = relationship("Member")
    meeting: Mapped["Meeting | None"] = relationship("Meeting")
    supports: Mapped[list["TopicSupport"]] = relationship(
        "TopicSupport", cascade="all, delete-orphan", back_populates="proposal"
    )

    def __init__(self, **values: Any) -> None:
        values.setdefault("status", ProposalStatus.WAITING)
        super().__init__(**values)

    def may_decide(self, member: "Member") -> bool:
        return self.status == ProposalStatus.WAITING and member.coordinates(self.network)

    def _decide(self, status: ProposalStatus, by: "Member | None") -> None:
        guard.lock(self)
        if self.status != ProposalStatus.WAITING:
            raise DomainError(_l("This proposal has already been decided."))
        if by is not None and not by.coordinates(self.network):
            raise DomainError(
                _l("Only a coordinator of %(network)s decides its topics.", network=self.network.code)
            )
        self.status = status
        self.decided_at = utcnow()

    def accept_into(self, meeting: Meeting | None, by: "Member | None" = None) -> None:
        """Put the topic on a planned meeting of its network (never an emergency call-in); the proposer
        is told.  Decided already: refused, nothing more happens."""
        if meeting is None or self.network not in meeting.networks:
            raise DomainError(_l("Choose a meeting of %(network)s.", network=self.network.code))
        guard.lock(meeting)
        if not meeting.accepts_topics:
            raise DomainError(
                _l("A topic goes onto a planned network or professional meeting, not a call-in.")
            )
        self._decide(ProposalStatus.ACCEPTED, by)
        self.meeting = meeting
        audit.record(
            "topic.accepted",
            network=self.network,
            subject=f"topic:{self.id}",
            after={"meeting": meeting.title},
        )
        self._tell_about(meeting)

    def _tell_about(self, meeting: Meeting) -> None:
        """The proposer and each supporter get one notice naming the meeting, its day and a link to
        it.  Only the request that decided gets here (``_decide`` refuses the second), so a double
        click tells each person once."""
        from models.member import Member
        from models.notices import notify

        when = LazyString(lambda: format_datetime(meeting.starts_at, "d. MMMM y HH:mm"))
        link = {
            "endpoint": "meetings.show",
            "meeting_id": meeting.id,
            "link_text": _l("Go to the meeting page"),
        }
        notify(
            self.proposed_by,
            _l("Your topic proposal"),
            _l(
                "Your topic «%(title)s» is on the agenda of «%(meeting)s» on %(when)s.",
                title=self.title,
                meeting=meeting.title,
                when=when,
            ),
            **link,
        )
        supporters = db.session.scalars(
            select(Member)
            .join(TopicSupport, TopicSupport.member_id == Member.id)
            .where(TopicSupport.proposal_id == self.id, Member.id != self.proposed_by_id)
            .order_by(Member.id)
        )
        for supporter in supporters:
            notify(
                supporter,
                _l("A topic you support"),
                _l(
                    "The topic «%(title)s», which you support, is on the agenda of «%(meeting)s» on %(when)s.",
                    title=self.title,
                    meeting=meeting.title,
                    when=when,
                ),
                **link,
            )

    def decline(self, reason: str | None, by: "Member | None" = None) -> None:
        """Decline with a reason the proposer is told.  Decided already: refused, nothing more happens."""
        reason = (reason or "").strip()
        if not reason:
            raise DomainError(_l("Say why the proposal is declined."))
        self._decide(ProposalStatus.DECLINED, by)
        self.reason = reason
        audit.record("topic.declined", network=self.network, subject=f"topic:{self.id}", reason=self.reason)
        self._tell(
            _l("Your topic «%(title)s» was not taken up: %(reason)s", title=self.title, reason=self.reason)
        )

    def _tell(self, line: str | LazyString) -> None:
        from models.notices import notify

        notify(
            self.proposed_by,
            _l("Your topic proposal"),
            line,
            endpoint="meetings.year_plan",
            code=self.network.code,
        )


def propose(
    network: "Network",
    member: "Member",
    title: str | None,
    meeting_kind: MeetingKind | str,
    description: str | None = None,
) -> TopicProposal:
    """A member of the network proposes a topic.  The same title again from the same member while it
    waits is the same proposal (a form sent from two tabs): refused, nothing stored twice."""
    title = (title or "").strip()
    if not title:
        raise DomainError(_l("Give the topic a title."))
    kind = MeetingKind(meeting_kind)
    if kind == MeetingKind.EMERGENCY:
        raise DomainError(_l("A topic is proposed for a network or a professional meeting."))
    if not (member.coordinates(network) or network.id in member.active_network_ids):
        raise DomainError(_l("Only members of %(network)s propose its topics.", network=network.code))
    guard.lock(member)
    if db.session.scalar(
        select(
            exists().where(
                TopicProposal.network_id == network.id,
                TopicProposal.proposed_by_id == member.id,
                TopicProposal.status == ProposalStatus.WAITING,
                func.lower(TopicProposal.title) == title.lower(),
            )
        )
    ):
        raise DomainError(
            _l("You have already proposed «%(title)s»; it is waiting for the coordinator.", title=title)
        )
    proposal = TopicProposal(
        network=network,
        proposed_by=member,
        title=title,
        meeting_kind=kind,
        description=(description or "").strip() or None,
    )
    db.session.add(proposal)
    db.session.flush()
    return proposal


class TopicSupport(Model):
    """One member's support of a proposal: at most one each, held by the database."""

    __tablename__ = "topic_supports"
    __table_args__ = (UniqueConstraint("proposal_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("topic_proposals.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    proposal: Mapped["TopicProposal"] = relationship("TopicProposal", back_populates="supports")


def support(proposal: TopicProposal, member: "Member") -> None:
    """One member's support of a waiting proposal, once."""
    guard.lock(proposal)
    if proposal.status != ProposalStatus.WAITING:
        raise DomainError(_l("This proposal has already been decided."))
    if db.session.scalar(
        select(exists().where(TopicSupport.proposal_id == proposal.id, TopicSupport.member_id == member.id))
    ):
        raise DomainError(_l("You already support this proposal."))
    db.session.add(TopicSupport(proposal_id=proposal.id, member_id=member.id))
    db.session.flush()


def on_agenda(meeting: Meeting) -> Sequence[TopicProposal]:
    """The topics accepted into ``meeting``, in the order they were taken in, with their proposers."""
    return db.session.scalars(
        select(TopicProposal)
        .where(TopicProposal.meeting_id == meeting.id, TopicProposal.status == ProposalStatus.ACCEPTED)
        .options(selectinload(TopicProposal.proposed_by))
        .order_by(TopicProposal.decided_at, TopicProposal.id)
    ).all()


def waiting(network: "Network") -> Sequence[Row[TopicProposal, int]]:
    """Waiting proposals of a network with their support counts, most supported first."""
    count = func.count(TopicSupport.id).label("supports")
    return db.session.execute(
        select(TopicProposal, count)
        .outerjoin(TopicSupport, TopicSupport.proposal_id == TopicProposal.id)
        .where(TopicProposal.network_id == network.id, TopicProposal.status == ProposalStatus.WAITING)
        .group_by(TopicProposal.id)
        .order_by(count.desc(), TopicProposal.created_at)
    ).all()
