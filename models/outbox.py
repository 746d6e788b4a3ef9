"""The durable outbox: mail, and posts to the networks' Teams channels.

A mail is a row written in the same transaction as the change that causes it, so a
change is never committed without its mail, nor a mail sent for a change that was
rolled back.  ``deliver()`` (run by ``flask outbox send``) claims rows so that two
workers never send the same one, sends them over SMTP with Flask-Mail, and retries
with back-off while the server is away.  A permanent refusal (5xx) is recorded as a
bounce and not retried.  A Teams post (``channel`` "webhook") is a row like a mail: its
JSON body is POSTed to the channel's incoming-webhook URL with the same claims and retries;
a 4xx answer other than 408/429 is permanent.
"""

import contextlib
import enum
import http.client
import json
import logging
import re
import smtplib
import socket
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from email.mime.text import MIMEText
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, render_template
from flask_babel import LazyString, force_locale
from flask_babel import lazy_gettext as _l
from flask_mail import Connection, Message
from markupsafe import escape
from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    and_,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

import logs
from extensions import Model, db, mail
from models import cards, language
from models.heartbeat import reason
from models.markdown import html_to_text
from models.types import LabelledEnum, UTCDateTime, string_enum, utcnow

log = logging.getLogger("tracker.worker")

MAX_ATTEMPTS = 12
# A claim older than this is taken to belong to a worker that died mid-send.
STALE_CLAIM = timedelta(minutes=10)


class OutboxStatus(LabelledEnum):
    PENDING = "pending", _l("Waiting")
    SENDING = "sending", _l("Sending")
    SENT = "sent", _l("Sent")
    FAILED = "failed", _l("Failed")


class Channel(enum.StrEnum):
    MAIL = "mail"
    WEBHOOK = "webhook"


class OutboxMessage(Model):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    template: Mapped[str] = mapped_column(String(60))
    status: Mapped[OutboxStatus] = mapped_column(
        string_enum(OutboxStatus, "outbox_status", 10),
        default=OutboxStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    bounced: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A calendar invitation sent with the mail (text/calendar), if any.
    ics: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Higher goes first: an emergency call-in passes the newsletter in the queue.
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    channel: Mapped[Channel] = mapped_column(
        string_enum(Channel, "outbox_channel", 10), default=Channel.MAIL, server_default=Channel.MAIL.value
    )
    # A webhook post's address (the recipient then names the channel, e.g. "Teams: NIK").
    url: Mapped[str | None] = mapped_column(Text)
    # Extra mail headers (List-Unsubscribe).
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON(none_as_null=True))
    # What the row belongs to ("newsletter:12"), to show a send's progress.
    batch: Mapped[str | None] = mapped_column(String(40), index=True)
    # The request (its X-Request-ID) or command that wrote the row, to follow a mail back in the logs.
    request_id: Mapped[str | None] = mapped_column(String(64), default=logs.current_request_id)

    @property
    def message_id(self) -> str:
        """``<outbox-ID.WRITTEN@HOST>``: the row and the moment it was written (so a database started
        afresh, or another installation, never repeats one) on the host of ``BASE_URL`` (or
        ``MAIL_MESSAGE_ID_DOMAIN``).  The same for every attempt to send the row: a mail sent twice
        (delivery is at least once) carries one Message-ID, and mail clients fold the copies."""
        written = f"{self.created_at:%Y%m%d%H%M%S%f}" if self.created_at else "0"
        return f"<outbox-{self.id}.{written}@{message_id_domain()}>"

    def to_message(self) -> Message:
        message = _Mail(
            subject=self.subject,
            recipients=[self.recipient],
            body=self.body_text,
            html=self.body_html,
            reply_to=current_app.config.get("MAIL_REPLY_TO") or None,
        )
        message.msgId = self.message_id
        message.extra_headers = dict(self.headers or {})
        if self.ics:
            # The part's method is the calendar's own (REQUEST, CANCEL or PUBLISH): Outlook reads it.
            found = re.search(rb"^METHOD:(\w+)\r?$", self.ics, re.MULTILINE)
            method = found[1].decode() if found else "PUBLISH"
            message.calendar_method = method
            message.alts["calendar"] = self.ics.decode()
            message.attach("invitasjon.ics", f"text/calendar; method={method}; charset=utf-8", self.ics)
        return message

    @property
    def may_retry(self) -> bool:
        """Can a coordinator send it again (the page's question; ``retry`` holds the same rule)?"""
        return self.status == OutboxStatus.FAILED

    def retry(self) -> bool:
        """A coordinator sends a failed mail again: True if it was failed and now waits to be sent;
        False if not (sent again already – a second press, another coordinator – or never failed).

        A conditional UPDATE claims the failed row, so a second press at the same moment, or one
        after the worker has already taken the mail again, queues nothing a second time."""
        from models import guard

        queued = guard.claim(
            update(OutboxMessage)
            .where(OutboxMessage.id == self.id, OutboxMessage.status == OutboxStatus.FAILED)
            .values(status=OutboxStatus.PENDING, next_attempt_at=utcnow(), bounced=False)
        )
        db.session.refresh(self)
        return queued


