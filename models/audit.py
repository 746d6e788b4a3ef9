"""The audit log: who changed what, when, with the values before and after."""

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from flask import g, has_app_context
from flask_babel import format_date, format_datetime
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model, db
from models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from flask_babel import LazyString
    from sqlalchemy import Select

    from models.member import Member
    from models.network import Network
    from models.types import LabelledEnum


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


def filed_under(networks: "Sequence[Network]") -> "Network | None":
    """The network an entry about something of ``networks`` (a meeting, an emergency) is filed
    under, so that its coordinators read it in the audit log: its one network; a joint one is
    filed under none."""
    return networks[0] if len(networks) == 1 else None


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
    whose name has every word of ``text`` at the start of one of its words (``models.search``)
    or whose address contains ``text``, by name; at most ``limit``."""
    from sqlalchemy import or_, select

    from models import search
    from models.member import Member

    found = search.terms(text) or []
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
            or_(
                search.matches(Member.search_key, found),
                Member.email.like(pattern, escape="\\"),
            ),
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
    "member.provider_linked": _l("Single sign-on account linked"),
    "member.provider_unlinked": _l("Single sign-on account unlinked"),
    "second_factor.set_up": _l("Second factor turned on"),
    "second_factor.turned_off": _l("Second factor turned off"),
    "second_factor.replaced": _l("Second factor moved to a new app"),
    "second_factor.recovery_codes_renewed": _l("New recovery codes made"),
    "second_factor.recovery_used": _l("Recovery code used"),
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
    "organisation.language_decided": _l("Written form (målvedtak) recorded"),
    "organisation.reactivated": _l("Organisation in use again"),
    "meeting.planned": _l("Meeting planned"),
    "emergency.opened": _l("Emergency opened"),
    "emergency.closed": _l("Emergency closed"),
    "signal.handled": _l("Signal followed up"),
    "signal.merged": _l("Signal merged"),
    "signal.replied": _l("Reply to a signal"),
    "package.posted": _l("Information package posted"),
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


# -- what the audit page says: each entry as a sentence in the reader's language ------------------
#
# One mechanism for every action: PHRASES gives each action a translatable sentence with named
# slots – ``actor`` (who acted), ``member`` (whom the entry is about), ``network``, ``object`` (the
# meeting, organisation, input… by its title or name) and any field of the entry's values.  The
# fields the phrase does not name follow it, each by its label, as "label before → after" when
# both are recorded, else "label: value"; values are formatted like the rest of the app (times in
# Europe/Oslo, labels of enums, lists joined).  A reason the code wrote is translated (REASONS).


@dataclass(frozen=True)
class Phrase:
    """What the audit page says of an action: ``about`` (``%(actor)s`` … ``%(member)s`` …),
    ``own`` when the actor is the member the entry is about, and the fields the verb says already."""

    about: "LazyString"
    own: "LazyString | None" = None
    hide: frozenset[str] = frozenset()


def _p(about: "LazyString", own: "LazyString | None" = None, hide: Iterable[str] = ()) -> Phrase:
    return Phrase(about, own, frozenset(hide))


PHRASES: dict[str, Phrase] = {
    "member.registered": _p(_l("%(member)s registered in %(networks)s from %(organisation)s")),
    "member.email_verified": _p(
        _l("%(actor)s confirmed the e-mail address of %(member)s"),
        _l("%(actor)s confirmed their e-mail address"),
    ),
    "member.email_change_requested": _p(
        _l("%(actor)s asked to change the e-mail address of %(member)s"),
        _l("%(actor)s asked to change their e-mail address"),
    ),
    "member.email_changed": _p(
        _l("%(actor)s changed the e-mail address of %(member)s"),
        _l("%(actor)s changed their e-mail address"),
    ),
    "member.password_reset": _p(
        _l("%(actor)s reset the password of %(member)s"), _l("%(actor)s chose a new password")
    ),
    "member.manager_changed": _p(
        _l("%(actor)s changed the line manager of %(member)s"), _l("%(actor)s changed their line manager")
    ),
    "member.directory_hidden": _p(
        _l("%(actor)s hid %(member)s in the member directory"),
        _l("%(actor)s chose not to be shown in the member directory"),
    ),
    "member.directory_shown": _p(
        _l("%(actor)s showed %(member)s in the member directory"),
        _l("%(actor)s chose to be shown in the member directory"),
    ),
    "member.deleted": _p(
        _l("%(actor)s deleted the account of %(member)s"), _l("%(actor)s deleted their account")
    ),
    "member.provider_linked": _p(
        _l("%(actor)s linked the account of %(member)s to sign-in with %(provider)s"),
        _l("%(actor)s linked their account to sign-in with %(provider)s"),
    ),
    "member.provider_unlinked": _p(
        _l("%(actor)s removed the link from the account of %(member)s to sign-in with %(provider)s"),
        _l("%(actor)s removed the link from their account to sign-in with %(provider)s"),
    ),
    "second_factor.set_up": _p(
        _l("%(actor)s turned on the second factor of %(member)s"),
        _l("%(actor)s turned on their second factor"),
    ),
    "second_factor.turned_off": _p(
        _l("%(actor)s turned off the second factor of %(member)s"),
        _l("%(actor)s turned off their second factor"),
    ),
    "second_factor.replaced": _p(
        _l("%(actor)s moved the second factor of %(member)s to a new app"),
        _l("%(actor)s moved their second factor to a new app"),
    ),
    "second_factor.recovery_codes_renewed": _p(
        _l("%(actor)s made new recovery codes for %(member)s"), _l("%(actor)s made new recovery codes")
    ),
    "second_factor.recovery_used": _p(
        _l("%(actor)s used a recovery code of %(member)s"), _l("%(actor)s signed in with a recovery code")
    ),
    "membership.status": _p(
        _l("%(actor)s changed the membership of %(member)s in %(network)s"),
        _l("%(actor)s changed their membership in %(network)s"),
    ),
    "membership.main_contact": _p(
        _l("%(actor)s changed the main contact role of %(member)s in %(network)s"),
        _l("%(actor)s changed their main contact role in %(network)s"),
    ),
    "anchoring.requested": _p(
        _l("%(actor)s asked the line manager of %(member)s to confirm the membership"),
        _l("%(actor)s asked their line manager to confirm the membership"),
    ),
    "anchoring.confirmed": _p(_l("%(actor)s confirmed the anchoring of %(member)s")),
    "anchoring.declined": _p(_l("%(actor)s declined the anchoring of %(member)s")),
    "role.coordinator_granted": _p(_l("%(actor)s made %(member)s coordinator of %(coordinator)s")),
    "main_contact.offered": _p(
        _l("%(actor)s offered %(member)s the main contact role in %(network)s after %(from)s")
    ),
    "main_contact.declined": _p(_l("%(member)s declined the main contact role in %(network)s")),
    "change_request.applied": _p(_l("%(actor)s applied a reported change for %(member)s in %(network)s")),
    "change_request.rejected": _p(_l("%(actor)s rejected a reported change for %(member)s in %(network)s")),
    "organisation.added": _p(_l("%(actor)s added the organisation %(object)s"), hide=["name"]),
    "organisation.edited": _p(_l("%(actor)s changed the organisation %(object)s")),
    "organisation.language_decided": _p(_l("%(actor)s recorded the written form (målvedtak) of %(object)s")),
    "organisation.deactivated": _p(
        _l("%(actor)s took the organisation %(object)s out of use"), hide=["active"]
    ),
    "organisation.reactivated": _p(
        _l("%(actor)s took the organisation %(object)s into use again"), hide=["active"]
    ),
    "meeting.planned": _p(_l("%(actor)s planned the meeting %(object)s"), hide=["title"]),
    "emergency.opened": _p(_l("%(actor)s opened the emergency %(object)s"), hide=["title"]),
    "emergency.closed": _p(_l("%(actor)s closed the emergency %(object)s"), hide=["status"]),
    "signal.handled": _p(_l("%(actor)s marked a signal in the emergency %(object)s")),
    "signal.merged": _p(_l("%(actor)s merged a duplicate signal in the emergency %(object)s")),
    "signal.replied": _p(_l("%(actor)s replied to a signal in the emergency %(object)s")),
    "package.posted": _p(_l("%(actor)s posted an information package in the emergency %(object)s")),
    "meeting.changed": _p(_l("%(actor)s changed the meeting %(object)s")),
    "meeting.cancelled": _p(_l("%(actor)s cancelled the meeting %(object)s"), hide=["status"]),
    "meeting.attendance": _p(
        _l(
            "%(actor)s recorded attendance at the meeting %(object)s: %(attended)s of %(signed_up)s signed up came"
        )
    ),
    "meeting.minutes_published": _p(_l("%(actor)s published the minutes of the meeting %(object)s")),
    "meeting.call_in_reminded": _p(_l("%(actor)s sent a reminder of the call-in %(object)s")),
    "topic.accepted": _p(_l("%(actor)s took up the topic %(object)s in the meeting %(meeting)s")),
    "topic.declined": _p(_l("%(actor)s declined the topic %(object)s")),
    "news_input.submitted": _p(
        _l("%(actor)s sent the input %(object)s to the newsletter of %(network)s"), hide=["title"]
    ),
    "news_input.edited": _p(_l("%(actor)s edited the input %(object)s from %(member)s")),
    "news_input.included": _p(
        _l("%(actor)s included the input %(object)s from %(member)s in a newsletter issue"),
        hide=["status", "newsletter_id"],
    ),
    "news_input.declined": _p(_l("%(actor)s declined the input %(object)s from %(member)s"), hide=["status"]),
    "news_input.withdrawn": _p(
        _l("%(actor)s put the input %(object)s from %(member)s back in the queue"), hide=["newsletter"]
    ),
    "newsletter.created": _p(
        _l("%(actor)s created the newsletter issue %(object)s for %(networks)s"), hide=["title"]
    ),
    "newsletter.sent": _p(_l("%(actor)s sent the newsletter issue %(object)s to %(networks)s")),
    "newsletter.subscribed": _p(
        _l("%(actor)s started the newsletter again for %(member)s"),
        _l("%(actor)s started the newsletter again"),
    ),
    "newsletter.unsubscribed": _p(
        _l("%(actor)s stopped the newsletter for %(member)s"), _l("%(actor)s stopped the newsletter")
    ),
    "advice.posted": _p(
        _l("%(actor)s sent the request for advice %(object)s to %(networks)s"), hide=["title"]
    ),
    "advice.reminded": _p(_l("%(actor)s sent a reminder of the request for advice %(object)s")),
    "review.opened": _p(_l("%(actor)s opened the annual review %(year)s for %(network)s")),
    "review.reminded": _p(_l("%(actor)s sent a reminder of the annual review for %(network)s")),
    "review.answered": _p(
        _l("%(actor)s answered the annual review for %(member)s in %(network)s"),
        _l("%(actor)s answered the annual review for %(network)s"),
    ),
    "review.closed": _p(_l("%(actor)s closed the annual review for %(network)s")),
    "mandate.recorded": _p(
        _l("%(actor)s recorded a new mandate version for %(network)s, in force from %(effective_on)s")
    ),
    "teams.invited": _p(_l("%(actor)s marked members of %(network)s invited to Teams")),
    "teams.channel_set": _p(_l("%(actor)s set the Teams channel of %(network)s")),
    "teams.channel_cleared": _p(_l("%(actor)s removed the Teams channel of %(network)s")),
    "demo.seeded": _p(_l("%(actor)s seeded demo data")),
}

# The fields of the entries' values, by what the audit page calls them (in a sentence: lower case).
FIELDS: dict[str, "LazyString"] = {
    "language_decision": _l("language decision"),
    "action": _l("change"),
    "active": _l("in use"),
    "asked": _l("asked"),
    "attended": _l("attended"),
    "body": _l("text"),
    "by": _l("decided by"),
    "coordinator": _l("coordinator of"),
    "deadline": _l("deadline"),
    "decision": _l("answer"),
    "effective_on": _l("in force from"),
    "email": _l("e-mail address"),
    "from": _l("main contact before"),
    "host": _l("server"),
    "invited": _l("members marked"),
    "kind": _l("type"),
    "lapsed": _l("memberships lapsed"),
    "left": _l("recovery codes left"),
    "link": _l("link"),
    "main_contact": _l("main contact"),
    "manager_email": _l("line manager's e-mail address"),
    "manager_name": _l("line manager"),
    "meeting": _l("meeting"),
    "members": _l("members"),
    "method": _l("how"),
    "name": _l("name"),
    "networks": _l("networks"),
    "new_email": _l("new e-mail address"),
    "newsletter": _l("newsletter issue"),
    "newsletter_id": _l("newsletter issue"),
    "note": _l("note"),
    "organisation": _l("organisation"),
    "recipients": _l("recipients"),
    "reminded": _l("reminders sent"),
    "short_name": _l("short name"),
    "signed_up": _l("signed up"),
    "starts_at": _l("time"),
    "status": _l("status"),
    "title": _l("title"),
    "year": _l("year"),
    "years": _l("years"),
}
TIME_FIELDS = {"starts_at", "deadline"}
DATE_FIELDS = {"effective_on"}
NAME_FIELDS = {"title", "meeting", "name", "organisation", "from"}  # quoted: «Fagmøte 1»
LONG_TEXT = 120  # a longer text (an input's body) is cut here in the sentence
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Where the entry names its object, when its values do not: "meeting:12" → the meeting's title.
SUBJECT_NAMES = {
    "meeting": ("Meeting", "title"),
    "emergency": ("Emergency", "title"),
    "topic": ("TopicProposal", "title"),
    "news_input": ("NewsInput", "title"),
    "newsletter": ("Newsletter", "title"),
    "advice": ("AdviceRequest", "title"),
    "organisation": ("Organisation", "name"),
}


@cache
def value_labels() -> dict[tuple[str, str], dict[str, "LazyString"]]:
    """{(the action's kind, field): {stored value: label}} for the values that are enum members."""
    from models.anchoring import AnchoringMethod, AnchoringStatus
    from models.change_request import ChangeAction
    from models.language import LanguageDecision
    from models.meeting import MeetingKind, MeetingStatus
    from models.membership import MembershipStatus
    from models.newsletter import InputStatus
    from models.organisation import OrganisationKind
    from models.review import Decision

    def labelled(enum_class: "type[LabelledEnum]") -> dict[str, "LazyString"]:
        return {member.value: member.label for member in enum_class}

    return {
        ("membership", "status"): labelled(MembershipStatus),
        ("meeting", "kind"): labelled(MeetingKind),
        ("meeting", "status"): labelled(MeetingStatus),
        ("organisation", "kind"): labelled(OrganisationKind),
        ("organisation", "language_decision"): labelled(LanguageDecision),
        ("change_request", "action"): labelled(ChangeAction),
        ("anchoring", "status"): {
            AnchoringStatus.PENDING: _l("Waiting"),
            AnchoringStatus.CONFIRMED: _l("Confirmed"),
            AnchoringStatus.DECLINED: _l("Declined"),
            AnchoringStatus.SUPERSEDED: _l("Replaced by a newer request"),
        },
        ("anchoring", "method"): {
            AnchoringMethod.MANAGER_LINK: _l("by the line manager's link"),
            AnchoringMethod.COORDINATOR: _l("recorded by a coordinator"),
        },
        ("news_input", "status"): {
            InputStatus.QUEUED: _l("In the queue"),
            InputStatus.INCLUDED: _l("Included"),
            InputStatus.DECLINED: _l("Declined"),
        },
        ("review", "decision"): {Decision.STAY: _l("Takes part"), Decision.LEAVE: _l("Left")},
    }


@cache
def known_reasons() -> tuple[dict[str, "LazyString"], list[tuple[re.Pattern[str], "LazyString"]]]:
    """The reasons the code itself writes (in English, in the log) and what the page says for them:
    exact texts, and patterns whose named groups fill the translation's slots."""
    from models.privacy import REASON as RETENTION
    from models.review import LAPSE_REASON

    exact = {
        LAPSE_REASON: _l("No answer to the yearly review"),
        "reassigned by coordinator": _l("A coordinator gave the role to someone else"),
        "removed by coordinator": _l("Removed by a coordinator"),
        "handed over": _l("Handed over to a colleague"),
    }
    retention = re.escape(RETENTION).replace(re.escape("%(days)s"), r"(?P<days>\d+)")
    patterns = [
        (re.compile(r"^change request #(?P<number>\d+)$"), _l("Reported change no. %(number)s")),
        (re.compile(f"^{retention}$"), _l("Erased %(days)s days after the last membership ended")),
    ]
    return exact, patterns


def reason_text(reason: str) -> str:
    """A reason in the reader's language when the code wrote it; what a person wrote, as written."""
    exact, patterns = known_reasons()
    if reason in exact:
        return str(exact[reason])
    for pattern, text in patterns:
        found = pattern.match(reason)
        if found:
            return str(text) % found.groupdict()
    return reason


def actor_name(label: str) -> str:
    """Who acted, in the reader's language: a person's name as kept, the system, a command, a manager."""
    if label == SYSTEM[1]:
        return str(_l("The system"))
    if label.startswith("flask "):
        return str(_l("The command %(command)s", command=label))
    if label.endswith(MANAGER_SUFFIX):
        return str(_l("%(name)s (line manager)", name=label.removesuffix(MANAGER_SUFFIX)))
    return label


MANAGER_SUFFIX = " (leder)"  # models.accounts: a line manager answering by link


def quoted(text: str) -> str:
    return str(_l("“%(text)s”", text=text))


def time_text(value: datetime, same_day_as: datetime | None = None) -> str:
    """A time as the app writes it, in Europe/Oslo: "30. november 2026 kl. 10:00" (only "12:00"
    when it is on the day of ``same_day_as``)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if same_day_as is not None and format_date(value, "y-MM-dd") == format_date(same_day_as, "y-MM-dd"):
        return str(format_datetime(value, "HH:mm"))
    return str(format_datetime(value, str(_l("d. MMMM y 'at' HH:mm"))))


def _as_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and ISO_TIME.match(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def value_text(action: str, field: str, value: Any, same_day_as: Any = None) -> str:
    """One recorded value as the reader reads it."""
    if value is None or value == "":
        return "–"
    labels = value_labels().get((action.split(".")[0], field))
    if labels is not None and isinstance(value, str) and value in labels:
        return str(labels[value])
    if isinstance(value, bool):
        return str(_l("yes") if value else _l("no"))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return ", ".join(value_text(action, field, v) for v in value) or "–"
    if isinstance(value, dict):
        return ", ".join(f"{FIELDS.get(k, k)}: {value_text(action, k, v)}" for k, v in value.items())
    time = _as_time(value)
    if time is not None:
        return time_text(time, _as_time(same_day_as))
    if isinstance(value, date) or (isinstance(value, str) and ISO_DATE.match(value)):
        day = value if isinstance(value, date) else date.fromisoformat(value)
        return str(format_date(day, "d. MMMM y"))
    text = " ".join(str(value).split())
    if len(text) > LONG_TEXT:
        text = text[: LONG_TEXT - 1].rstrip() + "…"
    return quoted(text) if field in NAME_FIELDS else text


class _Slots(dict[str, str]):
    """The values a phrase is filled with; remembers which it used, and says "–" for one missing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.used: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.used.add(key)
        return super().__getitem__(key)

    def __missing__(self, key: str) -> str:
        return "–"


def object_names(entries: Iterable[AuditEntry]) -> dict[str, str]:
    """{subject: title or name} of the meetings, organisations, inputs… ``entries`` are about, in one
    query per kind (for the entries whose values do not name it)."""
    import models

    wanted: dict[str, set[int]] = {}
    for entry in entries:
        kind, _sep, number = (entry.subject or "").partition(":")
        if kind in SUBJECT_NAMES and number.isdigit() and not _named(entry):
            wanted.setdefault(kind, set()).add(int(number))
    names: dict[str, str] = {}
    for kind, ids in wanted.items():
        model_name, column = SUBJECT_NAMES[kind]
        model = getattr(models, model_name)
        for id_, name in db.session.execute(
            select(model.id, getattr(model, column)).where(model.id.in_(sorted(ids)))
        ):
            names[f"{kind}:{id_}"] = name
    return names


def _named(entry: AuditEntry) -> str | None:
    for values in (entry.before or {}, entry.after or {}):
        for field in ("title", "name"):
            if isinstance(values.get(field), str) and values[field]:
                return str(values[field])
    return None


def sentence(entry: AuditEntry, names: dict[str, str] | None = None) -> str:
    """The entry as the audit page says it, in the reader's language: who did what to whom or
    which, then the values the phrase does not say, then the reason."""
    phrase = PHRASES.get(entry.action) or Phrase(_l("%(actor)s: %(action)s"))
    before, after = entry.before or {}, entry.after or {}
    if names is None:
        names = object_names([entry])
    name = _named(entry) or names.get(entry.subject or "")
    slots = _Slots(
        actor=actor_name(entry.actor_label),
        member=entry.member.name if entry.member else "–",
        network=entry.network.code if entry.network else "–",
        object=quoted(name) if name else "–",
        action=str(ACTIONS.get(entry.action, entry.action)),
    )
    for values in (after, before):
        for field, value in values.items():
            if field not in slots:
                slots[field] = value_text(entry.action, field, value)
    own = phrase.own is not None and entry.actor_id is not None and entry.actor_id == entry.member_id
    text = str(phrase.own if own and phrase.own is not None else phrase.about) % slots
    changes = []
    for field in [*before, *(f for f in after if f not in before)]:
        if field in slots.used or field in phrase.hide:
            continue
        label = FIELDS.get(field, field.replace("_", " "))
        if field in before and field in after:
            if before[field] == after[field]:
                continue
            old = value_text(entry.action, field, before[field])
            new = value_text(entry.action, field, after[field], same_day_as=before[field])
            changes.append(f"{label} {old} → {new}")
        elif field in after:
            changes.append(f"{label}: {value_text(entry.action, field, after[field])}")
        else:
            changes.append(f"{label}: {value_text(entry.action, field, before[field])} → –")
    if changes:
        text += ": " + "; ".join(changes)
    if entry.reason:
        text += ". " + str(_l("Reason: %(reason)s", reason=reason_text(entry.reason)))
    return text


def sentences(entries: Sequence[AuditEntry]) -> dict[int, str]:
    """{entry id: its sentence} for a page of entries (the objects they name read in a few queries)."""
    names = object_names(entries)
    return {entry.id: sentence(entry, names) for entry in entries}


def action_choices() -> list[tuple[str, str]]:
    """Every action by its label, sorted by the label in the reader's language (the page's filter)."""
    return sorted(((action, str(label)) for action, label in ACTIONS.items()), key=lambda c: c[1].casefold())
