"""The Teams webhook is an outbound call the coordinator names: only ``https://`` to a public
host (by default one of Microsoft's webhook hosts) is saved, and the worker checks the address
again – resolved afresh – right before each post and connects to the address it checked, so the
app cannot be pointed at its own network (the database, the cloud's metadata service, …)."""

import http.server
import re
import ssl
import subprocess
import threading

import pytest
from sqlalchemy import func, select

from extensions import db
from models import AuditEntry, Network, OutboxMessage, teams
from models.outbox import Channel, queue_webhook
from tests.conftest import free_port, post, sign_in

INTERNAL = [
    "https://127.0.0.1/webhookb2/x",
    "https://10.0.0.1/webhookb2/x",
    "https://192.168.1.20/webhookb2/x",
    "https://[::1]/webhookb2/x",
    "https://[::ffff:127.0.0.1]/webhookb2/x",
    "https://169.254.169.254/latest/meta-data/",
    "https://0.0.0.0/webhookb2/x",
    "https://224.0.0.1/webhookb2/x",
    "https://localhost/webhookb2/x",  # a name that resolves to 127.0.0.1
    "https://2130706433/webhookb2/x",  # 127.0.0.1 written as one number
    "https://127.1/webhookb2/x",  # … and as two: a "name" that resolves to 127.0.0.1
    "https://0x7f.0.0.1/webhookb2/x",
    "https://[64:ff9b::7f00:1]/webhookb2/x",  # 127.0.0.1 through NAT64
    "https://[2002:a00:1::1]/webhookb2/x",  # 10.0.0.1 through 6to4
]
PAGE = "/coordinator/teams/NIK"


@pytest.fixture
def nik(app):
    return db.session.scalar(select(Network).filter_by(code="NIK"))


def save(client, url):
    return post(client, "/coordinator/teams/NIK/channel", {"url": url}, page=PAGE)


def field_error(response):
    """The error shown next to the address field."""
    return re.search(r'id="url-error"[^>]*>(.*?)</p>', response.get_data(as_text=True), re.S).group(1).strip()


def audit_count():
    return db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("teams.%"))
    )


@pytest.mark.parametrize("url", ["http://hdir.webhook.office.com/webhookb2/x", *INTERNAL])
def test_an_internal_or_unencrypted_address_is_refused_when_saved(app, client, nik, create_coordinator, url):
    app.config["TEAMS_WEBHOOK_HOSTS"] = ""  # no list of hosts: the address rule alone refuses
    sign_in(client, create_coordinator("NIK").email)
    response = save(client, url)
    assert response.status_code == 422 and field_error(response)
    db.session.expire_all()
    assert nik.teams_webhook_url is None and audit_count() == 0


def test_the_error_says_why_next_to_the_field(app, client, create_coordinator):
    app.config["TEAMS_WEBHOOK_HOSTS"] = ""
    sign_in(client, create_coordinator("NIK").email)
    assert field_error(save(client, "https://10.0.0.1/webhookb2/x")).startswith(
        "Adressen er på et internt nett"
    )
    assert field_error(save(client, "http://hooks.example.org/x")).startswith(
        "Adressen må begynne med https://"
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://[::1/x",
        "https://hdir.webhook.office.com:99999/x",
        "https://user:secret@hdir.webhook.office.com/x",
        "https://" + "ä" * 70 + ".no/x",
    ],
)
def test_a_malformed_address_is_refused_next_to_the_field(app, client, nik, create_coordinator, url):
    app.config["TEAMS_WEBHOOK_HOSTS"] = ""
    sign_in(client, create_coordinator("NIK").email)
    response = save(client, url)
    assert response.status_code == 422 and field_error(response)
    db.session.expire_all()
    assert nik.teams_webhook_url is None


def test_only_microsofts_webhook_hosts_by_default(app, client, nik, create_coordinator):
    sign_in(client, create_coordinator("NIK").email)
    refused = save(client, "https://hooks.example.org/webhookb2/x")
    assert refused.status_code == 422 and "webhook.office.com" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert nik.teams_webhook_url is None
    for url in (
        "https://hdir.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456",
        "https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke"
        "?api-version=2016-06-01&sig=x",
        "https://default1234.ab.environment.api.powerplatform.com:443/powerautomate/automations/direct/"
        "workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=y",
    ):
        assert save(client, url).status_code == 303, url  # accepted without any network
        db.session.expire_all()
        assert nik.teams_webhook_url == url
    app.config["TEAMS_WEBHOOK_HOSTS"] = "hooks.example.org"  # the list is configurable
    assert save(client, "https://hooks.example.org/webhookb2/x").status_code == 303
    assert save(client, "https://hdir.webhook.office.com/webhookb2/x").status_code == 422