def message_id_domain() -> str:
    """The domain of this installation's Message-IDs and List-Ids: ``MAIL_MESSAGE_ID_DOMAIN`` if
    set, else the host ``BASE_URL`` names."""
    configured = current_app.config.get("MAIL_MESSAGE_ID_DOMAIN")
    return str(configured or urlsplit(current_app.config["BASE_URL"]).hostname or "localhost")


def list_id(kind: str, networks: Iterable[Any]) -> str:
    """The ``List-Id`` (RFC 2919) of a bulk mail: one list per kind of mail and networks, e.g.
    ``NIK newsletter <newsletter.nik.nettverk.example.no>``, so a member can sort (or keep) a
    network's newsletter apart from its call-ins."""
    codes = [str(network.code) for network in networks]
    name = re.sub(r"[^a-z0-9-]+", "-", "-".join(codes).lower()).strip("-") or "all"
    label = re.sub(r"[^A-Za-z0-9 ,-]+", "", f"{', '.join(codes)} {kind}".strip())
    return f"{label} <{kind}.{name}.nettverk.{message_id_domain()}>"


class _Mail(Message):
    """A Flask-Mail message whose calendar alternative names its iTIP method (``text/calendar;
    method=REQUEST``): Outlook and Gmail take an invitation from that part of the mail, other
    programs from the attached file."""

    calendar_method: str | None = None

    def _mimetext(self, text: str | None, subtype: str = "plain") -> MIMEText:
        part = super()._mimetext(text, subtype)
        if subtype == "calendar" and self.calendar_method:
            part.set_param("method", self.calendar_method)
        return part


