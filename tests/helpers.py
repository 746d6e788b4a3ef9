"""Helpers more than one test module uses: plain functions and classes (fixtures live in
conftest.py).  A test module imports from here or from conftest, never from another test module."""

import http.cookiejar
import os
import re
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy import make_url, select, text, update

from app import create_app
from extensions import db
from models import AuditEntry, Membership, Organisation, outbox
from models import review as reviews
from models.types import utcnow
from tests.conftest import PASSWORD, app_config, at_once, links_in, post, sign_in

# -- registration ----------------------------------------------------------------------------------

HTMX = {"HX-Request": "true"}


def registration_data(org, **changes):
    data = {
        "name": "Kari Nordmann",
        "email": "Kari.Nordmann@bergen.kommune.example",
        "phone": "+47 55 00 00 00",
        "job_title": "Helsesykepleier",
        "unit": "Helsestasjon for ungdom",
        "organisation": str(org.id),
        "networks": ["NIK"],
        "manager_name": "Per Leder",
        "manager_email": "per.leder@bergen.kommune.example",
        "leadership_informed": "y",
        "password": PASSWORD,
        "consent": "y",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def register(client, org, **changes):
    return post(client, "/register/", registration_data(org, **changes), page="/register/")


def path_of(url):
    return re.sub(r"^https?://[^/]+", "", url)


# -- organisations and main contacts ---------------------------------------------------------------


def page_of(org):
    return f"/municipality/{org.id}"


def nik(member):
    return next(m for m in member.memberships if m.network.code == "NIK")


class Browser:
    """A minimal cookie-keeping HTTP client, for many real users at once."""

    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path):
        with self.opener.open(self.base + path) as response:
            return response.read().decode()

    def post(self, path, data, page):
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', self.get(page)).group(1)
        body = urllib.parse.urlencode({**data, "csrf_token": token}, doseq=True).encode()
        with self.opener.open(self.base + path, body) as response:  # follows the 303
            return response.status, response.read().decode()


# -- meetings and requests sent at once ------------------------------------------------------------


def form(kind="professional_meeting", networks=("NIK",), date=None, **changes):
    """The new-meeting form; by default on 10 March of the coming year (a start in the past is refused)."""
    data = {
        "kind": kind,
        "networks": list(networks),
        "title": "Fagmøte om tolking",
        "date": date or f"{datetime.now(UTC).year + 1}-03-10",
        "start": "10:00",
        "end": "12:00",
        "format": "digital",
        "online_link": "https://teams.example/m/1",
    }
    data.update(changes)
    return data


def tabs(app, email, n=2):
    """``n`` browser tabs of one person: separate clients, each signed in."""
    clients = [app.test_client() for _ in range(n)]
    for client in clients:
        sign_in(client, email)
    return clients


