"""A bounded soak: many signed-in members reading and writing at once for several minutes.

    .venv/bin/python bench/soak.py [--minutes 4] [--connections 32] [--members 2000] [--users 64]
                                   [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

On a fresh PostgreSQL database seeded with ``flask demo seed``, the app runs under gunicorn with
``gunicorn.conf.py`` and production settings; ``--users`` demo members sign in through the real
form.  ``--connections`` client threads (each with its own members, on keep-alive connections to
127.0.0.1) then mix, until the time is up: reading pages (the home, the directory searched, a
meeting, My page, the newsletter archive), signing up for and withdrawing from a meeting, and
sending input to the newsletter.  Afterwards it checks that every answer was the expected one
(zero errors), that no write was lost (the sign-ups and input in the database are exactly those
the clients were told were saved), and how the workers' memory moved (sampled every 5 s).  The
figures are printed and written to the "Soak" section of ``bench/results.md``.
"""

import argparse
import http.client
import random
import re
import sys
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import machine, prepare, serve  # noqa: E402

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Session:
    """One signed-in member on one keep-alive connection."""

    def __init__(self, port, email, password):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies = {}
        self.email = email
        page = self.request("GET", "/sign-in")[1]
        status, _body = self.request(
            "POST",
            "/sign-in",
            {"email": email, "password": password, "csrf_token": TOKEN.search(page).group(1)},
        )
        if status != 303:
            raise RuntimeError(f"{email} could not sign in: {status}")
        self.token = TOKEN.search(self.request("GET", "/newsletter/input")[1]).group(1)

    reconnects = 0

    def request(self, method, path, form=None):
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # The server closed this idle keep-alive connection (gunicorn's keepalive: 2 s) before the
            # request reached it; as a browser does, open a new one and send it there.
            self.connection.close()
            self.reconnects += 1
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        data = response.read().decode()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";")[0]
        return response.status, data


def client(sessions, meeting_id, until, tally, lock, seed):
    """One client thread: its own members, one action after another until ``until``."""
    rng = random.Random(seed)
    signed_up = {s.email: False for s in sessions}
    reads = ["/", "/directory/?q={q}", f"/meetings/{meeting_id}", "/me/", "/newsletter/"]
    counts = {"requests": 0, "errors": 0, "reads": 0, "signups": 0, "withdrawals": 0, "inputs": 0}
    errors = []
    while time.monotonic() < until:
        session = rng.choice(sessions)
        roll = rng.random()
        try:
            if roll < 0.7:
                path = rng.choice(reads).format(q=rng.choice("aeinorst") + rng.choice("aeinorst"))
                status, _ = session.request("GET", path)
                ok, kind = status == 200, "reads"
            elif roll < 0.85:
                action = "withdraw" if signed_up[session.email] else "signup"
                status, _ = session.request(
                    "POST", f"/meetings/{meeting_id}/{action}", {"csrf_token": session.token}
                )
                ok, kind = status == 303, "withdrawals" if action == "withdraw" else "signups"
                if ok:
                    signed_up[session.email] = action == "signup"
            else:
                status, _ = session.request(
                    "POST",
                    "/newsletter/input",
                    {
                        "csrf_token": session.token,
                        "network": "NIK",
                        "title": f"soak {seed} {counts['inputs']}",
                        "body": "Et kurs om tolking i helsetjenesten, åpent for alle.",
                    },
                )
                ok, kind = status == 303, "inputs"
        except (OSError, http.client.HTTPException) as error:
            ok, kind, status = False, "reads", repr(error)
            session.connection.close()
        counts["requests"] += 1
        if ok:
            counts[kind] += 1
        else:
            counts["errors"] += 1
            errors.append(status)
    counts["reconnects"] = sum(s.reconnects for s in sessions)
    with lock:
        for key, value in counts.items():
            tally[key] = tally.get(key, 0) + value
        tally.setdefault("error_samples", []).extend(errors[:3])
        tally.setdefault("signed_up", set()).update(email for email, on in signed_up.items() if on)


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return total