def link(endpoint: str, **values: Any) -> str:
    """A full (absolute) link, made from ``BASE_URL`` and never from the request's ``Host`` header:
    the one way the app makes an absolute address – in mails, Teams posts, calendar files and on
    pages (the calendar feed's address on *Min side*).  No request needed, so the CLI can too."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


def compose(
    recipient: str,
    subject: str | LazyString,
    template: str,
    ics: bytes | None = None,
    priority: int = 0,
    batch: str | None = None,
    headers: dict[str, str] | None = None,
    locale: str = language.DEFAULT,
    mailing_list: tuple[str, Iterable[Any]] | None = None,
    **context: Any,
) -> dict[str, Any]:
    """The outbox row for a mail, as column values, written in ``locale`` (the recipient's written
    form: ``models.language.mail_locale``).

    A mail is written once, as ``templates/email/<template>.html`` (its texts in the catalogue);
    its plain-text part is read off that HTML (``html_to_text``: paragraphs, lists, headings, each
    link's address on a line of its own), so the two parts say the same and cannot drift apart.
    The template gets ``lang``, the locale, for its ``<html lang>`` and for content it chooses
    by language (a newsletter's parallel version), and ``subject``, the mail's subject in that
    locale, for its ``<title>`` and first heading.

    A mail sent alike to many (``mailing_list``: its kind and networks, e.g. ("call-in",
    meeting.networks)) carries a ``List-Id`` header naming them."""
    with force_locale(locale):
        subject = str(subject)
        html = render_template(f"email/{template}.html", lang=locale, subject=subject, **context)
    text = html_to_text(html)
    if mailing_list is not None:
        headers = {**(headers or {}), "List-Id": list_id(*mailing_list)}
    if current_app.config.get("MAIL_LOG_BODIES"):
        current_app.logger.info("Mail to %s: %s\n%s", recipient, subject, text)
    return {
        "recipient": recipient,
        "subject": subject,
        "body_text": text,
        "body_html": html,
        "template": template,
        "ics": ics,
        "priority": priority,
        "batch": batch,
        "headers": headers,
    }


def slot(name: str) -> str:
    """The mark a personal value takes in a mail composed once for many (see ``compose_each``)."""
    return f"\u27e6{name}\u27e7"


def compose_each(
    people: Iterable[tuple[str, str, Mapping[str, Any]]],
    subject: str | LazyString,
    template: str,
    personal: Iterable[str] = (),
    **options_and_context: Any,
) -> Iterator[dict[str, Any]]:
    """One composed mail per recipient, rendered once per written form.

    ``people`` yields (address, locale, {name: value}) with a value for each name in ``personal``;
    the template receives ``slot(name)`` in its place and prints it as it is – in the HTML, and so
    in the text read off it – and each copy has the recipient's own values put in (HTML-escaped in
    the HTML part only).  Thousands of mails cost one rendering per language (at most three), not
    thousands; each recipient gets the one in their locale.
    """
    slots: dict[str, Any] = {name: slot(name) for name in personal}  # template values, like the context
    rows: dict[str, dict[str, Any]] = {}
    for address, locale, values in people:
        if locale not in rows:
            rows[locale] = compose("", subject, template, locale=locale, **options_and_context, **slots)
        row = rows[locale]
        text, html, headers = row["body_text"], row["body_html"], row["headers"]
        for name, value in values.items():
            text = text.replace(slot(name), str(value))
            html = html.replace(slot(name), str(escape(value)))
            if headers:
                headers = {key: header.replace(slot(name), str(value)) for key, header in headers.items()}
        yield {**row, "recipient": address, "body_text": text, "body_html": html, "headers": headers}


def queue(
    recipient: str, subject: str | LazyString, template: str, **options_and_context: Any
) -> OutboxMessage:
    """Write a mail to the outbox (``locale``: the recipient's written form; see ``compose``).
    Part of the caller's transaction: the caller commits."""
    message = OutboxMessage(**compose(recipient, subject, template, **options_and_context))
    db.session.add(message)
    return message


def queue_webhook(
    url: str,
    label: str | LazyString,
    title: str | LazyString,
    text: "str | LazyString | Sequence[cards.Block]",
    template: str,
    priority: int = 0,
    batch: str | None = None,
    context: str | None = None,
    buttons: "Sequence[tuple[str | LazyString, str | None]]" = (),
) -> OutboxMessage:
    """Write a post to a Teams channel's incoming webhook: the card its address takes
    (``models.cards.card_for``: an Adaptive Card, or a connector's MessageCard) with ``context``
    (the network) above the title, the text shortened (plain text, or blocks from
    ``cards.from_markdown``) and a labelled button per (title, address) of ``buttons``."""
    blocks = cards.from_text(str(text)) if isinstance(text, (str, LazyString)) else list(text)
    payload = cards.card_for(url, context, str(title), blocks, [(str(t), u) for t, u in buttons if u])
    message = OutboxMessage(
        channel=Channel.WEBHOOK,
        url=url,
        recipient=str(label)[:254],
        subject=str(title)[:300],
        body_text=json.dumps(payload, ensure_ascii=False),
        template=template,
        priority=priority,
        batch=batch,
    )
    db.session.add(message)
    return message


def progress(batch: str) -> dict[OutboxStatus, int]:
    """{status: count} of a batch's rows."""
    rows = db.session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.batch == batch)
        .group_by(OutboxMessage.status)
    )
    counts = dict.fromkeys(OutboxStatus, 0)
    counts.update(dict(rows.all()))
    return counts


def queue_many(rows: Iterable[dict[str, Any]]) -> int:
    """Write many composed mails (see ``compose``) in one batched INSERT; returns how many."""
    rows = list(rows)
    if rows:  # the columns' defaults (pending, due now, no attempts) apply as for queue()
        db.session.execute(insert(OutboxMessage), rows)
    return len(rows)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … up to an hour between attempts."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at < now - STALE_CLAIM),
    )


