"""What an operations team leans on: the health probes, the rate limits without Redis, the logs
(request ids, a redacted access log, the cause of a 503), secret-key rotation and static caching.

(Metrics and heartbeats: tests/test_metrics.py; backups and moving data: tests/test_backup.py,
tests/test_transfer.py; the worker through outages: tests/test_outbox_faults.py.)
"""

import contextlib
import json
import logging
import re
import socket
import threading
from typing import ClassVar

import pytest
from flask_migrate import upgrade

import logs
from extensions import db
from models import Member, OutboxMessage, tokens
from tests.conftest import free_port, links_in, post, sign_in
from tests.helpers import says

# -- health --------------------------------------------------------------------------------------


def test_healthz_says_the_process_answers_and_sets_no_cookie(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers and response.headers["Cache-Control"] == "no-store"


def test_readyz_is_ready_on_a_migrated_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "rate_limit_storage": "memory"},
    }
    assert "Set-Cookie" not in response.headers


class Proxy:
    """A TCP relay in front of the database server that can be cut and restored: what a database
    restart or a network failure looks like from the app."""

    def __init__(self, target_port):
        self.target_port, self.port = target_port, free_port()
        self.listener, self.pairs, self.thread = None, [], None

    def start(self):
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        listener = self.listener
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self.pairs.append((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def stop(self):
        """Nobody listens any more, and every open connection is cut."""
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (a close alone would not)
        self.listener.close()
        self.thread.join(5)
        for pair in self.pairs:
            for end in pair:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
        self.pairs.clear()


def test_readyz_answers_503_naming_the_database_while_it_is_gone_and_200_when_it_is_back(
    app, app_factory, caplog
):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a database server to stop and start: PostgreSQL (TEST_DATABASE_URL)")
    proxy = Proxy(db.engine.url.port or 5432)
    proxy.start()
    behind = app_factory(
        SQLALCHEMY_DATABASE_URI=db.engine.url.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False
        )
    )
    client = behind.test_client()
    assert client.get("/readyz").status_code == 200
    proxy.stop()
    with caplog.at_level(logging.WARNING):
        response = client.get("/readyz")
        page = client.get("/organisations/")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "checks": {"database": "unavailable", "migrations": "unknown", "rate_limit_storage": "memory"},
    }
    assert page.status_code == 503  # a page that needs the database says so too: no 200 for a load balancer
    # The log names the cause precisely (the driver's first line), not just a class name.
    assert any("database unavailable: OperationalError: connection" in r.getMessage() for r in caplog.records)
    proxy.start()
    assert client.get("/readyz").status_code == 200
    proxy.stop()


