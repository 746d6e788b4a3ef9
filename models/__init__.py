"""The data and the rules that guard it; importing this package registers every model."""

# ruff: noqa: I001 – the order is the import graph's: a module a later one imports from this package comes first.

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
from models.emergency import Emergency, EmergencyStatus, Language
from models.signal import Signal, SignalKind, SignalReply, SignalStatus, Urgency
from models.package import Package, PackageLink, PackageShare
from models.outbox import OutboxMessage, OutboxStatus
from models.review import CycleStatus, Decision, MandateVersion, ReviewCycle, ReviewResponse
from models.role import CoordinatorRole
from models.sign_in import ProviderIdentity, ProviderSignIn, RecoveryCode, SignInLink
from models.topic import ProposalStatus, TopicProposal, TopicSupport

__all__ = [
    "Acknowledgement",
    "AdviceAnswer",
    "AdviceRequest",
    "Anchoring",
    "AnchoringMethod",
    "AnchoringStatus",
    "AuditEntry",
    "ChangeAction",
    "ChangeRequest",
    "ChangeStatus",
    "CoordinatorRole",
    "CycleStatus",
    "Decision",
    "DomainError",
    "Emergency",
    "EmergencyStatus",
    "Handover",
    "HandoverStatus",
    "Heartbeat",
    "InputStatus",
    "InvalidTransition",
    "Language",
    "MandateVersion",
    "Meeting",
    "MeetingFormat",
    "MeetingKind",
    "MeetingStatus",
    "Member",
    "Membership",
    "MembershipStatus",
    "Network",
    "NewsInput",
    "Newsletter",
    "Organisation",
    "OrganisationKind",
    "OutboxMessage",
    "OutboxStatus",
    "Package",
    "PackageLink",
    "PackageShare",
    "ProposalStatus",
    "ProviderIdentity",
    "ProviderSignIn",
    "QuotaCounter",
    "RecoveryCode",
    "ReviewCycle",
    "ReviewResponse",
    "SignInLink",
    "Signal",
    "SignalKind",
    "SignalReply",
    "SignalStatus",
    "Signup",
    "TopicProposal",
    "TopicSupport",
    "Urgency",
    "normalise_email",
]
