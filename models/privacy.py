"""The retention rule: a former member's personal data is kept for a while after their last
membership ended, then erased (``flask privacy purge``, daily from cron).

Former means every membership has ended – left, lapsed at a review, or declined by the line
manager – and none is active or waiting.  Coordinators keep their account while they hold the
role.  Erasure is ``Member.erase``, the same as a member deleting their own account: the history
stays, without the person, and the audit log says why.
"""

import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from typing import cast as cast_type

from sqlalchemy import ColumnElement, CursorResult, func, select

from extensions import db
from models import audit
from models.errors import DomainError
from models.member import Member
from models.membership import Membership, MembershipStatus
from models.role import CoordinatorRole
from models.types import utcnow

if TYPE_CHECKING:
    from sqlalchemy import Select

ENDED = (MembershipStatus.LEFT, MembershipStatus.LAPSED, MembershipStatus.DECLINED)
REASON = "retention: %(days)s days after the last membership ended"


def due(days: int, now: datetime | None = None) -> "Select[int]":
    """A select of the ids of former members whose last membership ended more than ``days`` days ago."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    return (
        select(Membership.member_id)
        .join(Member, Member.id == Membership.member_id)
        .where(
            Member.deleted_at.is_(None),
            ~select(CoordinatorRole.id).where(CoordinatorRole.member_id == Member.id).exists(),
        )
        .group_by(Membership.member_id)
        .having(
            func.count().filter(Membership.status.not_in(ENDED)) == 0,
            func.max(Membership.status_changed_at) < cutoff,
        )
    )


def purge(days: int, now: datetime | None = None) -> int:
    """Erase the personal data of every former member past the retention period; returns how many.

    Each member's row is taken before it is erased (``Member.erase``): one erased meanwhile – by
    an overlapping run, or by the member deleting the account – is passed over, not erased twice.
    """
    ids = db.session.scalars(due(days, now)).all()
    erased = 0
    with audit.acting_as(label="flask privacy purge"):
        for member in db.session.scalars(select(Member).where(Member.id.in_(ids)).order_by(Member.id)).all():
            try:
                member.erase(reason=REASON % {"days": days})
            except DomainError:
                continue
            erased += 1
    return erased


# -- what an erasure scrubs beyond the member's own row ------------------------------------------

ERASED_NAME = "Slettet deltaker"

# Free text in which a member's name or address can stand, table by table: an erasure replaces
# them there (``scrub``).  Left alone on purpose: other members' own records of who their line
# manager is (``members.manager_*``, ``anchorings.manager_*``) – their data, needed to ask that
# manager – and reference data (organisations, networks).
FREE_TEXT = {
    "outbox": ("recipient", "subject", "body_text", "body_html", "last_error"),
    "audit_log": ("actor_label", "reason"),
    "change_requests": ("email", "new_email", "name", "note", "decision_note"),
    "news_inputs": ("title", "body", "link", "note"),
    "newsletters": ("title", "body"),
    "topic_proposals": ("title", "description", "reason"),
    "advice_requests": ("title", "body"),
    "advice_answers": ("body",),
    "review_responses": (
        "comment_competence",
        "comment_equity",
        "comment_public_health",
        "comment_emergency",
        "change_wish",
    ),
    "meetings": ("title", "description", "topic", "place", "agenda", "minutes"),
    "mandate_versions": ("note",),
    "memberships": ("end_reason",),
    "anchorings": ("decided_by_name", "decided_by_email", "reason"),
    "emergencies": ("title", "description"),
    "signals": ("text", "note"),
    "signal_replies": ("body",),
    "packages": ("title", "purpose"),
    "package_links": ("source",),
    "package_shares": ("note",),
}
JSON_TEXT = {"audit_log": ("before", "after"), "outbox": ("headers",)}
# In the audit entries about the erased member, these values are theirs (or their line manager's,
# kept only because of them): dropped, the event kept.
PERSONAL_KEYS = {"email", "new_email", "name", "phone", "job_title", "unit", "manager_name", "manager_email"}


def known_identity(member: Member) -> tuple[set[str], set[str]]:
    """The names and addresses the member has had here: the current ones, addresses they asked to
    change to, and the addresses and names the audit log recorded for them."""
    from models.audit import AuditEntry
    from models.email_change import EmailChange

    names, addresses = {member.name}, {member.email}
    addresses.update(
        db.session.scalars(select(EmailChange.new_email).where(EmailChange.member_id == member.id))
    )
    for before, after in db.session.execute(
        select(AuditEntry.before, AuditEntry.after).where(AuditEntry.member_id == member.id)
    ):
        for values in (before or {}, after or {}):
            if isinstance(values, dict):
                addresses.update(
                    v for k, v in values.items() if k in ("email", "new_email") and isinstance(v, str)
                )
    return {n for n in names if n and len(n.strip()) >= 3}, {a.lower() for a in addresses if a and "@" in a}


def _replacer(member: Member, names: Iterable[str], addresses: Iterable[str]) -> Callable[[Any], Any]:
    """A function that replaces every name and address in a text (whole words, any case)."""
    from markupsafe import escape

    address_to = f"slettet-{member.id}@invalid"
    rules: list[tuple[re.Pattern[str], str]] = []
    for address in sorted(addresses, key=len, reverse=True):
        rules.append((re.compile(re.escape(address), re.IGNORECASE), address_to))
    for name in sorted(names, key=len, reverse=True):
        for form in {name, str(escape(name))}:
            rules.append((re.compile(r"(?<!\w)" + re.escape(form) + r"(?!\w)", re.IGNORECASE), ERASED_NAME))

    def replace(value: Any) -> Any:  # a text, or a JSON document of them
        if isinstance(value, str):
            for pattern, to in rules:
                value = pattern.sub(to, value)
            return value
        if isinstance(value, dict):
            return {replace(k): replace(v) for k, v in value.items()}
        if isinstance(value, list):
            return [replace(v) for v in value]
        return value

    return replace


def _like_any(columns: Iterable[Any], needles: Iterable[str], as_text: bool = False) -> ColumnElement[bool]:
    from sqlalchemy import Text, cast, or_

    def pattern(needle: str) -> str:
        return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

    return or_(
        *[(cast(c, Text) if as_text else c).ilike(pattern(n), escape="\\") for c in columns for n in needles]
    )


def scrub(member: Member, names: set[str], addresses: set[str]) -> None:
    """Take the erased member's names and addresses out of everything the database keeps besides
    their own row, in the caller's transaction (``Member.erase``):

    - mail to them that has not gone is deleted; mail that went keeps a row without its text
      (recipient ``slettet-<id>@invalid``, no body, no calendar file);
    - every other mention – a subject, a mail body, an audit entry's actor, reason or values, a
      change request, a text someone wrote – has the name replaced by "Slettet deltaker" and the
      address by ``slettet-<id>@invalid``;
    - the audit entries they made or that are about them keep the event, not the person: the actor
      is "Slettet deltaker", and their (and their line manager's) details in the values are dropped.
    """
    import json

    from sqlalchemy import delete, func, update

    from models.audit import AuditEntry
    from models.outbox import OutboxMessage, OutboxStatus

    audit.forget_actor(member, ERASED_NAME)
    db.session.flush()
    replace = _replacer(member, names, addresses)
    lowered = [a.lower() for a in addresses]
    if lowered:
        to_them = func.lower(OutboxMessage.recipient).in_(lowered)
        db.session.execute(
            delete(OutboxMessage)
            .where(to_them, OutboxMessage.status != OutboxStatus.SENT)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            update(OutboxMessage)
            .where(to_them)
            .values(
                recipient=f"slettet-{member.id}@invalid", body_text="", body_html=None, ics=None, headers=None
            )
            .execution_options(synchronize_session=False)
        )
    db.session.execute(
        update(AuditEntry)
        .where(AuditEntry.actor_id == member.id)
        .values(actor_label=ERASED_NAME)
        .execution_options(synchronize_session=False)
    )
    for entry in db.session.scalars(select(AuditEntry).where(AuditEntry.member_id == member.id)):
        for side in ("before", "after"):
            recorded = getattr(entry, side)
            if isinstance(recorded, dict) and PERSONAL_KEYS & recorded.keys():
                setattr(entry, side, {k: (None if k in PERSONAL_KEYS else v) for k, v in recorded.items()})
    db.session.flush()

    needles = set(names) | set(addresses)
    json_needles = needles | {json.dumps(n)[1:-1] for n in needles}
    for name, table in db.metadata.tables.items():
        text_columns = [table.c[c] for c in FREE_TEXT.get(name, ())]
        json_columns = [table.c[c] for c in JSON_TEXT.get(name, ())]
        if not (text_columns or json_columns) or not needles:
            continue
        key = next(iter(table.primary_key.columns))
        extra = [table.c.ics] if name == "outbox" else []
        condition = _like_any(text_columns, needles)
        if json_columns:
            condition = condition | _like_any(json_columns, json_needles, as_text=True)
        for row in db.session.execute(
            select(key, *text_columns, *json_columns, *extra).where(condition)
        ).all():
            values: dict[str, Any] = {}
            for column in (*text_columns, *json_columns):
                before = row._mapping[column]
                after = replace(before)
                if after != before:
                    values[column.name] = after
            if extra and row._mapping[table.c.ics]:
                ics = row._mapping[table.c.ics].decode("utf-8", "replace").replace("\r\n ", "")
                if replace(ics) != ics:
                    values["ics"] = replace(ics).encode()
            if values:
                db.session.execute(update(table).where(key == row._mapping[key]).values(**values))
    db.session.expire_all()


def forget_sent_bodies(days: int, now: datetime | None = None) -> int:
    """Mail sent more than ``days`` days ago keeps its row (to whom, the subject, when, how it went)
    but not its text nor its calendar file; returns how many rows lost theirs."""
    from sqlalchemy import update

    from models.outbox import OutboxMessage, OutboxStatus

    cutoff = (now or utcnow()) - timedelta(days=days)
    result = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.SENT,
            OutboxMessage.sent_at < cutoff,
            (OutboxMessage.body_text != "")
            | OutboxMessage.body_html.is_not(None)
            | OutboxMessage.ics.is_not(None),
        )
        .values(body_text="", body_html=None, ics=None)
        .execution_options(synchronize_session=False)
    )
    return cast_type("CursorResult[Any]", result).rowcount  # an UPDATE's result
