"""How long the operations that reach every member take for N active members, on SQLite and PostgreSQL.

    .venv/bin/python bench/bulk_operations.py [--members 10000] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

Each run builds a fresh database (migrations applied, reference data loaded), inserts N active
NIK members spread over the municipalities, then times, in this order: sending a newsletter
(one personal mail each, written to the outbox), posting a request for advice (one mail each),
opening the yearly review (the responses and one composed mail each), an emergency call-in to
every member, and closing the review (every non-responder lapsed and audited), and prints the figures
with the number of SQL statements each took; then delivers mail from the outbox to a local SMTP
server (aiosmtpd, in this process) and reports the rate.
"""

import argparse
import multiprocessing
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, event, func, insert, make_url, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app
from extensions import db


def fill(members):
    from models import Member, Membership, Network, Organisation

    nik = db.session.scalar(select(Network).filter_by(code="NIK"))
    places = db.session.scalars(select(Organisation.id).where(Organisation.kind == "municipality")).all()
    now = datetime.now(UTC)
    db.session.execute(
        insert(Member),
        [
            {
                "name": f"Deltaker {i}",
                "name_folded": f"deltaker {i}",
                "email": f"deltaker{i}@kommune.example",
                "organisation_id": places[i % len(places)],
                "manager_name": f"Leder {i}",
                "manager_email": f"leder{i}@kommune.example",
                "created_at": now,
                "email_verified_at": now,
                "auth_version": 0,
            }
            for i in range(members)
        ],
    )
    rows = db.session.execute(select(Member.id, Member.organisation_id)).all()
    db.session.execute(
        insert(Membership),
        [
            {
                "member_id": m,
                "organisation_id": o,
                "network_id": nik.id,
                "_status": "active",
                "is_main_contact": False,
                "created_at": now,
                "status_changed_at": now,
                "activated_at": now,
            }
            for m, o in rows
        ],
    )
    db.session.commit()
    return nik


DELIVERED = 2_000  # mails sent to the local SMTP server to measure the outbox's rate


def _worker(config, quota, times):
    """A worker process of its own, as ``flask outbox send --loop`` is: deliver until ``quota`` mails
    are out; puts (start, end) on ``times``, from its first claim, once it is built and connected."""
    app = create_app(dict(config))
    with app.app_context():
        from models import outbox

        start, sent = time.time(), 0
        while sent < quota:
            done = outbox.deliver(worker="bench", limit=100)
            if not done["sent"]:
                break
            sent += done["sent"]
        times.put((start, time.time()))


def deliver_rate(config, workers):
    """Mails a second from the outbox to the local SMTP server, with ``workers`` long-running processes
    side by side: from the first worker's first claim to the last worker's last mail (a worker's
    start-up is paid once, not per mail, so it is left out)."""
    context = multiprocessing.get_context("spawn")
    config = {
        k: v
        for k, v in config.items()
        if k
        in (
            "SQLALCHEMY_DATABASE_URI",
            "SECRET_KEY",
            "BASE_URL",
            "TRACKER_ENV",
            "MAIL_SUPPRESS_SEND",
            "MAIL_SERVER",
            "MAIL_PORT",
            "MAIL_USE_TLS",
            "MAIL_USE_SSL",
        )
    }
    from models import OutboxMessage

    before = db.session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")
    )
    times = context.Queue()
    processes = [
        context.Process(target=_worker, args=(config, DELIVERED // workers, times)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    spans = [times.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    elapsed = max(end for _start, end in spans) - min(start for start, _end in spans)
    db.session.expire_all()
    after = db.session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")
    )
    return (after - before) / elapsed


def measure(url, members, smtp_port):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "BASE_URL": "http://localhost",
            "TRACKER_ENV": "production",
            "MAIL_SUPPRESS_SEND": False,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": smtp_port,
            "MAIL_USE_TLS": False,
            "MAIL_USE_SSL": False,
        }
    )
    with app.app_context():
        from flask_migrate import upgrade

        from models import Member, advice, reference
        from models import meeting as meetings
        from models import newsletter as newsletters
        from models import review as reviews

        upgrade()
        reference.load()
        db.session.commit()
        nik = fill(members)
        coordinator = db.session.scalar(select(Member).order_by(Member.id))
        statements = []
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(1))
        figures = {}

        def timed(name, work):
            statements.clear()
            start = time.perf_counter()
            result = work()
            db.session.commit()
            figures[name] = (time.perf_counter() - start, len(statements))
            return result

        now = datetime.now(UTC)
        issue = newsletters.create("Nyhetsbrev", "## Nytt\n\nEt **kurs**.", [nik], by=coordinator)
        db.session.commit()
        figures["reached"] = timed("newsletter", lambda: newsletters.send(issue, coordinator))
        timed(
            "advice",
            lambda: advice.post(
                "Veileder",
                "Les utkastet",
                None,
                [nik],
                now + timedelta(days=14),
                now + timedelta(days=10),
                by=coordinator,
            ),
        )
        cycle = timed(
            "open",
            lambda: reviews.open_cycle(nik, now.year, now + timedelta(days=21), now + timedelta(days=14)),
        )
        # Planning an emergency meeting calls everyone in: the step is timed with the plan.
        figures["called"] = timed(
            "call_in",
            lambda: (
                meetings.plan(
                    [nik],
                    kind="emergency",
                    title="Hendelse",
                    format="digital",
                    starts_at=now + timedelta(hours=2),
                    ends_at=now + timedelta(hours=3),
                ).called
            ),
        )
        figures["lapsed"] = timed("close", lambda: reviews.close(cycle, now=now + timedelta(days=22)))
        for workers in (1, 2):
            figures[f"delivery_{workers}"] = deliver_rate(app.config, workers)
        db.session.remove()
        db.engine.dispose()
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a server URL; the run creates and drops its own database ('' to skip)",
    )
    args = parser.parse_args()
    targets = [("SQLite", f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite", None)]
    if args.postgres:
        server = make_url(args.postgres)
        name = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(server.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        targets.append(
            (
                "PostgreSQL",
                server.set(drivername="postgresql+psycopg", database=name).render_as_string(
                    hide_password=False
                ),
                (admin, name),
            )
        )
    steps = ("newsletter", "advice", "open", "close", "call_in")
    print(f"{args.members} active members; each cell: seconds (SQL statements)")
    print(
        "| database | newsletter sent | request for advice posted | review opened | review closed (lapsed) "
        "| emergency call-in | outbox to local SMTP |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    with socket.socket() as probe:  # a free port for the SMTP server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The SMTP server in a process of its own, as a real one would be (not competing for this one's GIL).
    smtp = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"]
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    try:
        for label, url, _cleanup in targets:
            figures = measure(url, args.members, port)
            cells = [f"{figures[s][0]:.2f} ({figures[s][1]})" for s in steps]
            cells[0] += f", {figures['reached']} mails"
            cells[3] += f", {figures['lapsed']} lapsed"
            cells[4] += f", {figures['called']} mails"
            cells.append(
                f"{figures['delivery_1']:.0f} mails/s (1 worker), {figures['delivery_2']:.0f} (2 workers)"
            )
            print(f"| {label} | " + " | ".join(cells) + " |")
    finally:
        smtp.terminate()
        smtp.wait()
        for _label, _url, cleanup in targets:
            if cleanup:
                admin, name = cleanup
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