def claim(worker: str, limit: int = 50) -> Sequence[int]:
    """Mark up to ``limit`` due mails as this worker's; returns their ids, highest priority first.

    On PostgreSQL the candidates are locked with ``FOR UPDATE SKIP LOCKED`` so that workers
    pass each other by; on both databases the one conditional UPDATE is the guarantee: a row
    changes hands only if it is still claimable, and the claim's own mark finds what it got.
    """
    now = utcnow()
    mark = f"{worker}#{uuid.uuid4().hex[:12]}"[-100:]
    candidates = db.session.scalars(
        select(OutboxMessage.id)
        .where(_claimable(now))
        .order_by(OutboxMessage.priority.desc(), OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not candidates:
        db.session.commit()
        return []
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(candidates), _claimable(now))
        .values(status=OutboxStatus.SENDING, claimed_by=mark, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    claimed = db.session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.claimed_by == mark, OutboxMessage.status == OutboxStatus.SENDING)
        .order_by(OutboxMessage.priority.desc(), OutboxMessage.id)
    ).all()
    db.session.commit()
    return claimed


def _permanent(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def _release(ids: Sequence[int], until: datetime | None = None, error: str | None = None) -> None:
    """Give claimed but untried mails back without counting an attempt (due again ``until``,
    or at once)."""
    if ids:
        values: dict[str, Any] = {"status": OutboxStatus.PENDING, "claimed_by": None, "claimed_at": None}
        if until is not None:
            values.update(next_attempt_at=until, last_error=error)
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.SENDING)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


def _failed(message: OutboxMessage, exc: BaseException, permanent: bool) -> None:
    message.attempts += 1
    message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    message.claimed_by = message.claimed_at = None
    if permanent or message.attempts >= MAX_ATTEMPTS:
        message.status = OutboxStatus.FAILED
        message.bounced = permanent
    else:
        message.status = OutboxStatus.PENDING
        message.next_attempt_at = utcnow() + backoff(message.attempts)
    # The row's id and the reason for the log, never the address (``reason`` hides one an SMTP refusal quotes).
    if message.status == OutboxStatus.FAILED:
        line = (
            "outbox row %s failed for good (%s, attempt %d): %s",
            message.id,
            "refused" if permanent else "attempts used up",
            message.attempts,
            reason(exc),
        )
    else:
        line = (
            "outbox row %s deferred until %s (attempt %d): %s",
            message.id,
            message.next_attempt_at.isoformat(timespec="seconds"),
            message.attempts,
            reason(exc),
        )
    db.session.commit()
    log.warning(*line)