def test_a_public_https_host_is_accepted_when_no_host_list_is_set(app, client, nik, create_coordinator):
    app.config["TEAMS_WEBHOOK_HOSTS"] = ""
    sign_in(client, create_coordinator("NIK").email)
    for url in ("https://20.190.151.9/webhookb2/x", "https://hooks.example.org/webhookb2/x"):
        assert save(client, url).status_code == 303, url
        db.session.expire_all()
        assert nik.teams_webhook_url == url


def test_the_model_refuses_as_the_form_does(app, nik):
    app.config["TEAMS_WEBHOOK_HOSTS"] = ""
    with pytest.raises(teams.WebhookRefused):
        teams.set_channel(nik, "https://localhost/x")
    db.session.rollback()
    assert nik.teams_webhook_url is None and audit_count() == 0


class Listener:
    """A plain HTTP server on 127.0.0.1 that records any request made to it."""

    def __init__(self):
        self.requests = []
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                listener.requests.append(self.path)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.stop()


@pytest.mark.parametrize(
    "address",
    [
        "http://127.0.0.1:{port}/x",
        "https://127.0.0.1:{port}/x",
        "https://localhost:{port}/x",
        "https://[::1]:{port}/x",
        "https://10.0.0.1:{port}/x",
        "https://169.254.169.254/latest/meta-data/",
    ],
)
def test_the_worker_refuses_an_internal_address_at_send_time(app, nik, listener, deliver, address):
    """A row whose address became internal after it was saved (DNS changed; or written straight
    into the database) fails for good, untried: nothing reaches the listener."""
    app.config["TEAMS_WEBHOOK_HOSTS"] = ""  # the address rule alone refuses
    url = address.format(port=listener.port)
    queue_webhook(url, "Teams: NIK", "Tittel", "Tekst", "newsletter")
    db.session.commit()
    assert deliver() == {"sent": 0, "failed": 1, "deferred": 0}
    row = db.session.scalar(select(OutboxMessage).filter_by(channel=Channel.WEBHOOK))
    assert row.status == "failed" and row.last_error.startswith("WebhookError: refused:"), row.last_error
    assert listener.requests == []


def test_the_worker_refuses_a_host_off_the_list(app, nik, deliver):
    queue_webhook("https://hooks.example.org/x", "Teams: NIK", "Tittel", "Tekst", "newsletter")
    db.session.commit()
    assert deliver()["failed"] == 1
    row = db.session.scalar(select(OutboxMessage).filter_by(channel=Channel.WEBHOOK))
    assert "webhook.office.com" in row.last_error


def test_a_name_that_does_not_resolve_is_tried_again_later(app, nik, deliver):
    queue_webhook("https://nowhere.webhook.office.com.invalid/x", "Teams: NIK", "T", "T", "newsletter")
    app.config["TEAMS_WEBHOOK_HOSTS"] = "invalid"
    db.session.commit()
    assert deliver() == {"sent": 0, "failed": 0, "deferred": 1}


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on 127.0.0.1 whose certificate names ``hooks.test`` (a name no resolver knows)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=hooks.test",
            "-addext",
            "subjectAltName=DNS:hooks.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(
                (self.path, self.headers["Host"], self.rfile.read(int(self.headers["Content-Length"])))
            )
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], cert, received
    server.shutdown()
    server.server_close()


def test_the_post_goes_to_the_checked_address_with_tls_checked_against_the_name(tls_server):
    port, cert, received = tls_server
    connection = teams._PinnedHTTPSConnection("hooks.test", port, "127.0.0.1", timeout=5)
    connection._context = ssl.create_default_context(cafile=str(cert))  # trust the test's certificate
    connection.request("POST", "/webhookb2/x?a=1", body=b"{}", headers={"Content-Type": "application/json"})
    assert connection.getresponse().status == 200
    assert received == [("/webhookb2/x?a=1", f"hooks.test:{port}", b"{}")]
    # A certificate for another name is refused.
    connection = teams._PinnedHTTPSConnection("other.test", port, "127.0.0.1", timeout=5)
    connection._context = ssl.create_default_context(cafile=str(cert))
    with pytest.raises(ssl.SSLCertVerificationError):
        connection.request("POST", "/x", body=b"{}")
