"""The audit log: who changed what, when, with the values before and after."""

from contextlib import contextmanager
from datetime import datetime

from flask import g, has_app_context
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.types import UTCDateTime, utcnow


class AuditEntry(db.Model):
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
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)

    actor = relationship("Member", foreign_keys=[actor_id])
    member = relationship("Member", foreign_keys=[member_id])
    network = relationship("Network")


SYSTEM = (None, "system")


def current_actor():
    """(member or None, label) for the code running now: the signed-in user, a manager
    acting through a link, a command, or the system."""
    if has_app_context() and "audit_actor" in g:
        return g.audit_actor
    return SYSTEM


@contextmanager
def acting_as(member=None, label=None):
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


def forget_actor(member, label):
    """The erased ``member`` acts on in this request (or command) under ``label``, not their name."""
    if has_app_context() and g.get("audit_actor") and g.audit_actor[0] is member:
        g.audit_actor = (member, label)


def record(action, *, member=None, network=None, subject=None, before=None, after=None, reason=None):
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


def members_in(entries, text, limit=20):
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
