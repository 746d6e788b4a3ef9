"""The durable outbox: nothing lost when the SMTP server is away, nothing sent twice."""

from datetime import timedelta

from sqlalchemy import func, select, update

from extensions import db
from models import OutboxMessage, OutboxStatus, outbox
from models.types import utcnow
from tests.conftest import at_once, free_port, post
from tests.helpers import figure, queue_some


def statuses():
    return dict(
        db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    )


def test_a_queued_mail_is_delivered_once_with_text_and_html(app, deliver, mail_outbox):
    queue_some(1, app)
    assert mail_outbox == []  # written, not sent, until the worker runs
    assert deliver() == {"sent": 1, "failed": 0, "deferred": 0}
    assert deliver() == {"sent": 0, "failed": 0, "deferred": 0}
    assert len(mail_outbox) == 1
    message = mail_outbox[0]
    assert message["To"] == "mottaker0@kommune.example"
    assert message["Message-ID"].startswith("<outbox-")
    assert "koordinator for NIK" in message.get_body(("plain",)).get_content()
    assert "<a href=" in message.get_body(("html",)).get_content()
    assert statuses() == {OutboxStatus.SENT: 1}


def test_registration_survives_the_smtp_server_being_down_and_nothing_is_lost(
    app_factory, mail_outbox, smtpd, municipality
):
    """The acceptance test: server down, register, server back, every mail once."""
    from tests.helpers import registration_data

    down = app_factory(MAIL_PORT=free_port())  # nothing listens there
    client = down.test_client()
    with down.app_context():
        response = post(client, "/register/", registration_data(municipality("4601")), page="/register/")
        assert response.status_code == 303
        assert outbox.deliver(worker="w") == {"sent": 0, "failed": 0, "deferred": 1}
        message = db.session.scalar(select(OutboxMessage))
        assert message.status == OutboxStatus.PENDING and message.attempts == 1
        assert "Connection refused" in message.last_error or "Errno" in message.last_error
        assert message.next_attempt_at > utcnow()
        # Not due yet: a second round does not hammer the server.
        assert outbox.deliver(worker="w") == {"sent": 0, "failed": 0, "deferred": 0}
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        db.session.commit()
    assert mail_outbox == []

    up = app_factory()  # the server is back
    with up.app_context():
        assert outbox.deliver(worker="w")["sent"] == 1
        assert outbox.deliver(worker="w")["sent"] == 0
    assert len(mail_outbox) == 1
    assert mail_outbox[0]["Subject"] == "Bekreft e-postadressen din"


def test_the_send_command_delivers_in_one_round(runner, app, mail_outbox):
    queue_some(3, app)
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    assert figure(result.output, "sent") == 3
    assert len(mail_outbox) == 3


def test_back_off_grows_and_is_capped():
    assert outbox.backoff(1) == timedelta(seconds=30)
    assert outbox.backoff(3) == timedelta(minutes=2)
    assert outbox.backoff(20) == timedelta(hours=1)


class RefusingHandler:
    """An SMTP server that refuses one recipient for good (550)."""

    def __init__(self, inner):
        self.inner = inner

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("mottaker0@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return await self.inner.handle_DATA(server, session, envelope)


def test_a_permanent_refusal_is_a_bounce_and_the_rest_still_go(
    app, deliver, mail_outbox, smtpd, client, create_coordinator, create_member, municipality
):
    queue_some(3, app)
    original = smtpd.handler
    smtpd.handler = RefusingHandler(original)  # the controller makes a server per connection from it
    try:
        counts = deliver()
    finally:
        smtpd.handler = original
    assert counts == {"sent": 2, "failed": 1, "deferred": 0}
    bounced = db.session.scalar(select(OutboxMessage).filter_by(recipient="mottaker0@kommune.example"))
    assert bounced.status == OutboxStatus.FAILED and bounced.bounced and "550" in bounced.last_error

    # The coordinator of the recipient's network sees it and sends it again.
    create_member(municipality("4601"), email="mottaker0@kommune.example")
    coordinator = create_coordinator("NIK")
    from tests.conftest import sign_in

    sign_in(client, coordinator.email)
    page = client.get("/coordinator/outbox?status=failed").get_data(as_text=True)
    assert "mottaker0@kommune.example" in page and "550" in page
    response = post(client, f"/coordinator/outbox/{bounced.id}/retry", page="/coordinator/outbox")
    assert response.status_code == 303
    db.session.expire_all()
    assert bounced.status == OutboxStatus.PENDING and not bounced.bounced


def test_a_claim_left_by_a_dead_worker_is_taken_over(app, deliver, mail_outbox):
    queue_some(1, app)
    assert outbox.claim("dead-worker") != []
    assert deliver()["sent"] == 0  # claimed, and the claim is fresh
    db.session.execute(
        update(OutboxMessage).values(claimed_at=utcnow() - outbox.STALE_CLAIM - timedelta(seconds=1))
    )
    db.session.commit()
    assert deliver()["sent"] == 1
    assert len(mail_outbox) == 1


def test_two_workers_at_once_send_each_mail_once(app_factory, app, mail_outbox):
    queue_some(60, app)
    workers = [app_factory() for _ in range(2)]  # built here: an app is made in one thread

    def work(ready, name, worker_app):
        with worker_app.app_context():
            try:
                ready()
                total = 0
                while True:
                    counts = outbox.deliver(worker=name, limit=7)
                    total += counts["sent"]
                    if not any(counts.values()):
                        return total
            finally:
                db.session.remove()

    results = at_once(work, [(f"worker-{i}", w) for i, w in enumerate(workers)], timeout=60)
    assert sum(results) == 60
    ids = [m["Message-ID"] for m in mail_outbox]
    assert len(ids) == 60 and len(set(ids)) == 60
    db.session.expire_all()
    assert statuses() == {OutboxStatus.SENT: 60}
