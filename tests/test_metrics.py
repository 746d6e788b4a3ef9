"""``/metrics``: off without a token, closed to a wrong one, and what an operator alerts on – the
mail waiting and for how long, failed mail, a worker that stopped beating – without an address,
a token or a path in it."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from extensions import db
from models import OutboxMessage, OutboxStatus, heartbeat
from models.types import utcnow
from tests.helpers import queue_some

TOKEN = "s3cret-metrics-token-for-the-scraper"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def metrics_app(app_factory):
    app = app_factory(METRICS_TOKEN=TOKEN)
    with app.app_context():
        yield app
        db.session.remove()


def scrape(app, token=TOKEN):
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.status_code
    assert "Set-Cookie" not in response.headers
    return response.get_data(as_text=True)


def samples(text):
    """{(name, frozenset(labels)): value} of a scrape."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text, metric, **labels):
    return samples(text).get((metric, frozenset(labels.items())))


def test_metrics_are_off_without_a_token(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 404


def test_a_missing_or_wrong_token_is_refused(metrics_app):
    client = metrics_app.test_client()
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "tracker_" not in response.get_data(as_text=True)
        assert "Set-Cookie" not in response.headers


def test_the_scrape_is_not_rate_limited(app_factory):
    from extensions import limiter

    app = app_factory(METRICS_TOKEN=TOKEN, RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="2 per minute")
    try:
        with app.app_context():
            for _ in range(5):
                scrape(app)
        # The default limit is in force: another page is refused at the third request.
        assert [app.test_client().get("/privacy").status_code for _ in range(3)] == [200, 200, 429]
    finally:
        # Flask-Limiter keeps default limits for the process once set: no later test's app inherits them.
        limiter.limit_manager.set_default_limits([])


def test_the_gauges_show_waiting_and_failed_mail_and_a_stale_heartbeat(metrics_app):
    now = utcnow()
    queue_some(3, metrics_app)
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.recipient == "mottaker0@kommune.example")
        .values(created_at=now - timedelta(minutes=20))
    )
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.recipient == "mottaker1@kommune.example")
        .values(status=OutboxStatus.FAILED)
    )
    db.session.commit()
    heartbeat.beat("outbox", "sent 0, failed 0, deferred 0", now=now - timedelta(minutes=15))
    heartbeat.beat("meetings remind", "reminders: 2", now=now - timedelta(hours=1))
    text = scrape(metrics_app)

    assert value(text, "tracker_database_up") == 1
    assert value(text, "tracker_outbox_pending", channel="mail") == 2
    assert value(text, "tracker_outbox_pending", channel="webhook") == 0
    assert 20 * 60 <= value(text, "tracker_outbox_oldest_pending_age_seconds", channel="mail") < 21 * 60
    assert value(text, "tracker_outbox_oldest_pending_age_seconds", channel="webhook") == 0
    assert value(text, "tracker_outbox_failed", channel="mail") == 1
    assert 15 * 60 <= value(text, "tracker_heartbeat_age_seconds", name="outbox") < 16 * 60
    assert 3600 <= value(text, "tracker_heartbeat_age_seconds", name="meetings remind") < 3660
    assert value(text, "tracker_review_cycles_open") == 0
    # No address, token or path in it: the labels are endpoints, methods, channels and names.
    assert "@" not in text and TOKEN not in text and "/metrics" not in text


def test_the_gauges_when_nothing_waits_and_nothing_has_beaten(metrics_app):
    text = scrape(metrics_app)
    assert value(text, "tracker_outbox_pending", channel="mail") == 0
    assert value(text, "tracker_outbox_oldest_pending_age_seconds", channel="mail") == 0
    assert not any(name == "tracker_heartbeat_age_seconds" for name, _ in samples(text))


def test_the_gauges_follow_the_mail_out(metrics_app, deliver, mail_outbox):
    queue_some(2, metrics_app)
    assert value(scrape(metrics_app), "tracker_outbox_pending", channel="mail") == 2
    deliver()
    assert value(scrape(metrics_app), "tracker_outbox_pending", channel="mail") == 0
    assert len(mail_outbox) == 2


def test_requests_are_counted_by_endpoint_method_and_status_class_never_by_path(
    metrics_app, create_member, municipality
):
    member = create_member(municipality("4601"))
    client = metrics_app.test_client()

    def counted(text, endpoint, status, method="GET"):
        return (
            value(text, "tracker_http_requests_total", endpoint=endpoint, method=method, status=status) or 0
        )

    before = scrape(metrics_app)
    for _ in range(3):
        assert client.get("/privacy").status_code == 200
    assert client.get("/reset-password/not-a-valid-token-but-long-enough").status_code == 400
    assert client.get(f"/no-such-page/{member.email}").status_code == 404
    after = scrape(metrics_app)
    assert counted(after, "public.privacy", "2xx") - counted(before, "public.privacy", "2xx") == 3
    assert counted(after, "auth.reset_password", "4xx") - counted(before, "auth.reset_password", "4xx") == 1
    assert counted(after, "unmatched", "4xx") - counted(before, "unmatched", "4xx") == 1
    timed = value(
        after, "tracker_http_request_duration_seconds_count", endpoint="public.privacy", method="GET"
    )
    assert timed >= 3
    assert "not-a-valid-token" not in after and member.email not in after and "@" not in after


def test_multiprocess_mode_adds_up_the_counts_of_every_process(tmp_path, database):
    """Under gunicorn (``PROMETHEUS_MULTIPROC_DIR``): two processes each answer a request; a scrape
    in a third counts both (the counts live in the shared directory)."""
    script = """
import sys
from app import create_app
app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": sys.argv[1],
                  "METRICS_TOKEN": "t", "BASE_URL": "http://localhost"})
client = app.test_client()
if sys.argv[2] == "serve":
    assert client.get("/privacy").status_code == 200
else:
    print(client.get("/metrics", headers={"Authorization": "Bearer t"}).get_data(as_text=True))
with app.app_context():
    from extensions import db
    db.engine.dispose()
"""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-c", script, database, "serve"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=60,
        )
    text = subprocess.run(
        [sys.executable, "-c", script, database, "scrape"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert (
        value(text, "tracker_http_requests_total", endpoint="public.privacy", method="GET", status="2xx") == 2
    )
    assert value(text, "tracker_database_up") == 1