def audited(action):
    db.session.expire_all()
    return db.session.scalar(
        select(db.func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
    )


def answered(responses):
    statuses = [r.status_code for r in responses]
    assert all(status < 500 for status in statuses), statuses
    return statuses


# -- reviews ---------------------------------------------------------------------------------------


def fresh_cycle(network, opened=None):
    """A cycle opened an hour ago (reminder in 14 days, deadline in 21), committed: (cycle, opened)."""
    opened = opened or datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    cycle = reviews.open_cycle(
        network, opened.year, opened + timedelta(days=21), opened + timedelta(days=14), now=opened
    )
    db.session.commit()
    return cycle, opened


def answer_form(decision="stay", **changes):
    data = {
        "decision": decision,
        "unit": "Helsestasjonen",
        "manager_name": "Lise Leder",
        "manager_email": "lise.leder@bergen.kommune.example",
        "score_competence": "4",
        "score_equity": "5",
        "score_public_health": "3",
        "score_emergency": "2",
        "comment_competence": "Gode fagmøter",
        "change_wish": "Flere felles møter",
    }
    data.update(changes)
    return data


def review_link(message):
    return next(link for link in links_in(message) if "/reviews/answer/" in link).replace(
        "http://localhost", ""
    )


def run_commands_at_once(monkeypatch, apps, args):
    """``flask <args>`` in each of ``apps`` at the same moment (two cron hosts); each one's output.

    Click's test runner swaps the process's stdout, which two threads cannot share: the
    command runs as ``flask`` runs it, and each thread's ``click.echo`` is kept apart."""

    said = {}
    monkeypatch.setattr(
        click,
        "echo",
        lambda message=None, **_: said.setdefault(threading.get_ident(), []).append(str(message)),
    )

    def run(wait, cron):
        command = cron.cli
        with cron.app_context():
            wait()
            try:
                command.main(args=args, prog_name="flask", standalone_mode=False)
            finally:
                db.session.remove()
        return "\n".join(said.get(threading.get_ident(), []))

    return at_once(run, [(cron,) for cron in apps])


# -- privacy ---------------------------------------------------------------------------------------


def ended_ago(member, days):
    """Move the member's memberships' last change ``days`` days back."""
    db.session.execute(
        update(Membership)
        .where(Membership.member_id == member.id)
        .values(status_changed_at=utcnow() - timedelta(days=days))
    )
    db.session.commit()


# -- the outbox and its worker ---------------------------------------------------------------------


def queue_some(n, app):
    for i in range(n):
        outbox.queue(
            f"mottaker{i}@kommune.example",
            f"Melding {i}",
            "coordinator_appointed",
            member=type("M", (), {"name": f"Mottaker {i}"})(),
            networks=[type("N", (), {"code": "NIK", "name": "Norsk nettverk"})()],
            url="http://localhost/",
        )
    db.session.commit()


ROOT = Path(__file__).resolve().parent.parent


def drop_connections(admin, pid=None):
    """What a database restart does to the app: its connections are cut (all of them, or one)."""
    with admin.connect() as connection:
        return connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                + (f" AND pid = {int(pid)}" if pid else "")
            )
        ).scalar()


def flask_command(*args):
    """``python -m flask *args`` for a process of its own, on the tests' clock: time-machine moves
    this process only, so under ``pytest --clock`` (conftest sets TESTS_CLOCK) the command starts by
    travelling to this process's moment too – else a worker would find the mail queued "in 2030"
    not yet due."""
    if not os.environ.get("TESTS_CLOCK"):
        return [sys.executable, "-m", "flask", *args]
    start = (
        "import sys, time_machine; from datetime import datetime; "
        f"time_machine.travel(datetime.fromisoformat({datetime.now(UTC).isoformat()!r}), tick=True).start(); "
        "from flask.cli import main; sys.argv[0] = 'flask'; main()"
    )
    return [sys.executable, "-c", start, *args]


def worker(database_url, port, *options):
    """``flask outbox send --loop`` as production runs it: a process of its own."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TRACKER_ENV": "production",
        "SECRET_KEY": "w",
        "BASE_URL": "http://localhost",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(port),
        "FLASK_APP": "app",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        flask_command("outbox", "send", "--loop", *options),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


# -- runbooks and moving data ----------------------------------------------------------------------

RUNBOOKS = (ROOT / "docs" / "operations.md").read_text()


def runbook(line, **env):
    """Run a line of docs/operations.md word for word, from the app's folder, in a production
    environment with ``env`` (DATABASE_URL, BACKUP, …) set."""
    assert line in RUNBOOKS, f"not in docs/operations.md: {line}"
    env = {
        **os.environ,
        "TRACKER_ENV": "production",
        "SECRET_KEY": "runbook-test",
        "BASE_URL": "https://nettverk.example",
        **env,
    }
    done = subprocess.run(line, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def libpq(url):
    """A URL as an operator writes DATABASE_URL (and as pg_dump reads it)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def seeded_app(url, smtpd):
    """A migrated database with the demo (small), mails with calendar files and headers (and
    without), audit entries' JSON, and an organisation whose parent has a larger id (written
    after it: the import must fill that reference in later)."""
    from flask_migrate import upgrade

    from models import audit, demo, reference
    from models.outbox import OutboxMessage

    app = create_app(app_config(url, smtpd))
    with app.app_context():
        upgrade()
        reference.load()
        with audit.acting_as(label="test seed"):
            demo.seed(members=8, years=1)
        now = datetime.now(UTC).replace(microsecond=123456)
        db.session.add_all(
            [
                OutboxMessage(
                    recipient="a@example.org",
                    subject="Møte",
                    body_text="Hei",
                    template="t",
                    ics=b"BEGIN:VCALENDAR\r\n\x00\xff\xfe END:VCALENDAR\r\n",
                    headers={"List-Unsubscribe": "<https://x.example/u/æøå>", "n": [1, None, True]},
                    next_attempt_at=now + timedelta(hours=1),
                    sent_at=now,
                ),
                OutboxMessage(
                    recipient="b@example.org",
                    subject="Uten",
                    body_text="Hei",
                    template="t",
                    ics=None,
                    headers=None,
                ),
            ]
        )
        first = db.session.scalar(select(Organisation.id).order_by(Organisation.id))
        last = db.session.scalar(select(Organisation.id).order_by(Organisation.id.desc()))
        db.session.execute(update(Organisation).where(Organisation.id == first).values(parent_id=last))
        db.session.commit()
    return app


