"""The mail worker outlives its faults: an SMTP server that drops the connection mid-batch, no SMTP
server at all, and the database cutting the worker's connections – every mail arrives, and an
attempt is counted only against a mail that was tried.

Delivery is at least once (README, *Accounts, the first coordinator, and the mail worker*): a mail
is marked sent in its own commit right after the server's 250; only a connection lost in between
sends it again, with the same ``Message-ID``.
"""

import asyncio
import email
import email.policy
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from extensions import db
from models import Heartbeat, OutboxMessage, OutboxStatus, outbox
from models.types import utcnow
from tests.conftest import free_port
from tests.helpers import drop_connections, queue_some, worker


class DroppingServer:
    """Takes ``per_connection`` mails on a connection, then hangs up (a restart, a proxy's idle
    cut) – or, with ``refuse``, answers the next mail "421 closing" first, as a server going
    down does.  Keeps every mail it accepted, with its Message-ID."""

    def __init__(self, per_connection, refuse=False):
        self.per_connection, self.refuse = per_connection, refuse
        self.received = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        taken = getattr(session, "taken", 0)
        if not self.refuse and taken >= self.per_connection:
            # A mail that raced the hang-up onto the dying connection: the server is gone before
            # it answers, so the mail is not taken (no 250) and goes again on a new connection.
            server.transport.abort()
            return "421 Service closing"
        if self.refuse and taken >= self.per_connection:
            asyncio.get_running_loop().call_later(0.01, server.transport.close)
            return "421 Service closing, try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append((envelope.rcpt_tos[0], message["Message-ID"]))
        session.taken = taken + 1
        if not self.refuse and session.taken >= self.per_connection:
            asyncio.get_running_loop().call_later(0.01, server.transport.close)
        return "250 Message accepted"


def smtp_server(handler):
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller


@pytest.fixture
def dropping_smtpd():
    controller = smtp_server(DroppingServer(per_connection=3))
    yield controller
    controller.stop()


@pytest.fixture
def refusing_smtpd():
    controller = smtp_server(DroppingServer(per_connection=3, refuse=True))
    yield controller
    controller.stop()


def rows():
    return {m.recipient: m for m in db.session.scalars(select(OutboxMessage))}


def test_a_server_that_hangs_up_between_mails_is_called_again_and_every_mail_goes(
    app_factory, dropping_smtpd
):
    app = app_factory(MAIL_PORT=dropping_smtpd.port)
    with app.app_context():
        queue_some(10, app)
        assert outbox.deliver(worker="w", limit=10) == {"sent": 10, "failed": 0, "deferred": 0}
        db.session.expire_all()
        assert {(m.status, m.attempts) for m in rows().values()} == {(OutboxStatus.SENT, 1)}
        assert sorted(r for r, _ in dropping_smtpd.handler.received) == sorted(rows())


def test_a_server_going_down_mid_batch_counts_an_attempt_only_against_the_mail_it_refused(
    app_factory, refusing_smtpd
):
    app = app_factory(MAIL_PORT=refusing_smtpd.port)
    with app.app_context():
        queue_some(10, app)
        counts = outbox.deliver(worker="w", limit=10)
        # Three went through; the fourth was refused ("421"); six were never tried.
        assert counts == {"sent": 3, "failed": 0, "deferred": 1}
        db.session.expire_all()
        by_status = Counter((m.status, m.attempts) for m in rows().values())
        assert by_status == {
            (OutboxStatus.SENT, 1): 3,
            (OutboxStatus.PENDING, 1): 1,
            (OutboxStatus.PENDING, 0): 6,
        }
        untried = [m for m in rows().values() if m.attempts == 0]
        assert all(m.last_error is None and m.claimed_by is None for m in untried)
        refused = next(m for m in rows().values() if m.status == OutboxStatus.PENDING and m.attempts == 1)
        assert "421" in refused.last_error
        # The untried are due at once and go in the next rounds; none is ever marked failed.
        while outbox.deliver(worker="w", limit=10)["sent"]:
            pass
        db.session.expire_all()
        attempts = Counter((m.status, m.attempts) for m in rows().values())
        assert attempts[(OutboxStatus.SENT, 1)] == len(refusing_smtpd.handler.received)
        assert not any(m.status == OutboxStatus.FAILED for m in rows().values())
        # Every attempt counted is a mail the server saw and refused or took.
        assert sum(m.attempts for m in rows().values()) == len(refusing_smtpd.handler.received) + sum(
            m.status == OutboxStatus.PENDING for m in rows().values()
        )


def test_no_smtp_server_counts_one_attempt_and_holds_the_rest_back_without_counting(app_factory):
    app = app_factory(MAIL_PORT=free_port())  # nothing listens there
    with app.app_context():
        queue_some(5, app)
        assert outbox.deliver(worker="w", limit=5) == {"sent": 0, "failed": 0, "deferred": 5}
        db.session.expire_all()
        messages = sorted(rows().values(), key=lambda m: m.id)
        assert [m.attempts for m in messages] == [1, 0, 0, 0, 0]
        assert all(m.status == OutboxStatus.PENDING for m in messages)
        # All wait as long as the one that was tried: a server that is down is not hammered.
        assert len({m.next_attempt_at for m in messages}) == 1
        assert outbox.deliver(worker="w", limit=5) == {"sent": 0, "failed": 0, "deferred": 0}


def heartbeat_row():
    """The worker's heartbeat as committed now (the worker, another process, writes it)."""
    db.session.remove()
    return db.session.execute(
        select(Heartbeat.host, Heartbeat.detail, Heartbeat.beat_at).where(Heartbeat.name == "outbox")
    ).one_or_none()


def test_the_worker_keeps_running_through_lost_database_and_smtp_connections(app, dropping_smtpd):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a database server to lose connections to: PostgreSQL (TEST_DATABASE_URL)")
    from sqlalchemy import create_engine

    admin = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    queue_some(40, app)
    db.session.remove()
    recipients = {f"mottaker{i}@kommune.example" for i in range(40)}
    server = dropping_smtpd.handler
    process = worker(
        db.engine.url.render_as_string(hide_password=False),
        dropping_smtpd.port,
        "--interval",
        "0.2",
        "--batch",
        "5",
    )
    cuts = 0
    try:
        deadline = time.monotonic() + 120
        while {r for r, _ in server.received} != recipients and time.monotonic() < deadline:
            assert process.poll() is None, "the worker stopped"
            if cuts < 6 and len(server.received) >= 5 * (cuts + 1):
                cuts += drop_connections(admin) > 0  # the database restarts under the worker
            time.sleep(0.1)
        time.sleep(0.5)
        assert process.poll() is None, "the worker stopped"
        # Its heartbeat (the metrics and the coordinator's home read it): a round that went well, after the cuts.
        deadline = time.monotonic() + 30
        while (
            not ((beat := heartbeat_row()) and beat.detail.startswith("sent "))
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)
    finally:
        process.kill()
        process.wait()
        admin.dispose()
    assert cuts >= 3
    received = {r for r, _ in server.received}
    assert received == recipients  # every mail arrived
    # At least once: a copy is possible only for a mail whose "sent" was lost with the connection,
    # and it carries the same Message-ID.
    for recipient, count in Counter(r for r, _ in server.received).items():
        if count > 1:
            assert len({mid for r, mid in server.received if r == recipient}) == 1
    db.session.expire_all()
    assert Counter(db.session.scalars(select(OutboxMessage.status))) == {OutboxStatus.SENT: 40}
    assert beat and beat.host.endswith(f":{process.pid}") and beat.detail.startswith("sent "), beat
    assert utcnow() - beat.beat_at < timedelta(seconds=30)
