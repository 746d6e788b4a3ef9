"""The networks' Teams channels: newsletters and emergency call-ins posted to an incoming webhook
through the outbox, against a real local HTTP server that captures the posts."""

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update

from extensions import db
from models import AuditEntry, Meeting, Network, OutboxMessage
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


BARE_URL = re.compile(r"(?:https?://|www\.)\S*", re.I)


def adaptive_card(payload):
    """The Adaptive Card in a post, checked as Workflows takes it: a message with one attachment of
    the Adaptive Card type whose content is a card of version 1.4, of TextBlocks that wrap, and
    whose links are buttons with a title – no address shown as text in any block."""
    assert payload["type"] == "message" and "@type" not in payload
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert "contentUrl" in attachment and attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["body"] and all(b["type"] == "TextBlock" and b["wrap"] is True for b in card["body"])
    title = card["body"][1]
    assert title["size"] == "Large" and title["weight"] == "Bolder"
    for block in card["body"]:
        shown = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", block["text"])  # a Markdown link shows its words
        assert not BARE_URL.search(shown), block["text"]
    for action in card.get("actions", []):
        assert (
            action["type"] == "Action.OpenUrl"
            and action["title"].strip()
            and action["url"].startswith("http")
        )
    return card


def texts(card):
    return [block["text"] for block in card["body"]]


def buttons(card):
    return [(action["title"], action["url"]) for action in card.get("actions", [])]


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


def send_issue(nik, coordinator, title="Nytt fra NIK", body="Et **nytt** kurs."):
    issue = newsletters.create(title, body, [nik], by=coordinator)
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
    ((path, content_type, payload),) = teams_server.posts
    assert path == "/webhookb2/incoming" and content_type == "application/json"
    card = adaptive_card(payload)
    assert texts(card)[:3] == [
        "NIK – Norsk nettverk for innvandrerhelse i kommuner",  # the network named
        "Nytt fra NIK",
        "Et **nytt** kurs.",  # bold kept
    ]
    assert buttons(card) == [("Les nyhetsbrevet", f"http://localhost/newsletter/{issue.id}")]
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
    soon = datetime.now(UTC) + timedelta(days=1)  # tomorrow: 12:00 today may have passed
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
    ((_path, _type, payload),) = teams_server.posts
    card = adaptive_card(payload)
    shown = texts(card)
    assert shown[:2] == [
        "NIK – Norsk nettverk for innvandrerhelse i kommuner",
        "Innkalling ved beredskapshendelse: Flyktningankomst",
    ]
    assert shown[2].startswith("**Når:** ") and shown[2].endswith(" 12:00–13:00")
    assert "Mange ankomster i helgen." in shown
    meeting = db.session.scalar(select(Meeting))
    assert buttons(card) == [
        ("Bli med i møtet", "https://teams.microsoft.com/l/meetup-join/x"),
        ("Se møtet", f"http://localhost/meetings/{meeting.id}"),
    ]


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


LONG_ISSUE = (
    """# Kurs i vår

Påmelding på https://www.helsedirektoratet.no/kurs/innvandrerhelse-2027?kilde=nyhetsbrev og
[skjemaet](https://example.no/skjema) innen fredag.

## Program

- Velkommen
- Tolking i **helsetjenesten**

"""
    + "Mer om kurset. " * 80
)


def test_the_newsletter_card_keeps_headings_shows_no_address_and_is_short(
    app, nik, create_coordinator, teams_server, deliver
):
    teams_server.start()
    nik.teams_webhook_url = teams_server.url
    issue = send_issue(nik, create_coordinator("NIK"), title="Våren", body=LONG_ISSUE)
    deliver()
    ((_path, _type, payload),) = teams_server.posts
    card = adaptive_card(payload)
    headings = [b["text"] for b in card["body"][2:] if b.get("weight") == "Bolder"]
    assert headings == ["Kurs i vår", "Program"]  # the Markdown headings, as bold blocks
    shown = texts(card)
    assert (  # an address written as text is shown as its host; a link by its words
        "Påmelding på [helsedirektoratet.no](https://www.helsedirektoratet.no/kurs/innvandrerhelse-2027"
        "?kilde=nyhetsbrev) og [skjemaet](https://example.no/skjema) innen fredag." in shown
    )
    assert "- Velkommen\n- Tolking i **helsetjenesten**" in shown
    # Short: about 600 characters, ended with "…"; the button leads to the whole issue.
    assert shown[-1].endswith(" …") and sum(len(t) for t in shown[2:]) < 900
    assert buttons(card) == [("Les nyhetsbrevet", f"http://localhost/newsletter/{issue.id}")]