def all_rows(app):
    """Every column of every row of every table, ordered by primary key, as Python values."""
    with app.app_context(), db.engine.connect() as connection:
        return {
            table.name: [
                tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in db.metadata.sorted_tables
        }


def close(*apps):
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# -- the browser -----------------------------------------------------------------------------------


FOCUSED = """() => {
  const e = document.activeElement;
  const label = (e.labels && e.labels.length) ? e.labels[0].innerText : (e.getAttribute("aria-label") || e.innerText || e.value || "");
  const style = getComputedStyle(e);
  return {name: label.trim(), visible: style.outlineStyle !== "none" && style.outlineWidth !== "0px"};
}"""


def settled(page):
    """Wait until htmx has swapped and settled what it fetched (as a person would see it)."""
    busy = "() => !!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    for _ in range(100):  # polled from here: wait_for_function would evaluate a string, which the CSP refuses
        if not page.evaluate(busy):
            return
        page.wait_for_timeout(50)
    raise AssertionError("htmx did not settle")


def tab_to(page, name, limit=6):
    """Press Tab until the control whose label starts with ``name`` has the focus, within ``limit``
    presses: the next field of a form must come next in the focus order, not after a detour."""
    passed = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        passed.append(focused["name"])
        if focused["name"].startswith(name):
            assert focused["visible"], f"no visible focus on {name!r}"
            return passed
    raise AssertionError(f"Tab never reached {name!r}; passed {passed}")


def sign_in_as(page, email):
    """Sign in through the real form in the browser; the home page follows."""
    from playwright.sync_api import expect

    page.goto("/sign-in")
    with_password = page.get_by_role("form", name="Med passord")  # beside the sign-in link's form
    with_password.get_by_label("E-postadresse").fill(email)
    with_password.get_by_label("Passord").fill(PASSWORD)
    with_password.get_by_role("button", name="Logg inn").click()
    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))  # the home


# -- reading what a page or a command says -------------------------------------------------------------


def figure(text, label):
    """The number after ``label`` and its colon in ``text`` (``"sent: 3"``, ``"… older than a day): 1"``),
    as an int: a count is compared, not found as a substring (``"3"`` is in ``"365"``)."""
    match = re.search(re.escape(label) + r"[^:\n]*:\s*(\d+)", text)
    assert match, f"no figure for {label!r} in {text!r}"
    return int(match.group(1))


def says(text, phrase):
    """``phrase`` is in ``text`` with the numbers at its ends standing alone: "1 av 2" is not found
    in "11 av 2" or "1 av 20", as a substring test would find it."""
    return re.search(r"(?<!\d)(?<!\d[,.])" + re.escape(phrase) + r"(?!\d|[,.]\d)", text) is not None
