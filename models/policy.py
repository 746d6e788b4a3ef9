"""Who may do what: one table, read by the views (``require``/``allows``) and by the
authorisation matrix (``tests/test_authorisation.py``).

The table (``POLICY``) names each action after what it does and says which roles may do it.  A
role is held *towards an object* (its scope: the networks, the organisation and the owner the
object has – see ``scope_of``); with no object, towards the whole app:

- ``anonymous``: not signed in.  A registration whose address is not confirmed yet (*pending
  verification*) cannot sign in, so it is anonymous here too.
- ``signed_in``: any signed-in account, whatever else it is.
- ``pending_anchoring``, ``active``, ``lapsed``, ``left``: the status of a membership the user
  holds within the scope (with no object: any membership).  A membership the line manager
  declined gives no role beyond ``signed_in``.
- ``main_contact``: main contact through a membership within the scope;
  ``main_contact_elsewhere``: main contact, but not here.
- ``coordinator``: coordinates a network of the scope (of *every* network of a newsletter or a
  request for advice: who manages it; with no object, or an object for all networks: any network);
  ``coordinator_elsewhere``: coordinates, but not this.
- ``owner``: the person the object is about: the hand-over's recipient, the proposal's author,
  the review answer's member, the input's author, the membership's and the anchoring's member.
- ``observer``: a member (within the scope) from an observer organisation, which has no main
  contact.

A rule is ``may(*roles, but_not=...)``: allowed when the user holds one of ``roles`` and none of
``but_not``.  Views call ``require(action, obj)`` right after loading the object; the rules that
admit everyone (``public.*``, ``mandate.read``) need no call, and the account's own pages
(``account.own``: any signed-in user, on themself) ask it with ``@login_required``.  The models' ``may_*`` rules say which *state* an object must be in (open, not sent
yet, …); this table says *who*.

**Refusal, one rule everywhere**: anonymous → the sign-in page (a redirect that comes back);
signed in → 403, whether or not the user could see the object.  404 only when the id names
nothing.  (Ids count up, so a 404 for "exists but not yours" would hide nothing.)

**Coordinator pages are scoped to the networks the coordinator coordinates** (the list
queries take ``outbox_visible``/``audit_visible``):

- outbox: a mail is in network N's view when its recipient is the address of a member with a
  membership of N (any status), a Teams post when it goes to N's channel.  A mail to any other
  address – a line manager, an invitee, someone not registered, a coordinator without
  memberships – concerns no network and is shown to no coordinator; "send again" follows
  the same rule.
- audit log: an entry is in N's view when it is about N, or about no network but about a member
  with a membership of N.  An entry about neither is shown to no coordinator.
"""

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NamedTuple, TypeVar, overload

from flask import abort
from flask_login import current_user
from sqlalchemy import and_, or_, select

from extensions import db, login_manager

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Select

    from models.member import Member
    from models.network import Network
    from models.organisation import Organisation
    from models.outbox import OutboxMessage

T = TypeVar("T")

ANONYMOUS, SIGNED_IN = "anonymous", "signed_in"
PENDING_ANCHORING, ACTIVE, LAPSED, LEFT = "pending_anchoring", "active", "lapsed", "left"
MAIN_CONTACT, MAIN_CONTACT_ELSEWHERE = "main_contact", "main_contact_elsewhere"
COORDINATOR, COORDINATOR_ELSEWHERE = "coordinator", "coordinator_elsewhere"
OWNER, OBSERVER = "owner", "observer"
ROLES = (
    ANONYMOUS,
    SIGNED_IN,
    PENDING_ANCHORING,
    ACTIVE,
    LAPSED,
    LEFT,
    MAIN_CONTACT,
    MAIN_CONTACT_ELSEWHERE,
    COORDINATOR,
    COORDINATOR_ELSEWHERE,
    OWNER,
    OBSERVER,
)


class Rule(NamedTuple):
    who: frozenset[str]
    but_not: frozenset[str] = frozenset()

    def admits(self, roles: set[str]) -> bool:
        return bool(roles & self.who) and not roles & self.but_not


def may(*roles: str, but_not: Iterable[str] = ()) -> Rule:
    unknown = (set(roles) | set(but_not)) - set(ROLES)
    assert not unknown, unknown
    return Rule(frozenset(roles), frozenset(but_not))


