"""The mail worker and the cron commands keep going and say so: an SMTP server that is away, a
fault nobody foresaw, a database that does not answer – and the heartbeat each writes, which the
metrics and the coordinator's home read.

(The worker through cut database connections, on PostgreSQL: tests/test_outbox_faults.py.)
"""

import logging
import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

from extensions import db
from models import Heartbeat, OutboxMessage, OutboxStatus, heartbeat, outbox
from models.types import utcnow
from tests.conftest import CaptureHandler, free_port
from tests.helpers import ROOT, figure, queue_some, says, worker


def beat_of(name):
    """The heartbeat row as committed now (another process writes it)."""
    db.session.remove()
    row = db.session.execute(
        select(Heartbeat.beat_at, Heartbeat.host, Heartbeat.detail).where(Heartbeat.name == name)
    ).one_or_none()
    db.session.remove()
    return row


def wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    raise AssertionError("waited in vain")


def database_url():
    url = db.engine.url
    return str(url) if url.get_backend_name() == "sqlite" else url.render_as_string(hide_password=False)


def test_the_worker_outlives_an_smtp_outage_and_delivers_everything_afterwards(app):
    queue_some(5, app)
    db.session.remove()
    port = free_port()  # nobody listens there yet: the mail server is down
    process = worker(database_url(), port, "--interval", "0.2")
    controller = None
    try:
        down = wait_for(lambda: (row := beat_of("outbox")) and says(row.detail, "deferred 5") and row)
        assert down.host.endswith(f":{process.pid}")
        time.sleep(1)  # rounds go on while the mail waits its back-off
        assert process.poll() is None, "the worker stopped"
        assert beat_of("outbox").beat_at > down.beat_at
        assert set(db.session.scalars(select(OutboxMessage.status))) == {OutboxStatus.PENDING}

        controller = Controller(CaptureHandler(), hostname="127.0.0.1", port=port)  # the server is back
        controller.start()
        # The back-off's wait passes (30 s after the first try; here at once).
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        db.session.commit()
        wait_for(lambda: len(controller.handler.messages) == 5)
        wait_for(lambda: says(beat_of("outbox").detail, "sent 5") or None)
        assert process.poll() is None, "the worker stopped"
        process.send_signal(signal.SIGTERM)  # systemctl stop: it ends its round and exits, at once
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()
        if controller:
            controller.stop()
    assert sorted(m["To"] for m in controller.handler.messages) == sorted(
        f"mottaker{i}@kommune.example" for i in range(5)
    )
    db.session.remove()
    assert set(db.session.scalars(select(OutboxMessage.status))) == {OutboxStatus.SENT}


def test_a_round_that_fails_unforeseen_is_logged_with_its_traceback_and_the_worker_goes_on(
    app, runner, monkeypatch, caplog, mail_outbox
):
    queue_some(3, app)
    real_deliver, rounds, pauses = outbox.deliver, [], []

    def deliver(**options):
        rounds.append(options)
        if len(rounds) == 1:
            raise RuntimeError("a template that does not render")
        return real_deliver(**options)

    def pause(seconds):
        pauses.append(seconds)
        if len(pauses) == 3:
            raise KeyboardInterrupt  # systemctl stop

    monkeypatch.setattr(outbox, "deliver", deliver)
    monkeypatch.setattr(heartbeat, "pause", pause)
    with caplog.at_level(logging.INFO, logger="tracker"):
        result = runner.invoke(args=["outbox", "send", "--loop", "--interval", "0.5"])
    assert len(rounds) == 3 and len(mail_outbox) == 3  # the round after the fault sent everything
    assert result.exception is None or isinstance(result.exception, SystemExit)  # ended by the stop only
    failure = next(r for r in caplog.records if r.levelno == logging.ERROR and r.name == "tracker.worker")
    assert failure.exc_info and "RuntimeError: a template that does not render" in failure.getMessage()
    assert pauses[0] == 0.5  # after the fault: a pause, then the next round
    assert any(says(r.getMessage(), "sent 3, failed 0, deferred 0") for r in caplog.records)
    beat = db.session.get(Heartbeat, "outbox")
    assert beat.detail == "sent 0, failed 0, deferred 0" and beat.host.endswith(f":{os.getpid()}")


