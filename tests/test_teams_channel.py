"""The networks' Teams channels: newsletters and emergency call-ins posted to an incoming webhook
through the outbox, against a real local HTTP server that captures the posts."""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update

from extensions import db
from models import AuditEntry, Network, OutboxMessage
from models import newsletter as newsletters
from models.outbox import Channel
from tests.conftest import free_port, post, sign_in


class Capture:
    """An HTTP server on 127.0.0.1 that keeps every POST (and answers with ``status``)."""

    def __init__(self, port):
        self.port = port
        self.posts = []
        self.status = 200
        self.server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/webhookb2/incoming"

    def start(self):
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                capture.posts.append((self.path, self.headers["Content-Type"], json.loads(body)))
                self.send_response(capture.status)
                self.end_headers()
                self.wfile.write(b"1")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def teams_server(app):
    """A channel on this machine: the app is told to allow it (only under test – see
    tests/test_teams_webhook.py for the addresses refused everywhere else)."""
    app.config["WEBHOOK_ALLOW_INTERNAL"] = True
    capture = Capture(free_port())
    yield capture
    capture.stop()


@pytest.fixture
def nik(app):
    return db.session.scalar(select(Network).filter_by(code="NIK"))


def make_due():
    db.session.execute(update(OutboxMessage).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))
    db.session.commit()


def send_issue(nik, coordinator, title="Nytt fra NIK"):
    issue = newsletters.create(title, "Et **nytt** kurs.", [nik], by=coordinator)
    newsletters.send(issue, coordinator)
    db.session.commit()
    return issue


def test_a_newsletter_is_posted_in_the_channel(
    app, nik, create_member, create_coordinator, municipality, teams_server, deliver, mail_outbox
):
    teams_server.start()
    create_member(municipality("4601"))
    coordinator = create_coordinator("NIK")
    nik.teams_webhook_url = teams_server.url
    issue = send_issue(nik, coordinator)
    assert deliver() == {"sent": 2, "failed": 0, "deferred": 0}  # the mail and the post
    ((path, content_type, card),) = teams_server.posts
    assert path == "/webhookb2/incoming" and content_type == "application/json"
    assert card["title"] == "Nytt fra NIK" and "Et nytt kurs." in card["text"]
    assert f"/newsletter/{issue.id}" in card["text"]
    assert len(mail_outbox) == 1


def test_with_the_channel_down_the_post_waits_and_is_delivered_exactly_once(
    app, nik, create_coordinator, teams_server, deliver
):
    coordinator = create_coordinator("NIK")
    nik.teams_webhook_url = teams_server.url  # nothing listens there yet
    send_issue(nik, coordinator)

    assert deliver() == {"sent": 0, "failed": 0, "deferred": 1}
    row = db.session.scalar(select(OutboxMessage).filter_by(channel=Channel.WEBHOOK))
    assert row.status == "pending" and row.attempts == 1 and "refused" in row.last_error.lower()
    assert deliver()["sent"] == 0  # not due again until its back-off has passed

    teams_server.start()
    make_due()
    assert deliver() == {"sent": 1, "failed": 0, "deferred": 0}
    make_due()
    assert deliver() == {"sent": 0, "failed": 0, "deferred": 0}
    assert len(teams_server.posts) == 1
    db.session.expire_all()
    assert row.status == "sent" and row.attempts == 2


def test_a_channel_that_refuses_the_post_for_good_is_not_retried(
    app, nik, create_coordinator, teams_server, deliver
):
    teams_server.start()
    teams_server.status = 410  # the webhook was removed in Teams
    nik.teams_webhook_url = teams_server.url
    send_issue(nik, create_coordinator("NIK"))
    assert deliver() == {"sent": 0, "failed": 1, "deferred": 0}
    row = db.session.scalar(select(OutboxMessage).filter_by(channel=Channel.WEBHOOK))
    assert row.status == "failed" and row.last_error == "WebhookError: HTTP 410"

    teams_server.status = 503  # a passing fault is retried
    db.session.delete(row)
    send_issue(nik, create_coordinator("NIK"), title="Neste")
    assert deliver()["deferred"] == 1


def test_an_emergency_call_in_is_posted_in_each_networks_channel_ahead_of_other_mail(
    app, client, nik, create_member, create_coordinator, municipality, teams_server, deliver, mail_outbox
):
    teams_server.start()
    create_member(municipality("4601"))
    coordinator = create_coordinator("NIK")
    nik.teams_webhook_url = teams_server.url
    db.session.commit()
    sign_in(client, coordinator.email)
    soon = datetime.now(UTC) + timedelta(hours=3)
    response = post(
        client,
        "/meetings/new",
        {
            "kind": "emergency",
            "networks": ["NIK"],
            "title": "Flyktningankomst",
            "format": "digital",
            "online_link": "https://teams.microsoft.com/l/meetup-join/x",
            "date": soon.date().isoformat(),
            "start": "12:00",
            "end": "13:00",
            "description": "Mange ankomster i helgen.",
        },
        page="/meetings/new",
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    row = db.session.scalar(select(OutboxMessage).filter_by(channel=Channel.WEBHOOK))
    assert row.priority > 0 and row.recipient == "Teams: NIK"
    deliver()
    ((_path, _type, card),) = teams_server.posts
    assert card["title"] == "Innkalling ved beredskapshendelse: Flyktningankomst"
    assert "https://teams.microsoft.com/l/meetup-join/x" in card["text"] and "Mange ankomster" in card["text"]


def test_the_coordinator_sets_and_clears_the_channel(client, nik, create_coordinator):
    sign_in(client, create_coordinator("NIK").email)
    page = "/coordinator/teams/NIK"
    response = post(client, "/coordinator/teams/NIK/channel", {"url": "javascript://alert(1)"}, page=page)
    assert response.status_code == 422 and "Skriv en fullstendig adresse" in response.get_data(as_text=True)
    refused = response.get_data(as_text=True)  # said in the title and in a summary that takes the focus
    assert "<title>Feil: " in refused and 'id="error-summary" data-autofocus' in refused
    url = "https://hdir.webhook.office.com/webhookb2/abc/IncomingWebhook/def"
    assert post(client, "/coordinator/teams/NIK/channel", {"url": url}, page=page).status_code == 303
    db.session.expire_all()
    assert nik.teams_webhook_url == url
    assert post(client, "/coordinator/teams/NIK/channel", {"url": ""}, page=page).status_code == 303
    db.session.expire_all()
    assert nik.teams_webhook_url is None
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action.like("teams.channel%"))).all()
    assert [(e.action, e.after) for e in entries] == [
        ("teams.channel_set", {"host": "hdir.webhook.office.com"}),
        ("teams.channel_cleared", None),
    ]