EVERYONE = may(*ROLES)
ACCOUNT = may(SIGNED_IN)  # the signed-in user's own account: every action works on themself
MEMBERS = (ACTIVE, COORDINATOR)  # those who take part in a network now, and who run it

POLICY = {
    # -- public: pages, and forms whose link (a token in a mail) is the permission --------------
    "public.read": EVERYONE,
    "public.token_link": EVERYONE,
    "public.register": EVERYONE,
    "public.sign_in": EVERYONE,
    "mandate.read": EVERYONE,
    # -- the account itself -----------------------------------------------------------------------
    "account.own": ACCOUNT,
    "membership.leave": may(OWNER),
    "anchoring.ask_again": ACCOUNT,  # the model asks whether a decline stands
    "review.take_back": may(OWNER),
    # -- members ------------------------------------------------------------------------------------
    "directory.read": may(*MEMBERS),
    "municipality.read": may(PENDING_ANCHORING, ACTIVE, LAPSED, COORDINATOR),
    "municipality.colleagues": may(ACTIVE, COORDINATOR),  # names and addresses of the others
    "change.report": may(ACTIVE, COORDINATOR),
    "main_contact.claim": may(ACTIVE, but_not=(OBSERVER,)),
    "main_contact.offer": may(MAIN_CONTACT),
    "main_contact.answer": may(OWNER),
    "main_contact.invite": may(MAIN_CONTACT, COORDINATOR),
    "plan.read": may(*MEMBERS),
    "meeting.read": may(*MEMBERS),
    "meeting.sign_up": may(*MEMBERS),
    "topic.propose": may(*MEMBERS),
    "topic.support": may(*MEMBERS),
    "newsletter.archive": ACCOUNT,
    "newsletter.read": may(ACTIVE, COORDINATOR, COORDINATOR_ELSEWHERE),  # a sent issue
    "news_input.mine": ACCOUNT,
    "news_input.submit": may(ACTIVE),
    "advice.list": ACCOUNT,
    "advice.read": may(ACTIVE, COORDINATOR),
    "advice.answer": may(ACTIVE),
    # -- the listening post in an emergency (models/emergency.py) -------------------------------------
    "emergency.list": may(*MEMBERS),
    "emergency.read": may(*MEMBERS),  # the emergency's page: its packages, one's own signals
    "signal.report": may(*MEMBERS),  # observers' members (FHI, IMDi) too
    "signal.own": may(OWNER),  # one's own signal and the replies to it
    "package.read": may(*MEMBERS),
    "package.share": may(ACTIVE, but_not=(OBSERVER,)),  # shared in one's municipality
    # Observers' members post packages only where the coordinator allows it (``Emergency.observers_may_post``).
    "package.post": may(COORDINATOR, OBSERVER),
    "situation.report": may(COORDINATOR, OBSERVER),  # anonymised: no reporter's name or address
    # -- coordinators ---------------------------------------------------------------------------
    "coordinator.home": may(COORDINATOR),
    "outbox.read": may(COORDINATOR),
    "outbox.retry": may(COORDINATOR),
    "audit.read": may(COORDINATOR),
    "coordinator.appoint": may(COORDINATOR),
    "change.decide": may(COORDINATOR),
    "overview.read": may(COORDINATOR),
    "teams.manage": may(COORDINATOR),
    "organisation.manage": may(COORDINATOR),
    "anchoring.list": may(COORDINATOR),
    "anchoring.record": may(COORDINATOR),
    "main_contact.assign": may(COORDINATOR),
    "main_contact.remove": may(COORDINATOR),
    "meeting.plan": may(COORDINATOR),
    "meeting.edit": may(COORDINATOR),
    "meeting.cancel": may(COORDINATOR),
    "meeting.attendance": may(COORDINATOR),
    "meeting.minutes": may(COORDINATOR),
    "call_in.follow": may(COORDINATOR),
    "call_in.remind": may(COORDINATOR),
    "topic.decide": may(COORDINATOR),
    "review.read": may(COORDINATOR),
    "review.open": may(COORDINATOR),
    "review.close": may(COORDINATOR),
    "review.restore": may(COORDINATOR),
    "mandate.record": may(COORDINATOR),
    "newsletter.queue": may(COORDINATOR),
    "newsletter.compose": may(COORDINATOR),
    "newsletter.preview": may(COORDINATOR),  # a draft
    "newsletter.edit": may(COORDINATOR),
    "newsletter.send_test": may(COORDINATOR),
    "newsletter.send": may(COORDINATOR),
    "news_input.handle": may(COORDINATOR),
    "advice.post": may(COORDINATOR),
    "advice.answers": may(COORDINATOR),
    "emergency.open": may(COORDINATOR),
    "emergency.manage": may(COORDINATOR),  # close it, let observers post packages
    "board.read": may(COORDINATOR),  # the situation board: every signal, with its reporter
    "signal.handle": may(COORDINATOR),  # mark seen / followed up / passed on, note, merge
    "signal.reply": may(COORDINATOR),
    # -- the second factor (models/second_factor.py): open without it, so it can be set up and shown --
    "second_factor.manage": may(COORDINATOR),  # set up, new recovery codes, off
    "second_factor.sign_in": ACCOUNT,  # the code asked after the password
}