def test_the_channel_gets_the_bokmal_version_of_an_issue_written_in_nynorsk(
    app, nik, create_coordinator, teams_server, deliver
):
    teams_server.start()
    nik.teams_webhook_url = teams_server.url
    coordinator = create_coordinator("NIK")
    issue = newsletters.create(
        "Nytt frå NIK",
        "Eit nytt kurs.",
        [nik],
        by=coordinator,
        language="nn",
        parallel_title="Nytt fra NIK",
        parallel_body="Et nytt kurs.",
    )
    newsletters.send(issue, coordinator)
    db.session.commit()
    deliver()
    card = adaptive_card(teams_server.posts[0][2])
    assert texts(card)[1:] == ["Nytt fra NIK", "Et nytt kurs."]


def test_an_office_365_connector_gets_the_legacy_card_with_the_same_buttons(app, nik, create_coordinator):
    """A connector address (*.webhook.office.com) is sure to take a MessageCard; Workflows
    addresses get the Adaptive Card (above)."""
    nik.teams_webhook_url = "https://hdir.webhook.office.com/webhookb2/abc/IncomingWebhook/def"
    issue = send_issue(nik, create_coordinator("NIK"), body="## Kurs\n\nSe https://fhi.no/kurs.")
    row = db.session.scalar(select(OutboxMessage).filter_by(channel=Channel.WEBHOOK))
    card = json.loads(row.body_text)
    assert card["@type"] == "MessageCard" and card["title"] == "Nytt fra NIK"
    (section,) = card["sections"]
    assert section["activityTitle"] == "NIK – Norsk nettverk for innvandrerhelse i kommuner"
    assert section["text"] == "**Kurs**\n\nSe [fhi.no](https://fhi.no/kurs)."
    assert card["potentialAction"] == [
        {
            "@type": "OpenUri",
            "name": "Les nyhetsbrevet",
            "targets": [{"os": "default", "uri": f"http://localhost/newsletter/{issue.id}"}],
        }
    ]


def test_a_call_in_without_a_link_has_its_place_and_agenda_and_no_join_button(
    app, client, nik, create_coordinator, teams_server, deliver
):
    teams_server.start()
    coordinator = create_coordinator("NIK")
    nik.teams_webhook_url = teams_server.url
    db.session.commit()
    sign_in(client, coordinator.email)
    soon = datetime.now(UTC) + timedelta(days=1)  # tomorrow: 12:00 today may have passed
    response = post(
        client,
        "/meetings/new",
        {
            "kind": "emergency",
            "networks": ["NIK"],
            "title": "Flyktningankomst",
            "format": "hybrid",
            "place": "Helsedirektoratet, Vitaminveien 4",
            "date": soon.date().isoformat(),
            "start": "12:00",
            "end": "13:00",
            "description": "Les mer på https://www.regjeringen.no/no/tema/innvandring/id1/ før møtet.",
            "agenda": "1. Situasjonen\n2. Fordeling",
        },
        page="/meetings/new",
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    deliver()
    card = adaptive_card(teams_server.posts[0][2])
    shown = texts(card)
    assert "**Sted:** Helsedirektoratet, Vitaminveien 4" in shown
    assert (
        "Les mer på [regjeringen.no](https://www.regjeringen.no/no/tema/innvandring/id1/) før møtet." in shown
    )
    assert "Alle som er kalt inn, bekrefter mottak med lenken i sin egen e-post." in shown
    meeting = db.session.scalar(select(Meeting))
    assert buttons(card) == [("Se møtet", f"http://localhost/meetings/{meeting.id}")]  # no link to join: none
