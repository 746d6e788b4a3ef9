"""The data and the rules that guard it; importing this package registers every model."""

from models.anchoring import Anchoring, AnchoringMethod, AnchoringStatus
from models.audit import AuditEntry
from models.change_request import ChangeAction, ChangeRequest, ChangeStatus
from models.errors import DomainError, InvalidTransition
from models.member import Member, normalise_email
from models.membership import Membership, MembershipStatus
from models.main_contact import Handover, HandoverStatus
from models.meeting import Meeting, MeetingFormat, MeetingKind, MeetingStatus
from models.quota import QuotaCounter
from models.signup import Signup
from models.call_in import Acknowledgement
from models.network import Network
from models.heartbeat import Heartbeat
from models.newsletter import InputStatus, NewsInput, Newsletter
from models.advice import AdviceAnswer, AdviceRequest
from models.organisation import Organisation, OrganisationKind
from models.outbox import OutboxMessage, OutboxStatus
from models.review import CycleStatus, Decision, MandateVersion, ReviewCycle, ReviewResponse
from models.role import CoordinatorRole
from models.topic import ProposalStatus, TopicProposal, TopicSupport

__all__ = [
    "AdviceAnswer",
    "AdviceRequest",
    "InputStatus",
    "NewsInput",
    "Newsletter",
    "Acknowledgement",
    "Anchoring",
    "AnchoringMethod",
    "AnchoringStatus",
    "AuditEntry",
    "ChangeAction",
    "ChangeRequest",
    "ChangeStatus",
    "Handover",
    "Heartbeat",
    "Meeting",
    "MeetingFormat",
    "MeetingKind",
    "MeetingStatus",
    "ProposalStatus",
    "QuotaCounter",
    "Signup",
    "TopicProposal",
    "TopicSupport",
    "HandoverStatus",
    "CoordinatorRole",
    "CycleStatus",
    "Decision",
    "MandateVersion",
    "ReviewCycle",
    "ReviewResponse",
    "OutboxMessage",
    "OutboxStatus",
    "DomainError",
    "InvalidTransition",
    "Member",
    "Membership",
    "MembershipStatus",
    "Network",
    "Organisation",
    "OrganisationKind",
    "normalise_email",
]