# Asked by ``require`` once a rule has admitted the user: the second factor's gate
# (``blueprints.auth.second_factor.gate``) on the actions only coordinators may do.
GATES: list[Callable[[str], None]] = []


def coordinators_only(action: str) -> bool:
    """The coordinator pages the second factor guards: every action whose rule admits coordinators
    alone, but the second factor's own."""
    return POLICY[action].who == {COORDINATOR} and not action.startswith("second_factor.")


# -- scopes ---------------------------------------------------------------------------------------


class Scope(NamedTuple):
    """What a role is held towards: networks (None: all), an organisation, an owner, and whether a
    coordinator must coordinate every one of the networks (``every``) or one suffices."""

    networks: frozenset[int] | None = None
    organisation_id: int | None = None
    owner_id: int | None = None
    every: bool = False


class Place(NamedTuple):
    """An organisation in a network: a section of the municipality page."""

    organisation: "Organisation"
    network: "Network"


def scope_of(obj: object) -> Scope:
    """The scope of an object the views load (None: the whole app)."""
    from models import (
        AdviceRequest,
        Anchoring,
        ChangeRequest,
        Emergency,
        Handover,
        Meeting,
        Membership,
        Network,
        NewsInput,
        Newsletter,
        Organisation,
        OutboxMessage,
        Package,
        ReviewCycle,
        ReviewResponse,
        Signal,
        TopicProposal,
    )

    def ids(networks: "Iterable[Network]") -> frozenset[int]:
        return frozenset(n.id for n in networks)

    match obj:
        case None:
            return Scope()
        case Network():
            return Scope(frozenset({obj.id}))
        case Place(organisation, network):
            return Scope(frozenset({network.id}), organisation.id)
        case Organisation():
            networks = db.session.scalars(select(Network)).all()
            return Scope(ids(n for n in networks if n.accepts(obj)), obj.id)
        case Meeting() | Emergency():
            return Scope(ids(obj.networks))
        case Signal():
            return Scope(ids(obj.emergency.networks), owner_id=obj.reporter_id)
        case Package():
            return Scope(ids(obj.emergency.networks), owner_id=obj.posted_by_id)
        case Newsletter() | AdviceRequest():
            return Scope(ids(obj.networks), every=True)
        case NewsInput():
            return Scope(
                None if obj.network_id is None else frozenset({obj.network_id}), owner_id=obj.member_id
            )
        case TopicProposal():
            return Scope(frozenset({obj.network_id}), owner_id=obj.proposed_by_id)
        case ReviewCycle():
            return Scope(frozenset({obj.network_id}))
        case ReviewResponse():
            return Scope(frozenset({obj.cycle.network_id}), owner_id=obj.member_id)
        case ChangeRequest():
            return Scope(frozenset({obj.network_id}), obj.organisation_id)
        case Membership():
            return Scope(frozenset({obj.network_id}), obj.organisation_id, obj.member_id)
        case Handover():
            to = obj.to_membership
            return Scope(frozenset({to.network_id}), to.organisation_id, to.member_id)
        case Anchoring():
            member = obj.member
            return Scope(
                frozenset(m.network_id for m in member.memberships), member.organisation_id, member.id
            )
        case OutboxMessage():
            return Scope(outbox_networks(obj))
    raise TypeError(f"no scope for {obj!r}")


