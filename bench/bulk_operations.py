"""How long the operations that reach every member take for N active members, on SQLite and PostgreSQL.

    .venv/bin/python bench/bulk_operations.py [--members 10000] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

Each run builds a fresh database (migrations applied, reference data loaded), inserts N active
NIK members spread over the municipalities, then times, in this order: sending a newsletter
(one personal mail each, written to the outbox), posting a request for advice (one mail each),
opening the yearly review (the responses and one composed mail each) and closing it (every
non-responder lapsed and audited), and prints the figures with the number of SQL statements each took.
"""

import argparse
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, event, insert, make_url, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from extensions import db  # noqa: E402


def fill(members):
    from models import Member, Membership, Network, Organisation

    nik = db.session.scalar(select(Network).filter_by(code="NIK"))
    places = db.session.scalars(select(Organisation.id).where(Organisation.kind == "municipality")).all()
    now = datetime.now(UTC)
    db.session.execute(insert(Member), [
        {"name": f"Deltaker {i}", "name_folded": f"deltaker {i}", "email": f"deltaker{i}@kommune.example",
         "organisation_id": places[i % len(places)],
         "manager_name": f"Leder {i}", "manager_email": f"leder{i}@kommune.example", "created_at": now,
         "email_verified_at": now, "auth_version": 0}
        for i in range(members)
    ])
    rows = db.session.execute(select(Member.id, Member.organisation_id)).all()
    db.session.execute(insert(Membership), [
        {"member_id": m, "organisation_id": o, "network_id": nik.id, "_status": "active", "is_main_contact": False,
         "created_at": now, "status_changed_at": now, "activated_at": now}
        for m, o in rows
    ])
    db.session.commit()
    return nik


def measure(url, members):
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "BASE_URL": "http://localhost",
                      "TRACKER_ENV": "production", "MAIL_SUPPRESS_SEND": True})
    with app.app_context():
        from flask_migrate import upgrade

        from models import Member, advice, reference
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
        timed("advice", lambda: advice.post("Veileder", "Les utkastet", None, [nik], now + timedelta(days=14),
                                            now + timedelta(days=10), by=coordinator))
        cycle = timed("open", lambda: reviews.open_cycle(nik, now.year, now + timedelta(days=21),
                                                          now + timedelta(days=14)))
        figures["lapsed"] = timed("close", lambda: reviews.close(cycle, now=now + timedelta(days=22)))
        db.session.remove()
        db.engine.dispose()
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a server URL; the run creates and drops its own database ('' to skip)")
    args = parser.parse_args()
    targets = [("SQLite", f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite", None)]
    if args.postgres:
        server = make_url(args.postgres)
        name = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(server.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        targets.append(("PostgreSQL", server.set(drivername="postgresql+psycopg", database=name)
                        .render_as_string(hide_password=False), (admin, name)))
    steps = ("newsletter", "advice", "open", "close")
    print(f"{args.members} active members; each cell: seconds (SQL statements)")
    print("| database | newsletter sent | request for advice posted | review opened | review closed (lapsed) |")
    print("|---|---:|---:|---:|---:|")
    try:
        for label, url, _cleanup in targets:
            figures = measure(url, args.members)
            cells = [f"{figures[s][0]:.2f} ({figures[s][1]})" for s in steps]
            cells[0] += f", {figures['reached']} mails"
            cells[3] += f", {figures['lapsed']} lapsed"
            print(f"| {label} | " + " | ".join(cells) + " |")
    finally:
        for _label, _url, cleanup in targets:
            if cleanup:
                admin, name = cleanup
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
