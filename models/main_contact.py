"""The main contact (*hovedkontakt*): one per organisation and network, and how the role moves.

Policy (issue 4): a member who asks where there is no main contact gets the role at
once – first come; the coordinator is told and can reassign or remove it.  A main
contact hands over to a colleague, who must accept.  The partial unique index
``uq_memberships_main_contact`` is the last word when two people ask at once.
"""

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, Integer, case, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models import audit
from models.errors import DomainError
from models.membership import Membership, MembershipStatus
from models.organisation import Organisation, OrganisationKind
from models.types import UTCDateTime, string_enum, utcnow

# Kinds whose members coordinate through a main contact (the mandate: municipalities).
COORDINATED_KINDS = (OrganisationKind.MUNICIPALITY, OrganisationKind.COUNTY_MUNICIPALITY)


class HandoverStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class Handover(db.Model):
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
    to_membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"), index=True)
    status: Mapped[HandoverStatus] = mapped_column(string_enum(HandoverStatus, "handover_status", 10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    from_membership = relationship("Membership", foreign_keys=[from_membership_id])
    to_membership = relationship("Membership", foreign_keys=[to_membership_id])

    def __init__(self, **values):
        values.setdefault("status", HandoverStatus.PENDING)
        super().__init__(**values)

    @property
    def is_pending(self):
        return self.status == HandoverStatus.PENDING


def _flush_or_refuse(membership):
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


def claim(membership):
    """A member asks to be main contact where there is none: granted at once (first come)."""
    if membership.member.organisation.kind not in COORDINATED_KINDS:
        raise DomainError(_l("Only municipalities and county municipalities have a main contact."))
    membership.make_main_contact()
    _flush_or_refuse(membership)
    return membership


def assign(membership):
    """The coordinator makes ``membership`` main contact, replacing whoever held the role."""
    holder = membership.current_main_contact()
    if holder is not None and holder is not membership:
        holder.vacate_main_contact(reason="reassigned by coordinator")
        db.session.flush()
    membership.make_main_contact()
    _flush_or_refuse(membership)
    return holder


def offer(from_membership, to_membership):
    """The main contact offers the role to a colleague of the same organisation and network."""
    if not from_membership.is_main_contact:
        raise DomainError(_l("Only the main contact can hand the role over."))
    if (to_membership.organisation_id, to_membership.network_id) != (
        from_membership.organisation_id,
        from_membership.network_id,
    ) or to_membership.id == from_membership.id:
        raise DomainError(_l("Choose a colleague from your own organisation and network."))
    if to_membership.status != MembershipStatus.ACTIVE:
        raise DomainError(_l("Only an active member can be main contact."))
    for pending in db.session.scalars(
        select(Handover).filter_by(from_membership_id=from_membership.id, status=HandoverStatus.PENDING)
    ):
        pending.status = HandoverStatus.CANCELLED
        pending.decided_at = utcnow()
    db.session.flush()
    handover = Handover(from_membership=from_membership, to_membership=to_membership)
    db.session.add(handover)
    audit.record(
        "main_contact.offered", member=to_membership.member, network=to_membership.network,
        subject=f"membership:{to_membership.id}", after={"from": from_membership.member.name},
    )
    return handover


def answer(handover, accept):
    """The colleague accepts (the role moves in one transaction) or declines."""
    if not handover.is_pending:
        raise DomainError(_l("This offer has already been answered."))
    handover.decided_at = utcnow()
    if not accept:
        handover.status = HandoverStatus.DECLINED
        audit.record("main_contact.declined", member=handover.to_membership.member,
                     network=handover.to_membership.network, subject=f"membership:{handover.to_membership_id}")
        return handover
    if not handover.from_membership.is_main_contact:
        handover.status = HandoverStatus.CANCELLED
        raise DomainError(_l("The offer lapsed: %(name)s is no longer main contact.",
                             name=handover.from_membership.member.name))
    handover.status = HandoverStatus.ACCEPTED
    handover.from_membership.vacate_main_contact(reason="handed over")
    db.session.flush()
    handover.to_membership.make_main_contact()
    _flush_or_refuse(handover.to_membership)
    return handover


def needing_main_contact(network_ids=None, organisation_ids=None):
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
        .having(func.count(Membership.id) >= 2,
                func.count(case((Membership.is_main_contact, 1))) == 0)
        .order_by(Organisation.name_folded)
    )
    if network_ids is not None:
        query = query.where(Membership.network_id.in_(list(network_ids)))
    if organisation_ids is not None:
        query = query.where(Organisation.id.in_(list(organisation_ids)))
    return query



def announce(membership, previous=None, previous_subject=None):
    """Mail the new main contact, the one they replace, and the network's coordinators."""
    from models.notices import notify, notify_coordinators

    line = _l(
        "%(name)s is now main contact for %(org)s in %(network)s.",
        name=membership.member.name,
        org=membership.organisation.name,
        network=membership.network.code,
    )
    where = {"endpoint": "municipalities.show", "organisation_id": membership.organisation_id}
    notify(membership.member, _l("You are main contact"), line, **where)
    if previous is not None and previous is not membership.member:
        notify(previous, previous_subject or _l("You are no longer main contact"), line, **where)
    notify_coordinators(membership.network, _l("New main contact"), line, **where)
