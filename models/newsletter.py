"""The newsletter (*nyhetsbrev*) and the members' input to it (*innspill*).

A member submits input to one network's newsletter or to all three.  A coordinator of that
network edits it, includes it in a draft issue or declines it with a note; the member sees which.
An issue is written in Markdown, goes to one or more networks, and is sent once: to each member
active in any of them, once, unless they have unsubscribed (which keeps their memberships).
Its networks' Teams channels get a post through the same outbox.

Every change is one operation that first takes or claims its row (``models/guard.py``), in one
order – an input before its issue – so two at the same moment (two tabs, two coordinators, a
double click) give one outcome: input is sent once and handled once (included *or* declined),
an issue is created once, tested once at a time and sent once, a draft cannot change under a
send, and unsubscribing twice is harmless.  The templates ask ``may_change``, ``may_edit`` and
``may_withdraw``; the operations ask the same and refuse a POST that walks past the page.
"""

import enum
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

from flask import current_app
from flask_babel import LazyString, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from extensions import Model, db
from models import audit, cards, guard, teams, tokens
from models.errors import DomainError
from models.language import mail_locale, mail_locale_sql
from models.member import Member
from models.membership import Membership, MembershipStatus
from models.network import Network, ToNetworks
from models.outbox import OutboxMessage, OutboxStatus, compose_each, link, queue_many, slot
from models.types import UTCDateTime, string_enum, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Select

    from models.audit import AuditEntry


class InputStatus(enum.StrEnum):
    QUEUED = "queued"
    INCLUDED = "included"
    DECLINED = "declined"


newsletter_networks = Table(
    "newsletter_networks",
    db.metadata,
    Column("newsletter_id", ForeignKey("newsletters.id", ondelete="CASCADE"), primary_key=True),
    Column("network_id", ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True),
)


class Version(NamedTuple):
    """An issue's text in one written form."""

    title: str
    body: str
    language: str