def test_readyz_answers_503_when_the_database_cannot_be_opened(app_factory, tmp_path):
    broken = app_factory(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/no-such-directory/tracker.sqlite")
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503 and response.get_json()["checks"]["database"] == "unavailable"


def test_readyz_answers_503_until_the_migrations_are_applied(app_factory, tmp_path):
    fresh = app_factory(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/fresh.sqlite")
    client = fresh.test_client()
    with fresh.app_context():
        upgrade(revision="a4c1e7d25b90")  # one behind: the code was deployed, `flask db upgrade` not run
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["migrations"].startswith("database at a4c1e7d25b90, code at ")
    with fresh.app_context():
        upgrade()
    assert client.get("/readyz").status_code == 200


# -- Redis away --------------------------------------------------------------------------------------


def test_without_redis_signing_in_works_and_the_fallback_is_logged_once(
    app_factory, create_member, municipality, caplog
):
    nobody = free_port()
    with caplog.at_level(logging.INFO):
        app = app_factory(
            RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=f"redis://:hemmelig@127.0.0.1:{nobody}/0"
        )
    start = [r.getMessage() for r in caplog.records if "rate limits" in r.getMessage()]
    assert start == [
        f"rate limits: redis://127.0.0.1:{nobody}/0 does not answer; "
        "counting in each process's memory until it does"
    ]  # said at start, without the password
    with app.app_context():
        member = create_member(municipality("4601"))
        email = member.email
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            client = app.test_client()
            response = sign_in(client, email)
            assert response.status_code == 303 and client.get("/me/").status_code == 200
        wrong = app.test_client()
        assert (
            post(
                wrong, "/sign-in", {"email": email, "password": "feil passord feil"}, page="/sign-in"
            ).status_code
            == 422
        )
        assert (
            wrong.get("/me/").status_code == 302
        )  # the limits still count (in memory): a wrong password fails
        assert app.test_client().post("/reset-password", data={}).status_code == 400  # CSRF, not a 500
    fallbacks = [r for r in caplog.records if "falling back to in-memory" in r.getMessage()]
    assert len(fallbacks) == 1
    assert app.test_client().get("/readyz").get_json()["checks"]["rate_limit_storage"] == "unavailable"


def test_the_sign_in_limits_still_hold_in_memory_when_redis_is_away(app_factory, create_member, municipality):
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0")
    with app.app_context():
        email = create_member(municipality("4601")).email
    client = app.test_client()
    answers = [
        post(
            client, "/sign-in", {"email": email, "password": "feil passord feil"}, page="/sign-in"
        ).status_code
        for _ in range(12)
    ]
    assert 429 in answers  # the account+client budget (10 in 15 minutes) is counted without Redis too


def test_rate_limit_keys_hold_no_address(app_factory, create_member, municipality):
    app = app_factory(RATELIMIT_ENABLED=True)
    with app.app_context():
        email = create_member(municipality("4601")).email
    client = app.test_client()
    assert (
        post(
            client, "/sign-in", {"email": email, "password": "feil passord feil"}, page="/sign-in"
        ).status_code
        == 422
    )
    from extensions import limiter

    with app.app_context():
        storage = limiter.limiter.storage  # the counters in use
        keys = " ".join(str(key) for key in [*storage.storage, *storage.events])
    assert "sign-in" in keys and email not in keys and "127.0.0.1" not in keys


# -- logs ----------------------------------------------------------------------------------------------


def test_every_response_carries_a_request_id_and_keeps_one_the_proxy_gave(client):
    made = client.get("/").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert (
        client.get("/", headers={"X-Request-ID": "lb-7f3a9c2e-1"}).headers["X-Request-ID"] == "lb-7f3a9c2e-1"
    )
    # Not a header anyone can fill the logs with.
    for junk in ("x" * 65, "<script>", "two words"):
        assert client.get("/", headers={"X-Request-ID": junk}).headers["X-Request-ID"] != junk


def test_a_mail_keeps_the_id_of_the_request_that_wrote_it(app, client, create_member, municipality):
    member = create_member(municipality("4601"))
    response = post(
        client,
        "/reset-password",
        {"email": member.email},
        page="/reset-password",
        headers={"X-Request-ID": "req-0123456789"},
    )
    assert response.status_code == 200
    db.session.expire_all()
    assert [m.request_id for m in db.session.query(OutboxMessage)] == ["req-0123456789"]


def test_the_access_log_holds_no_token_and_no_address(
    app, client, create_member, municipality, caplog, deliver, mail_outbox, networks
):
    """A member resets the password and answers the yearly review from mailed links: every line of
    the access log is there, with the request id, and none carries a token, the address or the
    search text."""
    from tests.helpers import answer_form, fresh_cycle, review_link

    member = create_member(municipality("4601"))
    email = member.email
    fresh_cycle(networks["NIK"])
    deliver()
    review = review_link(mail_outbox[-1])
    mail_outbox.clear()
    with caplog.at_level(logging.INFO, logger="tracker.access"):
        assert client.get(review).status_code == 200
        assert post(client, review, answer_form(), page=review).status_code == 200
        assert post(client, "/reset-password", {"email": email}, page="/reset-password").status_code == 200
        deliver()
        link = next(url for url in links_in(mail_outbox[-1]) if "/reset-password/" in url)
        path = link.split("localhost", 1)[1]
        token = path.rsplit("/", 1)[1]
        page = client.get(path)
        assert page.status_code == 200
        assert (
            post(client, path, {"password": "Et nytt og langt passord for Bergen"}, page=path).status_code
            == 303
        )
        client.get("/organisations/?q=Ann+Drammensen&page=2")
        client.get(f"/meetings/calendar/{token}.ics")
    lines = [r for r in caplog.records if r.name == "tracker.access"]
    text = "\n".join(r.getMessage() for r in lines)
    review_token = review.rsplit("/", 1)[1]
    assert token not in text and review_token not in text and email not in text and "Drammensen" not in text
    assert says(text, "GET /reviews/answer/[redacted] 200") and "POST /reviews/answer/[redacted]" in text
    assert says(text, "GET /reset-password/[redacted] 200")
    assert says(text, "GET /organisations/?q=[redacted]&page=2 200")
    assert "/meetings/calendar/[redacted].ics" in text
    assert all(r.request_id and r.path and r.status for r in lines)


def test_redaction_keeps_what_says_what_was_asked_for():
    assert logs.redact_path("/meetings/12/minutes") == "/meetings/12/minutes"
    assert logs.redact_path("/anchoring/eyJtZW1iZXIiOjF9.Z1x2Yw.abcdefghijklmnop") == "/anchoring/[redacted]"
    assert (
        logs.redact_path("/directory/", b"q=anne&network=NIK&page=3")
        == "/directory/?q=[redacted]&network=[redacted]&page=3"
    )


def test_production_logs_are_json_lines_with_the_request_id(app_factory, capfd):
    app = app_factory(LOG_FORMAT="json")
    app.test_client().get("/organisations/", headers={"X-Request-ID": "req-json-000001"})
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "tracker.access"]
    assert access and access[-1]["request_id"] == "req-json-000001" and access[-1]["status"] == 200
    assert {"time", "level", "message", "path", "duration_ms"} <= set(access[-1])


def test_a_server_error_is_logged_with_the_path_redacted(app_factory, caplog, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    # The route's token check reads the token at request time (the view holds its check function
    # from import, so the fault is put into what that function calls).
    monkeypatch.setattr(tokens, "read", broken)
    client = app_factory(PROPAGATE_EXCEPTIONS=False).test_client()
    with caplog.at_level(logging.ERROR):
        assert client.get("/reset-password/eyJtZW1iZXIiOjF9.Z1x2Yw.abcdefghijklmnop").status_code == 500
    assert any(r.getMessage() == "Exception on /reset-password/[redacted] [GET]" for r in caplog.records)
    assert "abcdefghijklmnop" not in caplog.text.split("Traceback")[0]


def test_in_development_every_mail_is_written_to_the_log(app_factory, create_member, municipality, caplog):
    app = app_factory(MAIL_LOG_BODIES=True)
    with app.app_context():
        member = create_member(municipality("4601"))
        email = member.email
    with caplog.at_level(logging.INFO):
        assert (
            post(app.test_client(), "/reset-password", {"email": email}, page="/reset-password").status_code
            == 200
        )
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Mail to ")]
    assert logged and "/reset-password/" in logged[0]


# -- secrets and static files --------------------------------------------------------------------------


def test_a_rotated_key_still_opens_links_and_sessions_signed_with_the_old_one(
    app_factory, create_member, municipality
):
    old = app_factory(SECRET_KEY="den gamle nokkelen")
    with old.app_context():
        member = create_member(municipality("4601"))
        link = tokens.make("reset_password", member=member.id, version=member.auth_version)
        verify = tokens.make(
            "verify_email", member=member.id, address=tokens.fingerprint("verify_email", member.email)
        )
    client = old.test_client()
    sign_in(client, member.email)
    cookie = client.get_cookie("session").value

    rotated = app_factory(SECRET_KEY="den nye nokkelen", SECRET_KEY_FALLBACKS=["den gamle nokkelen"])
    with rotated.app_context():
        assert tokens.read("reset_password", link)["member"] == member.id
        read = tokens.read("verify_email", verify)
        assert tokens.same_fingerprint(
            "verify_email", db.session.get(Member, member.id).email, read["address"]
        )
    carried = rotated.test_client()
    carried.set_cookie("session", cookie)
    assert carried.get("/me/").status_code == 200  # signed in with the session the old key signed

    forgotten = app_factory(SECRET_KEY="den nye nokkelen")  # the old key removed: its links are dead
    with forgotten.app_context(), pytest.raises(tokens.TokenError):
        tokens.read("reset_password", link)
    stale = forgotten.test_client()
    stale.set_cookie("session", cookie)
    assert stale.get("/me/").status_code == 302


def test_only_the_current_fingerprint_of_a_static_file_is_cached_for_a_year(client):
    page = client.get("/").get_data(as_text=True)
    current = re.search(r'href="(/static/css/site\.css\?v=[0-9a-f]{12})"', page).group(1)
    with client.get(current) as response:
        assert response.cache_control.max_age == 365 * 24 * 3600
    for other in ("/static/css/site.css?v=000000000000", "/static/css/site.css", "/static/css/site.css?v=x"):
        with client.get(other) as response:
            assert response.status_code == 200 and response.cache_control.max_age == 0, other


def test_gunicorns_access_log_if_turned_on_is_redacted_too():
    import datetime
    import importlib.util
    from pathlib import Path

    from gunicorn.config import Config
    from gunicorn.glogging import SafeAtoms

    spec = importlib.util.spec_from_file_location(
        "gunicorn_conf", Path(__file__).parent.parent / "gunicorn.conf.py"
    )
    settings = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(settings)
    config = Config()
    config.set("access_log_format", '%(h)s "%(r)s" %(s)s %(U)s %(q)s "%(f)s" %({cookie}i)s %({raw_uri}e)s')
    logger = settings.logger_class(config)
    token = "eyJtZW1iZXIiOjF9.Z1x2Yw.abcdefghijklmnop"

    class Request:
        headers: ClassVar = [
            ("REFERER", f"https://nettverk.example/anchoring/{token}"),
            ("COOKIE", "session=hemmelig"),
        ]

    class Response:
        status, headers, sent = "200 OK", (), 10

    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": f"/anchoring/{token}?q=anne",
        "PATH_INFO": f"/anchoring/{token}",
        "QUERY_STRING": "q=anne",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.1",
        "HTTP_REFERER": f"https://nettverk.example/anchoring/{token}",
    }
    line = config.access_log_format % SafeAtoms(
        logger.atoms(Response(), Request(), environ, datetime.timedelta(seconds=0.1))
    )
    assert token not in line and "anne" not in line and "hemmelig" not in line
    assert says(line, '"POST /anchoring/[redacted]?q=[redacted] HTTP/1.1" 200')