def workers_of(master):
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    import uuid

    from sqlalchemy import create_engine, func, make_url, select, text

    server = make_url(args.postgres).set(drivername="postgresql+psycopg")
    name = f"soak_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        print(f"== seeding {args.members} members", flush=True)
        prepare(url, args.members)
        from app import create_app
        from extensions import db
        from models import Member, Membership, Network, NewsInput, Signup, demo
        from models import meeting as meetings

        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "soak", "BASE_URL": "http://127.0.0.1"}
        )
        with app.app_context():
            nik = db.session.scalar(select(Network).filter_by(code="NIK"))
            start = datetime.now(UTC) + timedelta(days=30)
            meeting = meetings.plan(
                [nik],
                kind="emergency",
                title="Soak",
                format="digital",
                starts_at=start,
                ends_at=start + timedelta(hours=1),
            )
            db.session.commit()
            meeting_id = meeting.id
            emails = db.session.scalars(
                select(Member.email)
                .join(Membership, Membership.member_id == Member.id)
                .where(Membership.network_id == nik.id, Membership.status == "active")
                .order_by(Member.id)
                .limit(args.users)
            ).all()
            db.engine.dispose()

        # The sign-in limit (per address and account) is for people, not for this many sign-ins at once.
        process, base = serve("app:create_app({'RATELIMIT_ENABLED': False})", url)
        port = int(base.rsplit(":", 1)[1])
        try:
            print(f"== signing in {len(emails)} members", flush=True)
            sessions = [Session(port, email, demo.DEMO_PASSWORD) for email in emails]
            groups = [sessions[i :: args.connections] for i in range(args.connections)]
            groups = [g for g in groups if g]
            tally, lock = {}, threading.Lock()
            until = time.monotonic() + args.minutes * 60
            threads = [
                threading.Thread(target=client, args=(g, meeting_id, until, tally, lock, i), daemon=True)
                for i, g in enumerate(groups)
            ]
            memory = []
            began = time.monotonic()
            for thread in threads:
                thread.start()
            print(f"== {len(threads)} connections for {args.minutes} minutes", flush=True)
            while any(t.is_alive() for t in threads):
                memory.append((time.monotonic() - began, rss_kib(workers_of(process.pid))))
                time.sleep(5)
            elapsed = time.monotonic() - began
        finally:
            process.terminate()
            process.wait()

        with app.app_context():
            signups = set(
                db.session.scalars(
                    select(Member.email)
                    .join(Signup, Signup.member_id == Member.id)
                    .where(Signup.meeting_id == meeting_id)
                )
            )
            inputs = db.session.scalar(
                select(func.count()).select_from(NewsInput).where(NewsInput.title.like("soak %"))
            )
            db.engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    lost_signups = signups ^ tally.get("signed_up", set())
    lost_inputs = tally["inputs"] - inputs
    half = [kib for t, kib in memory if t >= elapsed / 2]
    first = [kib for t, kib in memory if t < elapsed / 2]
    growth = (max(half) - max(first)) / max(first) * 100 if first and half else 0.0
    lines = [
        "## Soak",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `.venv/bin/python bench/soak.py --minutes "
        f"{args.minutes:g} --connections {args.connections} --members {args.members} --users {args.users}` "
        f"on {machine()}; PostgreSQL, gunicorn with `gunicorn.conf.py`, production settings, 127.0.0.1.",
        "",
        f"{len(threads)} connections, {len(sessions)} signed-in members, {elapsed:.0f} s: 70 % page reads (home, "
        "directory search, a meeting, My page, newsletter archive), 15 % sign-up or withdrawal, 15 % newsletter input.",
        "",
        "| requests | req/s | errors | reads | sign-ups | withdrawals | inputs | writes lost | worker memory (MiB): first half max → second half max |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {tally['requests']} | {tally['requests'] / elapsed:.0f} | {tally['errors']} | {tally['reads']} | "
        f"{tally['signups']} | {tally['withdrawals']} | {tally['inputs']} | {len(lost_signups) + abs(lost_inputs)} | "
        f"{max(first) / 1024:.0f} → {max(half) / 1024:.0f} ({growth:+.1f} %) |",
    ]
    lines += [
        "",
        f"Requests resent on a new connection after the server had closed an idle keep-alive one "
        f"(as browsers do): {tally['reconnects']}.",
    ]
    if tally.get("error_samples"):
        lines += ["", f"Errors, first ones: {tally['error_samples'][:10]}"]
    report = "\n".join(lines) + "\n"
    print(report)
    results = ROOT / "bench" / "results.md"
    existing = results.read_text() if results.exists() else "# Benchmark results\n"
    existing = re.sub(r"\n## Soak\n.*?(?=\n## |\Z)", "\n", existing, flags=re.S).rstrip() + "\n\n"
    results.write_text(existing + report)
    ok = tally["errors"] == 0 and not lost_signups and lost_inputs == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
