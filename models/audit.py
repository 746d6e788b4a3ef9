"""The audit log: who changed what, when, with the values before and after."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import g, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model, db
from models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Select

    from models.member import Member
    from models.network import Network


class AuditEntry(Model):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_member_id_at", "member_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    # Who acted, in words, kept even when the account is gone ("Kari Nordmann", "leder: x@y.no").
    actor_label: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(60), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    network_id: Mapped[int | None] = mapped_column(ForeignKey("networks.id"))
    subject: Mapped[str | None] = mapped_column(String(60))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)

    actor: Mapped["Member | None"] = relationship("Member", foreign_keys=[actor_id])
    member: Mapped["Member | None"] = relationship("Member", foreign_keys=[member_id])
    network: Mapped["Network | None"] = relationship("Network")


Actor = tuple["Member | None", str]
SYSTEM: Actor = (None, "system")


def current_actor() -> Actor:
    """(member or None, label) for the code running now: the signed-in user, a manager
    acting through a link, a command, or the system."""
    if has_app_context() and "audit_actor" in g:
        actor: Actor = g.audit_actor
        return actor
    return SYSTEM


@contextmanager
def acting_as(member: "Member | None" = None, label: str | None = None) -> Iterator[None]:
    """Attribute the audit entries written inside to ``member`` or to ``label``."""
    previous = g.get("audit_actor")
    g.audit_actor = (member, label or (member.name if member else "system"))
    try:
        yield
    finally:
        if previous is None:
            g.pop("audit_actor", None)
        else:
            g.audit_actor = previous


def forget_actor(member: "Member", label: str) -> None:
    """The erased ``member`` acts on in this request (or command) under ``label``, not their name."""
    if has_app_context() and g.get("audit_actor") and g.audit_actor[0] is member:
        g.audit_actor = (member, label)


def record(
    action: str,
    *,
    member: "Member | None" = None,
    network: "Network | None" = None,
    subject: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEntry:
    assert action in ACTIONS, f"{action!r} is not in audit.ACTIONS: add it there (the audit page's filter)"
    actor, label = current_actor()
    entry = AuditEntry(
        action=action,
        actor=actor,
        actor_label=label,
        member=member,
        network=network,
        subject=subject,
        before=before,
        after=after,
        reason=reason,
    )
    db.session.add(entry)
    return entry


def members_in(entries: "Select[AuditEntry]", text: str, limit: int = 20) -> Sequence["Member"]:
    """The members named in ``entries`` (a select of audit entries, as the viewer may see them)
    whose name or address contains ``text``, by name; at most ``limit``."""
    from sqlalchemy import func, or_, select

    from models.member import Member

    needle = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{needle}%"
    named = (
        entries.with_only_columns(AuditEntry.member_id)
        .where(AuditEntry.member_id.is_not(None))
        .order_by(None)
    )
    return db.session.scalars(
        select(Member)
        .where(
            Member.id.in_(named),
            Member.deleted_at.is_(None),
            or_(func.lower(Member.name).like(pattern, escape="\\"), Member.email.like(pattern, escape="\\")),
        )
        .order_by(Member.name, Member.id)
        .limit(limit)
    ).all()


# -- what the log says: every action the code writes, with what the audit page calls it ----------

ACTIONS = {
    "member.registered": _l("Registered"),
    "member.email_verified": _l("E-mail address confirmed"),
    "member.email_change_requested": _l("New e-mail address asked for"),
    "member.email_changed": _l("E-mail address changed"),
    "member.password_reset": _l("Password reset"),
    "member.manager_changed": _l("Line manager changed"),
    "member.directory_hidden": _l("Hidden from the member directory"),
    "member.directory_shown": _l("Shown in the member directory"),
    "member.deleted": _l("Account deleted"),
    "membership.status": _l("Membership status changed"),
    "membership.main_contact": _l("Main contact changed"),
    "anchoring.requested": _l("Anchoring asked for"),
    "anchoring.confirmed": _l("Anchoring confirmed"),
    "anchoring.declined": _l("Anchoring declined"),
    "role.coordinator_granted": _l("Made coordinator"),
    "main_contact.offered": _l("Main contact role offered"),
    "main_contact.declined": _l("Main contact role declined"),
    "change_request.applied": _l("Reported change applied"),
    "change_request.rejected": _l("Reported change rejected"),
    "organisation.added": _l("Organisation added"),
    "organisation.edited": _l("Organisation changed"),
    "organisation.deactivated": _l("Organisation deactivated"),
    "organisation.reactivated": _l("Organisation in use again"),
    "meeting.planned": _l("Meeting planned"),
    "meeting.changed": _l("Meeting changed"),
    "meeting.cancelled": _l("Meeting cancelled"),
    "meeting.attendance": _l("Attendance recorded"),
    "meeting.minutes_published": _l("Minutes published"),
    "meeting.call_in_reminded": _l("Call-in reminder sent"),
    "topic.accepted": _l("Topic accepted"),
    "topic.declined": _l("Topic declined"),
    "news_input.submitted": _l("Newsletter input sent"),
    "news_input.edited": _l("Newsletter input edited"),
    "news_input.included": _l("Newsletter input included"),
    "news_input.declined": _l("Newsletter input declined"),
    "news_input.withdrawn": _l("Newsletter input back in the queue"),
    "newsletter.created": _l("Newsletter issue created"),
    "newsletter.sent": _l("Newsletter issue sent"),
    "newsletter.subscribed": _l("Newsletter started again"),
    "newsletter.unsubscribed": _l("Newsletter stopped"),
    "advice.posted": _l("Request for advice posted"),
    "advice.reminded": _l("Request for advice: reminder sent"),
    "review.opened": _l("Review opened"),
    "review.reminded": _l("Review reminder sent"),
    "review.answered": _l("Review answered"),
    "review.closed": _l("Review closed"),
    "mandate.recorded": _l("Mandate version recorded"),
    "teams.invited": _l("Marked invited to Teams"),
    "teams.channel_set": _l("Teams channel set"),
    "teams.channel_cleared": _l("Teams channel removed"),
    "demo.seeded": _l("Demo data seeded"),
}