class WebhookError(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def post_webhook(message: OutboxMessage) -> None:
    """POST the row's JSON to its URL; WebhookError when the channel did not take it.

    The address is checked again now (``models.teams.WebhookTarget``: https, a Microsoft webhook
    host, every address the name resolves to public) and the connection goes to the address that
    was checked; a refused address fails for good, untried.  Redirects are not followed."""
    from models.teams import WebhookRefused, WebhookTarget

    try:
        target = WebhookTarget(message.url)
    except WebhookRefused as refused:
        raise WebhookError(f"refused: {refused.message}", permanent=True) from refused
    except OSError as exc:  # the name does not resolve (now): tried again later
        raise WebhookError(str(exc)) from exc
    connection = target.connection(timeout=current_app.config.get("WEBHOOK_TIMEOUT", 10))
    try:
        connection.request(
            "POST", target.path, body=message.body_text.encode(), headers={"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        response.read()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise WebhookError(str(exc)) from exc
    finally:
        connection.close()
    if response.status >= 300:
        code = response.status
        raise WebhookError(f"HTTP {code}", permanent=code < 400 or (code < 500 and code not in (408, 429)))


def _sent(message_id: int, unrecorded: list[int]) -> None:
    """Recorded as sent at once, one commit each: a worker that dies loses no record of a mail it
    sent.  Until the commit, the id waits in ``unrecorded`` (for ``_recover_from_database_error``)."""
    if message_id not in unrecorded:
        unrecorded.append(message_id)
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            status=OutboxStatus.SENT, sent_at=utcnow(), attempts=OutboxMessage.attempts + 1, last_error=None
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    unrecorded.remove(message_id)


def deliver(worker: str | None = None, limit: int = 50) -> dict[str, int]:
    """Send the mails and posts that are due; returns {"sent": n, "failed": n, "deferred": n}.

    Delivery is at least once: a mail is marked sent in its own commit right after the SMTP
    server's 250, so only a crash or a lost database connection in that moment sends it again
    (with the same ``Message-ID``, which lets mail clients fold the copies).  An attempt is counted
    only against a mail that was tried; if the database goes away mid-round, the mails this worker
    claimed but did not send are given back as soon as it can reach the database again.
    """
    worker = worker or f"{socket.gethostname()}:{id(object())}"
    counts = {"sent": 0, "failed": 0, "deferred": 0}
    ids = claim(worker, limit)
    if not ids:
        return counts
    untried, unrecorded = list(ids), list[int]()
    try:
        channels = dict(
            db.session.execute(
                select(OutboxMessage.id, OutboxMessage.channel).where(OutboxMessage.id.in_(ids))
            ).all()
        )
        for message_id in (i for i in ids if channels[i] == Channel.WEBHOOK):
            message = db.session.get_one(OutboxMessage, message_id)
            untried.remove(message_id)
            try:
                post_webhook(message)
            except WebhookError as exc:
                _failed(message, exc, exc.permanent)
                counts["failed" if message.status == OutboxStatus.FAILED else "deferred"] += 1
                continue
            _sent(message_id, unrecorded)
            counts["sent"] += 1
        mails = [i for i in ids if channels[i] == Channel.MAIL]
        if mails:
            _deliver_mail(mails, untried, unrecorded, counts)
    except SQLAlchemyError:
        _recover_from_database_error(untried, unrecorded)
        raise
    return counts


def _recover_from_database_error(untried: list[int], unrecorded: list[int]) -> None:
    """The database went away mid-round.  Once it answers again, a mail the server took but
    whose "sent" was lost is recorded as sent after all, and the claimed mails not yet tried are
    due again at once.  If it still does not answer, they stay claimed until ``STALE_CLAIM``
    (and the one the server took is then sent again: at least once, same Message-ID)."""
    try:
        db.session.rollback()
        for message_id in list(unrecorded):
            _sent(message_id, unrecorded)
        _release(untried)
    except SQLAlchemyError:
        db.session.rollback()


class _Connection:
    """One SMTP connection for a round, opened again once if the server hung up between two mails
    (a restart, an idle cut): a server that closed the connection took no responsibility for the
    next mail (no 250), so sending it on a new connection cannot deliver it twice."""

    def __init__(self) -> None:
        self.connection: Connection | None = None

    def open(self) -> Connection:
        self.connection = mail.connect().__enter__()
        return self.connection

    def send(self, message: Message) -> None:
        assert self.connection is not None, "open() first"
        try:
            self.connection.send(message)
        except smtplib.SMTPServerDisconnected:
            self.close()
            self.open().send(message)

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                # QUIT; a server that dropped us cannot answer.  (flask_mail types the arguments as
                # never None, though a with-statement passes None on a clean exit.)
                self.connection.__exit__(None, None, None)  # type: ignore[arg-type]
            self.connection = None


def _deliver_mail(ids: list[int], untried: list[int], unrecorded: list[int], counts: dict[str, int]) -> None:
    """Send ``ids`` over one SMTP connection; each is removed from ``untried`` when it is tried."""
    # Read once and turned into messages before the first commit (which expires what was read).
    rows = {m.id: m for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))}
    prepared = [(message_id, rows[message_id].to_message()) for message_id in ids]  # the claim's order
    for row in rows.values():  # done with: each commit below would otherwise expire them all again
        db.session.expunge(row)
    smtp = _Connection()
    try:
        smtp.open()
        for message_id, message in prepared:
            untried.remove(message_id)
            try:
                smtp.send(message)
            except (smtplib.SMTPException, OSError) as exc:
                permanent = _permanent(exc)
                row = db.session.get_one(OutboxMessage, message_id)
                _failed(row, exc, permanent)
                counts["failed" if row.status == OutboxStatus.FAILED else "deferred"] += 1
                if not permanent:
                    break  # the server is in trouble: leave the rest for later
                continue
            _sent(message_id, unrecorded)
            counts["sent"] += 1
    except (smtplib.SMTPException, OSError) as exc:
        # No connection at all: the first mail was tried and waits its back-off; the others were
        # not tried, count no attempt, and wait as long (no hammering a server that is down).
        if untried:
            first = db.session.get_one(OutboxMessage, untried.pop(0))
            _failed(first, exc, permanent=False)
            counts["deferred"] += 1
            first_id = first.id
            _release(untried, until=first.next_attempt_at, error=first.last_error)
            if untried:
                log.warning(
                    "outbox rows %s held back with row %s (no connection to the mail server)",
                    ", ".join(map(str, untried)),
                    first_id,
                )
            counts["deferred"] += len(untried)
            untried.clear()
    finally:
        smtp.close()
        _release(untried)