def roles_of(user: "Member | None", obj: object = None) -> set[str]:
    """The roles ``user`` holds towards ``obj`` (see the module's docstring)."""
    if user is None or not user.is_authenticated:
        return {ANONYMOUS}
    scope = scope_of(obj)
    roles = {SIGNED_IN}
    within = [
        m
        for m in user.memberships
        if (scope.networks is None or m.network_id in scope.networks)
        and (scope.organisation_id is None or m.organisation_id == scope.organisation_id)
    ]
    roles |= {str(m.status) for m in within if str(m.status) in ROLES}
    if any(m.is_main_contact for m in within):
        roles.add(MAIN_CONTACT)
    elif user.is_main_contact:
        roles.add(MAIN_CONTACT_ELSEWHERE)
    coordinated = user.coordinated_network_ids
    if coordinated:
        if scope.networks is None:
            here = True
        elif scope.every:
            here = bool(scope.networks) and scope.networks <= coordinated
        else:
            here = bool(scope.networks & coordinated)
        roles.add(COORDINATOR if here else COORDINATOR_ELSEWHERE)
    if scope.owner_id is not None and scope.owner_id == user.id:
        roles.add(OWNER)
    if within and user.is_observer:
        roles.add(OBSERVER)
    return roles


def allows(user: "Member | None", action: str, obj: object = None) -> bool:
    """May ``user`` do ``action`` (a key of ``POLICY``) on ``obj``?"""
    return POLICY[action].admits(roles_of(user, obj))


@overload
def require(action: str) -> None: ...
@overload
def require(action: str, obj: T) -> T: ...
def require(action: str, obj: object = None) -> object:
    """The views' gate: returns ``obj`` if the signed-in user may do ``action`` on it; otherwise
    the sign-in page for the anonymous, 403 for everyone else."""
    if not allows(current_user, action, obj):
        if not current_user.is_authenticated:
            abort(login_manager.unauthorized())
        abort(403)
    for gate in GATES:
        gate(action)
    return obj


# -- the coordinator pages' lists ---------------------------------------------------------------


def _addresses_in(network_ids: Iterable[int]) -> "Select[str]":
    from models import Member, Membership

    return (
        select(Member.email)
        .join(Membership, Membership.member_id == Member.id)
        .where(Membership.network_id.in_(list(network_ids)))
    )


def outbox_visible(user: "Member") -> "ColumnElement[bool]":
    """The outbox rows ``user`` may see and send again, as a WHERE clause (see the docstring)."""
    from models import Network, OutboxMessage
    from models.outbox import Channel

    ids = user.coordinated_network_ids
    codes = db.session.scalars(select(Network.code).where(Network.id.in_(list(ids)))).all()
    return or_(
        and_(OutboxMessage.channel == Channel.MAIL, OutboxMessage.recipient.in_(_addresses_in(ids))),
        and_(
            OutboxMessage.channel == Channel.WEBHOOK,
            OutboxMessage.recipient.in_([f"Teams: {c}" for c in codes]),
        ),
    )


def outbox_networks(message: "OutboxMessage") -> frozenset[int]:
    """The networks a mail or Teams post concerns (see the docstring)."""
    from models import Member, Membership, Network
    from models.outbox import Channel

    if message.channel == Channel.WEBHOOK:
        code = message.recipient.removeprefix("Teams: ")
        return frozenset(db.session.scalars(select(Network.id).where(Network.code == code)))
    return frozenset(
        db.session.scalars(
            select(Membership.network_id)
            .join(Member, Membership.member_id == Member.id)
            .where(Member.email == message.recipient)
        )
    )


def audit_visible(user: "Member") -> "ColumnElement[bool]":
    """The audit entries ``user`` may read, as a WHERE clause (see the docstring)."""
    from models import AuditEntry, Membership

    ids = list(user.coordinated_network_ids)
    members = select(Membership.member_id).where(Membership.network_id.in_(ids))
    return or_(
        AuditEntry.network_id.in_(ids),
        and_(AuditEntry.network_id.is_(None), AuditEntry.member_id.in_(members)),
    )
