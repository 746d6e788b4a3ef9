"""The main contact (*hovedkontakt*): one per organisation and network, and how the role moves.

Policy (issue 4): a member who asks where there is no main contact gets the role at
once – first come; the coordinator is told and can reassign or remove it.  A main
contact hands over to a colleague, who must accept.  The partial unique index
``uq_memberships_main_contact`` is the last word when two people ask at once.

Each change of the role is one operation below that holds the whole rule – who may, from which
state, who is told – and begins by locking the organisation's row (``_take``): two requests at
the same moment (a double click, two tabs, a member and a coordinator) run one after the other,
the second reading what the first left.  A repeat is the same outcome with nothing more sent;
the pages ask the same rules (``may_claim``, ``may_offer``, ``may_answer``, ``may_assign``,
``may_remove``, ``may_invite``) to decide which buttons to show.
"""

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, Integer, case, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model, db
from models import audit, guard
from models.errors import DomainError
from models.member import normalise_email
from models.membership import Membership, MembershipStatus
from models.notices import notify
from models.organisation import Organisation, OrganisationKind
from models.types import UTCDateTime, string_enum, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Select

    from models.member import Member
    from models.network import Network

# Kinds whose members coordinate through a main contact (the mandate: municipalities).
COORDINATED_KINDS = (OrganisationKind.MUNICIPALITY, OrganisationKind.COUNTY_MUNICIPALITY)
# From this many active members an organisation needs a main contact (the mandate's "many").
NEEDS_MAIN_CONTACT_FROM = 2


class HandoverStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class Handover(Model):
    """A main contact offers the role to a colleague; it moves when the colleague accepts."""

    __tablename__ = "handovers"
    __table_args__ = (
        Index(
            "uq_handovers_pending_from",
            "from_membership_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"))
    to_membership_id: Mapped[int] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[HandoverStatus] = mapped_column(string_enum(HandoverStatus, "handover_status", 10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    from_membership: Mapped["Membership"] = relationship("Membership", foreign_keys=[from_membership_id])
    to_membership: Mapped["Membership"] = relationship("Membership", foreign_keys=[to_membership_id])

    def __init__(self, **values: Any) -> None:
        values.setdefault("status", HandoverStatus.PENDING)
        super().__init__(**values)

    @property
    def is_pending(self) -> bool:
        return self.status == HandoverStatus.PENDING


def _flush_or_refuse(membership: Membership) -> None:
    """Flush the role change; if someone else got there first, undo the request's changes
    and say who holds the role."""
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        holder = membership.current_main_contact()
        name = holder.member.name if holder is not None else _l("someone else")
        raise DomainError(
            _l(
                "%(name)s is already main contact for %(organisation)s in %(network)s.",
                name=name,
                organisation=membership.member.organisation.name,
                network=membership.network.code,
            )
        ) from None


class NotAllowed(DomainError):
    """The person asking may not do this at all (a view answers 403), as opposed to a refusal
    of the moment (someone else holds the role, the offer was answered) shown as a message."""


def _take(organisation_id: int) -> None:
    """Every change to the main-contact roles of an organisation starts here: its row is locked
    (PostgreSQL: ``SELECT … FOR UPDATE``), so claims, offers, answers, assignments, removals and
    invitations for it run one at a time, and each reads the role as the one before left it."""
    guard.locked(Organisation, organisation_id)


def holder(organisation_id: int, network_id: int) -> Membership | None:
    """The membership holding the role now (a fresh query), or None."""
    return db.session.scalar(
        select(Membership).where(
            Membership.organisation_id == organisation_id,
            Membership.network_id == network_id,
            Membership.is_main_contact,
        )
    )


def _already_held(membership: Membership, held_by: Membership) -> DomainError:
    return DomainError(
        _l(
            "%(name)s is already main contact for %(organisation)s in %(network)s.",
            name=held_by.member.name,
            organisation=membership.organisation.name,
            network=membership.network.code,
        )
    )


def _claim_refusal(membership: Membership | None, held_by: Membership | None) -> DomainError | None:
    """Why ``membership`` may not ask for the role (a DomainError), or None if it may."""
    if membership is None:
        return NotAllowed(_l("Only a member of the organisation can be its main contact."))
    if membership.organisation.kind not in COORDINATED_KINDS:
        return DomainError(_l("Only municipalities and county municipalities have a main contact."))
    if membership.status != MembershipStatus.ACTIVE:
        return DomainError(_l("Only an active member can be main contact."))
    if held_by is not None and held_by is not membership:
        return _already_held(membership, held_by)
    return None


def may_claim(membership: Membership | None, held_by: Membership | None) -> bool:
    """May this member ask for the role, with ``held_by`` holding it now (the page's question)?"""
    return _claim_refusal(membership, held_by) is None and not (membership and membership.is_main_contact)


def claim(membership: Membership) -> Membership:
    """A member asks to be main contact where there is none: granted at once (first come), and
    the member and the network's coordinators are told.  Asked again by the one who holds it
    (two tabs): the same outcome, nothing more is done or sent."""
    _take(membership.organisation_id)
    guard.lock(membership)
    held_by = holder(membership.organisation_id, membership.network_id)
    if held_by is membership:
        return membership
    refusal = _claim_refusal(membership, held_by)
    if refusal is not None:
        raise refusal
    membership.make_main_contact()
    _flush_or_refuse(membership)
    announce(membership)
    return membership


def may_assign(membership: Membership) -> bool:
    """May a coordinator make ``membership`` main contact (the page's question)?"""
    return _assign_refusal(membership) is None and not membership.is_main_contact


def _assign_refusal(membership: Membership) -> DomainError | None:
    if membership.status != MembershipStatus.ACTIVE:
        return DomainError(_l("Only an active member can be main contact."))
    if not membership.organisation.can_have_main_contact:
        return DomainError(_l("Observers have no main contact."))
    return None


def assign(membership: Membership) -> Membership | None:
    """The coordinator makes ``membership`` main contact, replacing whoever held the role; the
    new one, the one replaced and the coordinators are told.  Returns the membership replaced
    (None if there was none, or if ``membership`` holds the role already: then nothing is done)."""
    _take(membership.organisation_id)
    guard.lock(membership)
    held_by = holder(membership.organisation_id, membership.network_id)
    if held_by is membership:
        return None
    refusal = _assign_refusal(membership)
    if refusal is not None:
        raise refusal
    if held_by is not None:
        guard.lock(held_by)
        held_by.vacate_main_contact(reason="reassigned by coordinator")
        _withdraw_offers(held_by)
        db.session.flush()
    membership.make_main_contact()
    _flush_or_refuse(membership)
    announce(membership, held_by.member if held_by is not None else None)
    return held_by


def may_remove(membership: Membership) -> bool:
    """May a coordinator remove ``membership`` as main contact (the page's question)?"""
    return membership.is_main_contact


def remove(organisation_id: int, network: "Network", membership_id: int | None = None) -> Membership | None:
    """The coordinator removes the main contact (the one the page showed, ``membership_id``,
    if given); the municipality is flagged if it needs one.  Returns the membership removed, or
    None if there was nothing to remove (removed already: a second press changes nothing)."""
    _take(organisation_id)
    held_by = holder(organisation_id, network.id)
    if held_by is None or (membership_id is not None and held_by.id != membership_id):
        return None
    guard.lock(held_by)
    held_by.vacate_main_contact(reason="removed by coordinator")
    _withdraw_offers(held_by)
    notify(
        held_by.member,
        _l("You are no longer main contact"),
        _l(
            "The coordinator has removed you as main contact for %(org)s in %(network)s.",
            org=held_by.organisation.name,
            network=network.code,
        ),
        endpoint="municipalities.show",
        organisation_id=organisation_id,
    )
    return held_by


def _withdraw_offers(membership: Membership) -> None:
    """A main contact who loses the role can no longer hand it over: their offer lapses."""
    for pending in db.session.scalars(
        select(Handover).filter_by(from_membership_id=membership.id, status=HandoverStatus.PENDING)
    ):
        pending.status = HandoverStatus.CANCELLED
        pending.decided_at = utcnow()


def may_offer(membership: Membership | None) -> bool:
    """May this member hand the role over (the page's question)?"""
    return membership is not None and membership.is_main_contact


def _offer_refusal(from_membership: Membership, to_membership: Membership) -> DomainError | None:
    if not may_offer(from_membership):
        return NotAllowed(_l("Only the main contact can hand the role over."))
    if (to_membership.organisation_id, to_membership.network_id) != (
        from_membership.organisation_id,
        from_membership.network_id,
    ) or to_membership.id == from_membership.id:
        return DomainError(_l("Choose a colleague from your own organisation and network."))
    if to_membership.status != MembershipStatus.ACTIVE:
        return DomainError(_l("Only an active member can be main contact."))
    return None


def offer(from_membership: Membership, to_membership: Membership) -> Handover:
    """The main contact offers the role to a colleague of the same organisation and network, who
    is asked by mail.  Offered again to the same colleague while the offer waits: the same offer,
    no second mail.  Offered to another: the earlier offer is withdrawn."""
    _take(from_membership.organisation_id)
    guard.lock(from_membership)
    guard.lock(to_membership)
    refusal = _offer_refusal(from_membership, to_membership)
    if refusal is not None:
        raise refusal
    pending = db.session.scalar(
        select(Handover).filter_by(from_membership_id=from_membership.id, status=HandoverStatus.PENDING)
    )
    if pending is not None and pending.to_membership_id == to_membership.id:
        return pending
    _withdraw_offers(from_membership)
    db.session.flush()
    handover = Handover(from_membership=from_membership, to_membership=to_membership)
    db.session.add(handover)
    audit.record(
        "main_contact.offered",
        member=to_membership.member,
        network=to_membership.network,
        subject=f"membership:{to_membership.id}",
        after={"from": from_membership.member.name},
    )
    notify(
        to_membership.member,
        _l("Will you be main contact?"),
        _l(
            "%(name)s asks you to take over as main contact for %(org)s in %(network)s. Accept or decline on the page for your municipality.",
            name=from_membership.member.name,
            org=from_membership.organisation.name,
            network=from_membership.network.code,
        ),
        endpoint="municipalities.show",
        organisation_id=from_membership.organisation_id,
    )
    return handover


class Answer(enum.StrEnum):
    """What answering an offer came to."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    ALREADY_ACCEPTED = "already_accepted"
    ALREADY_DECLINED = "already_declined"
    LAPSED = "lapsed"


def may_answer(handover: Handover, member: "Member") -> bool:
    """May ``member`` accept or decline this offer (the page's question)?"""
    return handover.is_pending and handover.to_membership.member_id == member.id


def answer(handover: Handover, member: "Member", accept: bool) -> Answer:
    """The colleague accepts (the role moves in one transaction; everyone concerned is told) or
    declines (the main contact is told).  The same answer again – a double click, two tabs – is
    the same outcome (``ALREADY_…``) with nothing more done or sent; an offer answered the other
    way or withdrawn is refused.  An offer whose main contact lost the role meanwhile lapses
    (``LAPSED``: the caller commits, so the offer is shown no more)."""
    _take(handover.to_membership.organisation_id)
    guard.lock(handover)
    if handover.to_membership.member_id != member.id:
        raise NotAllowed(_l("This offer was made to someone else."))
    if handover.status == HandoverStatus.ACCEPTED and accept:
        return Answer.ALREADY_ACCEPTED
    if handover.status == HandoverStatus.DECLINED and not accept:
        return Answer.ALREADY_DECLINED
    if handover.status == HandoverStatus.CANCELLED:
        raise DomainError(_l("The offer has been withdrawn."))
    if not handover.is_pending:
        raise DomainError(_l("This offer has already been answered."))
    from_membership, to_membership = guard.lock(handover.from_membership), guard.lock(handover.to_membership)
    handover.decided_at = utcnow()
    if not accept:
        handover.status = HandoverStatus.DECLINED
        audit.record(
            "main_contact.declined",
            member=to_membership.member,
            network=to_membership.network,
            subject=f"membership:{to_membership.id}",
        )
        notify(
            from_membership.member,
            _l("Your colleague declined"),
            _l("%(name)s does not want to take over as main contact.", name=to_membership.member.name),
            endpoint="municipalities.show",
            organisation_id=to_membership.organisation_id,
        )
        return Answer.DECLINED
    if not from_membership.is_main_contact:
        handover.status = HandoverStatus.CANCELLED
        return Answer.LAPSED
    handover.status = HandoverStatus.ACCEPTED
    from_membership.vacate_main_contact(reason="handed over")
    db.session.flush()
    to_membership.make_main_contact()
    _flush_or_refuse(to_membership)
    announce(to_membership, from_membership.member, _l("Your colleague took over as main contact"))
    return Answer.ACCEPTED


def lacks_main_contact(organisation: Organisation, held_by: Membership | None, active: int) -> bool:
    """Does the organisation need a main contact in a network where ``held_by`` holds the role
    and ``active`` members are active?  (``needing_main_contact`` asks the same of many at once.)"""
    return organisation.kind in COORDINATED_KINDS and held_by is None and active >= NEEDS_MAIN_CONTACT_FROM


# -- invitations -------------------------------------------------------------------------------

# The same address invited to the same organisation and network again within this time is the
# same invitation (a double click, two tabs): it is not sent twice.
INVITE_AGAIN_AFTER = timedelta(days=1)


def may_invite(member: "Member", membership: Membership | None, network: "Network") -> bool:
    """May ``member`` (whose membership of the organisation in ``network`` is ``membership``,
    if any) invite colleagues to it: its main contact, or a coordinator of the network."""
    return member.coordinates(network) or (
        membership is not None and membership.is_main_contact and membership.member_id == member.id
    )


def invite(
    inviter: "Member", organisation: Organisation, network: "Network", email: str, message: str | None = None
) -> bool:
    """Mail ``email`` an invitation to register with ``organisation`` filled in.  Returns False
    if the same address was invited to the same organisation and network within a day (that
    invitation stands; no second mail)."""
    from models.outbox import OutboxMessage, link, queue

    _take(organisation.id)
    membership = db.session.scalar(
        select(Membership).where(
            Membership.member_id == inviter.id,
            Membership.organisation_id == organisation.id,
            Membership.network_id == network.id,
        )
    )
    if membership is not None:
        guard.lock(membership)
    if not may_invite(inviter, membership, network):
        raise NotAllowed(_l("Only the main contact and the coordinators can invite colleagues."))
    email = normalise_email(email)
    batch = f"invitation:{organisation.id}:{network.id}"
    if (
        db.session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.recipient == email,
                OutboxMessage.batch == batch,
                OutboxMessage.created_at > utcnow() - INVITE_AGAIN_AFTER,
            )
            .limit(1)
        )
        is not None
    ):
        return False
    queue(
        email,
        _l("An invitation to the network for migration health"),
        "invitation",
        locale=organisation.language_decision.written_form,  # to someone at it: in its målvedtak
        inviter=inviter,
        organisation=organisation,
        network=network,
        message=message,
        url=link("registration.register_page", organisation=organisation.id),
        batch=batch,
    )
    return True


def needing_main_contact(
    network_ids: Iterable[int] | None = None, organisation_ids: Iterable[int] | None = None
) -> "Select[Organisation, int, int]":
    """(organisation, network) pairs of municipalities and counties with two or more active
    members and no main contact, as a select of (Organisation, network_id, active count).

    One grouped pass over the active memberships: a main contact is always active (the
    ``main_contact_is_active`` check), so a group without one among its active members has none.
    """
    query = (
        select(Organisation, Membership.network_id, func.count(Membership.id).label("active"))
        .join(Membership, Membership.organisation_id == Organisation.id)
        .where(Organisation.kind.in_(COORDINATED_KINDS), Membership.status == MembershipStatus.ACTIVE)
        .group_by(Organisation.id, Membership.network_id)
        .having(
            func.count(Membership.id) >= NEEDS_MAIN_CONTACT_FROM,
            func.count(case((Membership.is_main_contact, 1))) == 0,
        )
        .order_by(Organisation.name_folded)
    )
    if network_ids is not None:
        query = query.where(Membership.network_id.in_(list(network_ids)))
    if organisation_ids is not None:
        query = query.where(Organisation.id.in_(list(organisation_ids)))
    return query


def announce(
    membership: Membership, previous: "Member | None" = None, previous_subject: str | LazyString | None = None
) -> None:
    """Mail the new main contact, the one they replace, and the network's coordinators."""
    from models.notices import notify_coordinators

    line = _l(
        "%(name)s is now main contact for %(org)s in %(network)s.",
        name=membership.member.name,
        org=membership.organisation.name,
        network=membership.network.code,
    )
    where: dict[str, Any] = {"endpoint": "municipalities.show", "organisation_id": membership.organisation_id}
    notify(membership.member, _l("You are main contact"), line, **where)
    if previous is not None and previous is not membership.member:
        notify(previous, previous_subject or _l("You are no longer main contact"), line, **where)
    notify_coordinators(membership.network, _l("New main contact"), line, **where)