class Newsletter(ToNetworks, Model):
    """One issue: written in Markdown, for one or more networks, sent once."""

    __tablename__ = "newsletters"
    __table_args__ = (
        CheckConstraint("(sent_at IS NULL) = (recipient_count IS NULL)", name="sent_with_count"),
        CheckConstraint("language IN ('nb', 'nn')", name="newsletter_language"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    # The written form of title and body, and the issue in the other form if the coordinator
    # wrote one (a *parallel version*): each member gets the form they read, where there is one.
    language: Mapped[str] = mapped_column(String(2), default="nb", server_default="nb")
    parallel_title: Mapped[str | None] = mapped_column(String(200))
    parallel_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    recipient_count: Mapped[int | None] = mapped_column(Integer)

    networks: Mapped[list["Network"]] = relationship(
        "Network", secondary=newsletter_networks, order_by="Network.id"
    )
    inputs: Mapped[list["NewsInput"]] = relationship(
        "NewsInput", back_populates="newsletter", order_by="NewsInput.submitted_at"
    )
    created_by: Mapped["Member | None"] = relationship("Member", foreign_keys=[created_by_id])
    sent_by: Mapped["Member | None"] = relationship("Member", foreign_keys=[sent_by_id])

    @property
    def parallel_language(self) -> str:
        """The other written form: the one a parallel version is in."""
        return "nn" if self.language == "nb" else "nb"

    def version(self, locale: str) -> "Version":
        """The issue as a reader of ``locale`` gets it: the parallel version where it is their form."""
        if self.parallel_title and locale == self.parallel_language:
            return Version(self.parallel_title, self.parallel_body or "", self.parallel_language)
        return Version(self.title, self.body, self.language)

    @property
    def batch(self) -> str:
        return f"newsletter:{self.id}"

    @property
    def test_batch(self) -> str:
        return f"newsletter-test:{self.id}"

    @property
    def may_change(self) -> bool:
        """A draft can be edited, tested, sent and take input; a sent issue no longer changes."""
        return self.sent_at is None

    @property
    def markdown_notes(self) -> list[Any]:
        """What the Markdown of the issue and its included input lost (refused links, images),
        said in the preview so the writer can fix it before it is sent."""
        from models.markdown import notes

        texts = [self.body, self.parallel_body if self.parallel_title else None]
        texts += [item.body for item in self.inputs]
        return [note for text in texts if text for note in notes(text)]

    def check_draft(self) -> None:
        if not self.may_change:
            raise DomainError(_l("This issue has been sent and can no longer change."))


class NewsInput(Model):
    """A member's item for the newsletter: queued, then included in an issue or declined."""

    __tablename__ = "news_inputs"
    __table_args__ = (
        CheckConstraint("(status = 'included') = (newsletter_id IS NOT NULL)", name="included_in_an_issue"),
        CheckConstraint("status <> 'declined' OR note IS NOT NULL", name="declined_with_a_note"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    # None: for all three networks' newsletters.
    network_id: Mapped[int | None] = mapped_column(ForeignKey("networks.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[InputStatus] = mapped_column(
        string_enum(InputStatus, "input_status", 10), default=InputStatus.QUEUED, index=True
    )
    note: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    newsletter_id: Mapped[int | None] = mapped_column(ForeignKey("newsletters.id"), index=True)

    member: Mapped["Member"] = relationship("Member", foreign_keys=[member_id])
    network: Mapped["Network | None"] = relationship("Network")
    decided_by: Mapped["Member | None"] = relationship("Member", foreign_keys=[decided_by_id])
    newsletter: Mapped["Newsletter | None"] = relationship("Newsletter", back_populates="inputs")

    @property
    def state(self) -> str:
        """What the member sees: queued, included (in a draft), sent, or declined."""
        if (
            self.status == InputStatus.INCLUDED
            and self.newsletter is not None
            and self.newsletter.sent_at is not None
        ):
            return "sent"
        return self.status.value

    @property
    def addressed_to(self) -> str | LazyString:
        return self.network.code if self.network else _l("All three networks")

    @property
    def may_edit(self) -> bool:
        """The coordinator may edit it until it is declined or its issue is sent."""
        return self.status != InputStatus.DECLINED and not (self.newsletter and self.newsletter.sent_at)

    @property
    def may_withdraw(self) -> bool:
        """It can be taken out of its issue, back to the queue, while the issue is a draft."""
        return (
            self.status == InputStatus.INCLUDED
            and self.newsletter is not None
            and self.newsletter.sent_at is None
        )

    def check_editable(self) -> None:
        if not self.may_edit:
            raise DomainError(_l("This input has been handled and can no longer change."))


# -- input ------------------------------------------------------------------------------------


def may_submit(member: Member) -> bool:
    return member.is_active and bool(member.active_network_ids)


def submit(
    member: Member, network: Network | None, title: str, body: str, link: str | None = None
) -> "NewsInput":
    """Queue ``member``'s input for ``network`` (None: all three).

    The member's row is taken first: the same input sent again while the first is still waiting
    (two tabs, a double click) is the same input – it is not queued twice."""
    member = guard.lock(guard.real(member))
    if not may_submit(member):
        raise DomainError(_l("Only active members can send input to the newsletter."))
    link = link or None
    same = db.session.scalar(
        select(NewsInput)
        .where(
            NewsInput.member_id == member.id,
            NewsInput.status == InputStatus.QUEUED,
            NewsInput.network_id.is_(None) if network is None else NewsInput.network_id == network.id,
            NewsInput.title == title,
            NewsInput.body == body,
            NewsInput.link.is_(None) if link is None else NewsInput.link == link,
        )
        .limit(1)
    )
    if same is not None:
        return same
    item = NewsInput(member=member, network=network, title=title, body=body, link=link)
    db.session.add(item)
    db.session.flush()
    audit.record(
        "news_input.submitted",
        member=member,
        network=network,
        subject=f"news_input:{item.id}",
        after={"title": title},
    )
    return item


def queue_for(coordinator: Member) -> Sequence[NewsInput]:
    """The input waiting for ``coordinator``'s networks, oldest first."""
    return db.session.scalars(
        select(NewsInput)
        .where(
            NewsInput.status == InputStatus.QUEUED,
            or_(
                NewsInput.network_id.is_(None), NewsInput.network_id.in_(coordinator.coordinated_network_ids)
            ),
        )
        .options(
            selectinload(NewsInput.member).selectinload(Member.organisation), selectinload(NewsInput.network)
        )
        .order_by(NewsInput.submitted_at)
    ).all()


def input_of(member: Member) -> Sequence[NewsInput]:
    """A member's own input, newest first, with what happened to it."""
    return db.session.scalars(
        select(NewsInput)
        .where(NewsInput.member_id == member.id)
        .options(selectinload(NewsInput.newsletter), selectinload(NewsInput.network))
        .order_by(NewsInput.submitted_at.desc())
    ).all()


def _take(item: NewsInput) -> NewsInput:
    """Lock the input, then its issue (always in that order), and read both afresh."""
    guard.lock(item)
    if item.newsletter is not None:  # (no query when ``newsletter_id`` is empty)
        guard.lock(item.newsletter)
    return item


def edit_input(item: NewsInput, title: str, body: str, link: str | None) -> bool:
    """The coordinator's edit; False if nothing changed (the same edit twice is audited once)."""
    _take(item).check_editable()
    before = {"title": item.title, "body": item.body, "link": item.link}
    after = {"title": title, "body": body, "link": link or None}
    if before == after:
        return False
    item.title, item.body, item.link = title, body, link or None
    audit.record(
        "news_input.edited",
        member=item.member,
        network=item.network,
        subject=f"news_input:{item.id}",
        before=before,
        after=after,
    )
    return True


def _decide(item: NewsInput, by: Member, values: dict[str, Any], action: str) -> "Callable[[], AuditEntry]":
    """Move queued input on, once: a second coordinator acting on the same item is refused."""
    if not guard.claim(
        update(NewsInput)
        .where(NewsInput.id == item.id, NewsInput.status == InputStatus.QUEUED)
        .values(decided_at=utcnow(), decided_by_id=by.id, **values)
    ):
        raise DomainError(_l("Someone has already handled this input."))
    db.session.refresh(item)
    return lambda: audit.record(
        action,
        member=item.member,
        network=item.network,
        subject=f"news_input:{item.id}",
        after={k: (v.value if isinstance(v, enum.Enum) else v) for k, v in values.items()},
    )


def include(item: NewsInput, newsletter: Newsletter, by: Member) -> None:
    """Into a draft issue: the input is claimed, then the issue is taken and must still be a draft
    (an issue being sent at that moment either has it in its mail or refuses it)."""
    done = _decide(
        item, by, {"status": InputStatus.INCLUDED, "newsletter_id": newsletter.id}, "news_input.included"
    )
    guard.lock(newsletter).check_draft()
    done()


def decline(item: NewsInput, note: str, by: Member) -> None:
    _decide(item, by, {"status": InputStatus.DECLINED, "note": note}, "news_input.declined")()


def withdraw(item: NewsInput) -> None:
    """Take included input out of its draft issue, back to the queue."""
    if not _take(item).may_withdraw:
        if item.status == InputStatus.INCLUDED and item.newsletter is not None:
            item.newsletter.check_draft()
        raise DomainError(_l("This input is not in an issue."))
    newsletter = item.newsletter
    assert newsletter is not None  # ``may_withdraw``: it is in an issue
    item.status, item.newsletter, item.decided_at, item.decided_by = InputStatus.QUEUED, None, None, None
    audit.record(
        "news_input.withdrawn",
        member=item.member,
        network=item.network,
        subject=f"news_input:{item.id}",
        before={"newsletter": newsletter.id},
    )


# -- issues -----------------------------------------------------------------------------------


def drafts_for(coordinator: Member) -> list[Newsletter]:
    return [
        n
        for n in db.session.scalars(
            select(Newsletter)
            .where(Newsletter.sent_at.is_(None))
            .options(selectinload(Newsletter.networks))
            .order_by(Newsletter.created_at.desc())
        )
        if n.managed_by(coordinator)
    ]


def create(
    title: str, body: str, networks: Iterable[Network], by: Member, **written_forms: str | None
) -> Newsletter:
    """A new draft.  The coordinator's row is taken first: the same draft saved again from a second
    tab (same title and text, not yet sent) is the same draft, not a second one.  ``written_forms``:
    ``language`` of the text, and the ``parallel_title`` and ``parallel_body`` in the other form."""
    by = guard.lock(guard.real(by))
    same = db.session.scalar(
        select(Newsletter)
        .where(
            Newsletter.created_by_id == by.id,
            Newsletter.sent_at.is_(None),
            Newsletter.title == title,
            Newsletter.body == body,
        )
        .order_by(Newsletter.id.desc())
        .limit(1)
    )
    if same is not None and {n.id for n in same.networks} == {n.id for n in networks}:
        return same
    newsletter = Newsletter(title=title, body=body, networks=list(networks), created_by=by, **written_forms)
    db.session.add(newsletter)
    db.session.flush()
    audit.record(
        "newsletter.created",
        subject=f"newsletter:{newsletter.id}",
        after={"title": title, "networks": [n.code for n in networks]},
    )
    return newsletter


def update_draft(
    newsletter: Newsletter, title: str, body: str, networks: Iterable[Network], **written_forms: str | None
) -> None:
    """Change a draft; refused once it is sent (the row is taken first, so not under a send)."""
    guard.lock(newsletter).check_draft()
    newsletter.title, newsletter.body, newsletter.networks = title, body, list(networks)
    for key, value in written_forms.items():
        setattr(newsletter, key, value)


def recipients(newsletter: Newsletter) -> "Select[Member]":
    """Who the issue goes to: each member once who is active in one of its networks and has not
    stopped that network's newsletter (one who stopped NIK's still gets an issue to NIFS, and one
    to both if they get either)."""
    return select(Member).where(
        Member.deleted_at.is_(None),
        exists().where(
            Membership.member_id == Member.id,
            Membership.network_id.in_([n.id for n in newsletter.networks]),
            Membership.status == MembershipStatus.ACTIVE,
            Membership.newsletter_unsubscribed_at.is_(None),
        ),
    )


def count_recipients(newsletter: Newsletter) -> int:
    return db.session.scalar(select(func.count()).select_from(recipients(newsletter).subquery())) or 0


def _mail(
    newsletter: Newsletter, people: Iterable[tuple[int, str, str]], test: bool = False
) -> Iterator[dict[str, Any]]:
    """The issue for each of ``people`` (member id, address, locale), each with their own
    unsubscribe link, each in their written form where the issue has it."""
    title = LazyString(lambda: newsletter.version(str(get_locale())).title)
    network_ids = [n.id for n in newsletter.networks]
    # RFC 2369 and 8058: a mail program's own "unsubscribe" button – a POST to the https address
    # (no sign-in, the signed token is enough), or a mail to the coordinators.
    mailto = f"mailto:{current_app.config['MAIL_ORGANISER']}?subject=" + quote(
        f"Unsubscribe {newsletter.codes}"
    )
    subject = _l("[TEST] %(title)s", title=title) if test else title
    return compose_each(
        (
            (
                email,
                locale,
                {
                    "unsubscribe_url": link("newsletters.unsubscribe", token=token),
                    "one_click_url": link("newsletters.one_click", token=token),
                },
            )
            for member_id, email, locale in people
            # The link names the member and the issue's networks: it stops those networks' letters.
            for token in [tokens.make("unsubscribe", member=member_id, networks=network_ids)]
        ),
        subject,
        "newsletter",
        mailing_list=("newsletter", newsletter.networks),
        personal=("unsubscribe_url", "one_click_url"),
        newsletter=newsletter,
        inputs=_included(newsletter),
        archive_url=link("newsletters.show", newsletter_id=newsletter.id),
        headers={
            "List-Unsubscribe": f"<{mailto}>, <{slot('one_click_url')}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        batch=newsletter.test_batch if test else newsletter.batch,
    )


def _included(newsletter: Newsletter) -> Sequence[NewsInput]:
    return db.session.scalars(
        select(NewsInput)
        .where(NewsInput.newsletter_id == newsletter.id)
        .options(selectinload(NewsInput.member).selectinload(Member.organisation))
        .order_by(NewsInput.submitted_at)
    ).all()


def send_test(newsletter: Newsletter, member: Member) -> bool:
    """The issue as it will arrive, to ``member`` only (a coordinator checking it); False if a test
    to them is still on its way (pressed twice, two tabs: one test mail)."""
    guard.lock(newsletter).check_draft()
    waiting = db.session.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.batch == newsletter.test_batch,
            OutboxMessage.recipient == member.email,
            OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
        )
        .limit(1)
    )
    if waiting is not None:
        return False
    queue_many(_mail(newsletter, [(member.id, member.email, mail_locale(member))], test=True))
    return True


def send(newsletter: Newsletter, by: Member) -> int:
    """Send the issue, once: one composed mail, copied per recipient, in one batched INSERT.

    The issue's row is taken first and read afresh (its networks, its input): a second send at the
    same moment waits, then finds it sent and is refused; an edit or an include at that moment is
    either in the mail or refused."""
    guard.lock(newsletter).check_draft()
    if not newsletter.networks:
        raise DomainError(_l("Choose at least one network."))
    people = db.session.execute(
        recipients(newsletter)
        .with_only_columns(Member.id, Member.email, mail_locale_sql())
        .order_by(Member.id)
    ).all()
    newsletter.sent_at, newsletter.sent_by_id, newsletter.recipient_count = utcnow(), by.id, len(people)
    sent = queue_many(_mail(newsletter, people))
    in_bokmal = newsletter.version("nb")  # the channels are the Directorate's: bokmål where the issue has it
    for network in newsletter.networks:
        teams.post(
            network,
            in_bokmal.title,
            cards.from_markdown(in_bokmal.body),
            "newsletter",
            buttons=[(_l("Read the newsletter"), link("newsletters.show", newsletter_id=newsletter.id))],
            batch=newsletter.batch,
        )
    audit.record(
        "newsletter.sent",
        subject=f"newsletter:{newsletter.id}",
        after={"recipients": sent, "networks": [n.code for n in newsletter.networks]},
    )
    db.session.flush()
    return sent


def archive_for(member: Member) -> Sequence[Newsletter]:
    """The sent issues a member may read: those to their networks; coordinators see all."""
    query = select(Newsletter).where(Newsletter.sent_at.is_not(None))
    if not member.is_coordinator:
        query = query.where(Newsletter.networks.any(Network.id.in_(member.active_network_ids)))
    return db.session.scalars(
        query.options(selectinload(Newsletter.networks)).order_by(Newsletter.sent_at.desc())
    ).all()


# -- unsubscribing ----------------------------------------------------------------------------


def subscription_networks(member: Member, network_ids: Iterable[int] | None) -> list[Network]:
    """The networks an unsubscribe link or button is about: ``network_ids`` (an issue's; None –
    a link mailed before the newsletter was chosen per network – all the member's), those of
    them the member has a membership in."""
    query = select(Network).join(Membership, Membership.network_id == Network.id)
    query = query.where(Membership.member_id == member.id)
    if network_ids is not None:
        query = query.where(Network.id.in_(list(network_ids)))
    return list(db.session.scalars(query.order_by(Network.id)).unique())


def set_subscribed(member: Member, subscribed: bool, network_ids: Iterable[int] | None = None) -> bool:
    """Stop or restart the newsletter of ``network_ids`` (None: every network) for ``member``;
    the memberships are untouched.  False if it was so already (the link pressed twice, a mail
    program's one-click POST repeated: one change, one audit entry).  The member's row is taken
    first, so two at the same moment change it once."""
    guard.lock(guard.real(member))
    query = update(Membership).where(
        Membership.member_id == member.id,
        Membership.newsletter_unsubscribed_at.is_not(None)
        if subscribed
        else Membership.newsletter_unsubscribed_at.is_(None),
    )
    if network_ids is not None:
        query = query.where(Membership.network_id.in_(list(network_ids)))
    changed = guard.claim_rows(
        query.values(newsletter_unsubscribed_at=None if subscribed else utcnow()).returning(
            Membership.network_id
        )
    )
    if not changed:
        return False
    for membership in member.memberships:
        db.session.refresh(membership, ["newsletter_unsubscribed_at"])
    codes = db.session.scalars(
        select(Network.code).where(Network.id.in_([row[0] for row in changed])).order_by(Network.id)
    ).all()
    audit.record(
        "newsletter.subscribed" if subscribed else "newsletter.unsubscribed",
        member=member,
        subject=f"member:{member.id}",
        after={"networks": list(codes)},
    )
    return True


def choose_subscriptions(member: Member, network_ids: Iterable[int]) -> bool:
    """The newsletters of ``network_ids`` come, those of the member's other networks stop (My
    page's checkboxes); True if anything changed."""
    wanted = set(network_ids)
    guard.lock(guard.real(member))
    others = {m.network_id for m in member.memberships} - wanted
    started = set_subscribed(member, True, wanted) if wanted else False
    stopped = set_subscribed(member, False, others) if others else False
    return started or stopped