def test_a_failed_round_is_in_the_heartbeat(app, runner, monkeypatch):
    def deliver(**options):
        raise ValueError("something nobody foresaw")

    def pause(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(outbox, "deliver", deliver)
    monkeypatch.setattr(heartbeat, "pause", pause)
    runner.invoke(args=["outbox", "send", "--loop"])
    assert db.session.get(Heartbeat, "outbox").detail == "error: ValueError: something nobody foresaw"


def test_a_deferred_mail_is_logged_by_its_row_id_and_reason_never_its_address(app_factory, caplog):
    down = app_factory(MAIL_PORT=free_port())  # no mail server
    with down.app_context(), caplog.at_level(logging.INFO, logger="tracker.worker"):
        queue_some(3, down)
        ids = sorted(db.session.scalars(select(OutboxMessage.id)))
        assert outbox.deliver(worker="w") == {"sent": 0, "failed": 0, "deferred": 3}
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert f"outbox row {ids[0]} deferred until" in said and "ConnectionRefusedError" in said
    assert f"outbox rows {ids[1]}, {ids[2]} held back with row {ids[0]}" in said
    assert "@" not in said


def test_a_reason_hides_the_address_an_smtp_refusal_quotes():
    import smtplib

    refusal = smtplib.SMTPRecipientsRefused(
        {"kari@bergen.kommune.example": (550, b"5.1.1 <kari@bergen.kommune.example> unknown")}
    )
    assert "@" not in heartbeat.reason(refusal) and heartbeat.reason(refusal).startswith(
        "SMTPRecipientsRefused"
    )


def test_the_one_round_send_writes_the_heartbeat(app, runner, mail_outbox):
    queue_some(2, app)
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0 and figure(result.output, "sent") == 2
    beat = db.session.get(Heartbeat, "outbox")
    assert beat.detail == "sent 2, failed 0, deferred 0"
    assert utcnow() - beat.beat_at < timedelta(minutes=1)


@pytest.mark.parametrize(
    "command, name, detail",
    [
        (["meetings", "remind"], "meetings remind", "reminders: 0"),
        (["anchorings", "remind"], "anchorings remind", "reminders: 0"),
        (["reviews", "tick"], "reviews tick", "reminders: 0, cycles closed: 0, members lapsed: 0"),
        (["advice", "remind"], "advice remind", "reminders: 0"),
        (["privacy", "purge"], "privacy purge", "erased: 0, submission keys: 0, mail texts: 0, sign-ins: 0"),
    ],
)
def test_each_cron_command_writes_its_heartbeat(app, runner, command, name, detail):
    result = runner.invoke(args=command)
    assert result.exit_code == 0, result.output
    beat = db.session.get(Heartbeat, name)
    assert beat.detail == detail and utcnow() - beat.beat_at < timedelta(minutes=1)
    again = runner.invoke(args=command)  # the next run: the same row, a later beat
    assert again.exit_code == 0
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Heartbeat)) == 1
    assert db.session.get(Heartbeat, name).beat_at >= beat.beat_at


def test_a_cron_command_retries_a_database_that_does_not_answer_then_fails_with_one_line():
    """A database nobody answers for (a port nobody listens on): tried again with back-off for
    --retry-for seconds (1 s, then 2 s: three tries in 3 s), then exit status 1 and one line."""
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/tracker",
        "TRACKER_ENV": "production",
        "SECRET_KEY": "k",
        "BASE_URL": "http://localhost",
        "FLASK_APP": "app",
        "PYTHONPATH": str(ROOT),
        "LOG_FORMAT": "text",
    }
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "flask", "meetings", "remind", "--retry-for", "3"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert time.monotonic() - started >= 3
    assert "Meeting reminders written" not in run.stdout
    last = run.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        r"Error: meetings remind: gave up after 3 attempts in 3 s: the database is unavailable "
        r"\(OperationalError: .*refused.*\)",
        last,
    ), last
    tries = re.findall(r"meetings remind: attempt (\d) failed", run.stderr)
    assert tries == ["1", "2", "3"], run.stderr


# -- the deployment files ---------------------------------------------------------------------------


def test_the_example_environment_file_names_every_variable_the_app_reads():
    import config

    read = set()

    class Recording(dict):
        def get(self, key, default=None):
            read.add(key)
            return default

        def __getitem__(self, key):
            read.add(key)
            raise KeyError(key)

        def __contains__(self, key):
            read.add(key)
            return False

    config.from_environment(Recording())
    example = (ROOT / "deploy" / "env.example").read_text()
    named = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", example, flags=re.M))
    assert read and read <= named, read - named


def test_each_timer_runs_a_command_the_app_has_and_each_service_restarts_always(app):
    units = ROOT / "deploy" / "systemd"
    for service in ("tracker-web.service", "tracker-outbox.service"):
        assert "\nRestart=always\n" in (units / service).read_text()
    assert says((units / "tracker-outbox.service").read_text(), "\nRestartSec=5\n")
    timers = sorted(units.glob("*.timer"))
    assert len(timers) == 5
    for timer in timers:
        assert "\nPersistent=true\n" in timer.read_text() and "\nOnCalendar=" in timer.read_text()
        service = (units / timer.name.replace(".timer", ".service")).read_text()
        command = re.search(r"^ExecStart=\S+/flask --app app (.+)$", service, flags=re.M).group(1).split()
        group = app.cli.get_command(None, command[0])
        assert group is not None and group.get_command(None, command[1]) is not None, command
        assert "--retry-for" in [p.opts[0] for p in group.get_command(None, command[1]).params if p.opts]
