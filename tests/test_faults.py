"""Faults survived: the database going away under a live app, a mail worker killed mid-send.

(The SMTP server down and back: tests/test_outbox.py; two coordinators editing one meeting:
tests/test_meetings_http.py.)
"""

import asyncio
import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, event, func, select

from extensions import db
from models import Member, OutboxMessage, outbox
from models.types import utcnow
from tests.conftest import free_port, post, sign_in
from tests.helpers import drop_connections, queue_some, registration_data, worker


@pytest.fixture
def postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a database server to lose connections to: PostgreSQL (TEST_DATABASE_URL)")
    admin = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    yield admin
    admin.dispose()


def test_the_app_recovers_by_itself_when_the_database_restarts(app, postgres, create_member, municipality):
    member = create_member(municipality("4601"))
    client = app.test_client()
    sign_in(client, member.email)
    assert client.get("/me/").status_code == 200
    db.session.remove()
    assert drop_connections(postgres) >= 1  # every connection the app held is gone
    # The next requests are served: the pool's pre-ping finds the dead connections and replaces them.
    for _ in range(3):
        assert client.get("/me/").status_code == 200


def test_a_request_cut_off_at_its_commit_stores_nothing_and_says_so(app, postgres, municipality, mail_outbox):
    client = app.test_client()
    data = registration_data(municipality("4601"))
    token_page = client.get("/register/")
    cut = []

    @event.listens_for(db.engine, "commit")
    def lose_the_connection(connection):  # the database goes away just as the request commits
        if not cut:
            cut.append(connection.connection.dbapi_connection.info.backend_pid)
            drop_connections(postgres, cut[0])

    try:
        from tests.conftest import csrf_token_from

        response = client.post("/register/", data={**data, "csrf_token": csrf_token_from(token_page)})
    finally:
        event.remove(db.engine, "commit", lose_the_connection)
    assert cut and response.status_code == 503
    assert "Tjenesten er midlertidig utilgjengelig" in response.get_data(as_text=True)
    db.session.remove()
    # Nothing of it was stored: no member, no membership, no mail in the outbox, no audit entry.
    assert (
        db.session.scalar(
            select(func.count()).select_from(Member).where(func.lower(Member.email) == data["email"].lower())
        )
        == 0
    )
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    # Sent again, it goes through on a fresh connection.
    assert post(client, "/register/", data, page="/register/").status_code == 303
    assert (
        db.session.scalar(
            select(func.count()).select_from(Member).where(func.lower(Member.email) == data["email"].lower())
        )
        == 1
    )


class SlowServer:
    """An SMTP server that takes a while to accept each mail, and takes responsibility for it only
    when it can still say so (RFC 5321: the 250 reply) – a client killed mid-DATA has sent nothing."""

    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.15)
        if server.transport is None or server.transport.is_closing():
            return "421 Client gone"
        self.received.extend(envelope.rcpt_tos)
        return "250 Message accepted"


def test_a_worker_killed_while_sending_loses_nothing_and_sends_nothing_twice(app):
    if db.engine.dialect.name == "sqlite":
        url = str(db.engine.url)
    else:
        url = db.engine.url.render_as_string(hide_password=False)
    queue_some(12, app)
    recipients = [f"mottaker{i}@kommune.example" for i in range(12)]
    server = SlowServer()
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        first = worker(url, controller.port)
        deadline = time.monotonic() + 60
        while len(server.received) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.05)  # now in the middle of a mail
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        sent_before = len(server.received)
        assert 4 <= sent_before < len(recipients)
        # Its claim lapses (a dead worker's claim is taken over after STALE_CLAIM; here at once).
        db.session.execute(
            OutboxMessage.__table__.update()
            .where(OutboxMessage.status == "sending")
            .values(claimed_at=utcnow() - outbox.STALE_CLAIM - timedelta(seconds=1))
        )
        db.session.commit()
        second = worker(url, controller.port)
        deadline = time.monotonic() + 60
        while len(server.received) < len(recipients) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # anything more would have come by now
        os.killpg(second.pid, signal.SIGKILL)
        second.wait()
    finally:
        controller.stop()
    assert sorted(server.received) == sorted(recipients)  # each once: none lost, none twice
    db.session.expire_all()
    assert set(db.session.scalars(select(OutboxMessage.status))) == {"sent"}


def test_connections_cut_under_a_write_load_give_503_never_500_and_a_retry_is_done_once(
    app, postgres, municipality
):
    """Eight people register at once, 48 forms, while the database cuts the app's connections
    again and again.  Every answer is 303 or 503 (never a bare 500); a form answered 503 either
    stored nothing or stored all of it (its commit went through and the answer was lost), and
    sent again with its submission key – as the browser's "try again" does – it is done once:
    in the end each address has one member and one mail, whatever happened on the way."""
    import uuid

    from models.submissions import FormSubmission
    from tests.conftest import csrf_token_from

    org = municipality("4601")
    db.session.remove()
    clients = [app.test_client() for _ in range(8)]
    forms = {}

    def form_for(client, n):
        data = registration_data(
            org, email=f"deltaker{n}@kommune.example", manager_email=f"leder{n}@kommune.example"
        )
        while True:  # the page itself may meet a cut connection
            page = client.get("/register/")
            if page.status_code == 200:
                return {**data, "csrf_token": csrf_token_from(page), "submission": uuid.uuid4().hex}
            assert page.status_code == 503

    def register_some(wait, i, client):
        wait()
        answers = []
        for n in range(i * 6, i * 6 + 6):
            form = forms[n] = form_for(client, n)
            answers.append((n, client.post("/register/", data=form).status_code))
        return answers

    stop, cuts = threading.Event(), []

    def cut_again_and_again():
        while not stop.is_set():
            cuts.append(drop_connections(postgres))
            time.sleep(0.5)

    from tests.conftest import at_once

    cutter = threading.Thread(target=cut_again_and_again, daemon=True)
    cutter.start()
    try:
        answers = [
            a for part in at_once(register_some, [(i, c) for i, c in enumerate(clients)]) for a in part
        ]
    finally:
        stop.set()
        cutter.join(5)
    statuses = [status for _, status in answers]
    assert set(statuses) <= {303, 503}, statuses
    failed = [n for n, status in answers if status == 503]
    assert failed and sum(cuts) > 0, "the connections were not cut while the forms were sent"

    def stored(n):
        return db.session.scalar(
            select(func.count()).select_from(Member).where(Member.email == f"deltaker{n}@kommune.example")
        )

    for n in failed:  # all or nothing: the member with the mail for them, or no trace
        db.session.remove()
        mails = db.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.recipient == f"deltaker{n}@kommune.example")
        )
        assert (stored(n), mails) in {(0, 0), (1, 1)}
        if stored(n):
            assert db.session.get(FormSubmission, forms[n]["submission"]) is not None
    # "Try again": the same forms, with their keys, now that the database is back.
    for n in failed:
        client = clients[n // 6]
        assert client.post("/register/", data=forms[n]).status_code == 303
    db.session.remove()
    for n in range(48):
        assert stored(n) == 1
    recipients = db.session.scalars(select(OutboxMessage.recipient)).all()
    assert sorted(recipients) == sorted(f"deltaker{n}@kommune.example" for n in range(48))
