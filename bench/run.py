"""The key pages under load, against a bare-Flask floor, on SQLite and on PostgreSQL, in one run.

    .venv/bin/python bench/run.py [--members 10000] [--slices 5] [--slice 3] [--connections 16 [4 …]]
                                  [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
                                  [--pages board … --section "Situation board (issue 21)"]

For each database: a fresh database is migrated, loaded with the reference data and seeded with
``flask demo seed``; the app runs under gunicorn with production settings and the floor
(``bench/floor.py``) beside it, both gthread 2 workers × 4 threads on 127.0.0.1; wrk loads each
page with a fixed number of connections, signed in as the demo coordinator, in short runs that
alternate with runs of the floor (``--slices`` pairs of ``--slice`` seconds), and the page's ratio
to the floor is the median of the pairs' ratios: the shared machine's speed drifts by a factor of two
within minutes, and a noisy minute then lands on both sides of a pair instead of on one of them.
Then ``bench/bulk_operations.py`` times the set-wise operations and the outbox.  The figures are
printed and written to ``bench/results.md`` with the machine's description.  With ``--pages`` only
the key pages whose names contain one of the words are loaded (each with its floor runs), and with
``--section`` their tables replace that section of ``results.md``; the other sections stay.  Needs ``wrk``
(Debian's package: ``apt-get install wrk``).
"""

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

# The production settings (gunicorn.conf.py: gthread, 2 workers × 4 threads, gc.freeze), for the app and the floor.
GUNICORN = ["--config", str(ROOT / "gunicorn.conf.py"), "--log-level", "warning"]
FULL_GOAL, FRAGMENT_GOAL, REFERENCE_GOAL, P99_GOAL_MS = 0.5, 0.7, 0.8, 150
REFERENCE = "reference: a page with only the layout (404, signed in)"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(url):
    return {
        **os.environ,
        "DATABASE_URL": url,
        "TRACKER_ENV": "production",
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "BASE_URL": "http://127.0.0.1",
        "RATELIMIT_STORAGE_URI": "memory://",
        "FLASK_APP": "app",
        "PYTHONPATH": str(ROOT),
    }


def prepare(url, members):
    env = environment(url)
    for command in (["db", "upgrade"], ["reference", "load"], ["demo", "seed", "--members", str(members)]):
        subprocess.run([BIN / "flask", *command], cwd=ROOT, env=env, check=True, capture_output=True)
    from app import create_app
    from extensions import db
    from models import demo

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "BASE_URL": "http://127.0.0.1"})
    with app.app_context():
        pages = demo.key_pages()
        db.engine.dispose()
    return pages


def serve(target, url):
    port = free_port()
    process = subprocess.Popen(
        [BIN / "gunicorn", *GUNICORN, "--bind", f"127.0.0.1:{port}", target], cwd=ROOT, env=environment(url)
    )
    for _ in range(150):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{target} did not start")


def sign_in(base):
    """The demo coordinator's session cookie, through the real form."""
    with urllib.request.urlopen(f"{base}/sign-in") as response:
        page = response.read().decode()
        cookies = [h.split(";")[0] for h in response.headers.get_all("Set-Cookie") or []]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    from models import demo

    data = urllib.parse.urlencode(
        {"email": demo.COORDINATOR, "password": demo.DEMO_PASSWORD, "csrf_token": token}
    ).encode()
    request = urllib.request.Request(f"{base}/sign-in", data=data, headers={"Cookie": "; ".join(cookies)})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None

    try:
        urllib.request.build_opener(NoRedirect).open(request)
    except urllib.error.HTTPError as answer:
        if answer.code != 303:
            raise
        return "; ".join(h.split(";")[0] for h in answer.headers.get_all("Set-Cookie"))
    raise RuntimeError("sign-in did not redirect")


def load(url, headers, duration, connections):
    command = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "5s",
        "-s",
        str(ROOT / "bench" / "report.lua"),
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    figures["rps"] = figures["requests"] / figures["seconds"]
    return figures


def chosen(pages, words):
    """The key pages (and the layout-only reference) whose names contain one of ``words``; all without."""
    candidates = [*pages.items(), (REFERENCE, ("/bench/no-such-page", {}))]
    if not words:
        return candidates
    found = [(name, page) for name, page in candidates if any(w.lower() in name.lower() for w in words)]
    if not found:
        sys.exit(f"no key page matches {words}: {', '.join(name for name, _page in candidates)}")
    return found


def page_weight(url, headers):
    """The page's HTML as sent (no compression asked for), in bytes."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return len(response.read())
    except urllib.error.HTTPError as answer:  # the reference page is a 404 on purpose
        return len(answer.read())


def interleaved(floor_url, page_url, headers, args, connections):
    """The floor and the page in alternating short slices (floor, page; page, floor; …): a noisy
    moment of the shared machine lands on both sides of a pair instead of on one whole run.
    Returns the page's figures with the median of the slices and the ratio of each pair."""
    floors, pages = [], []
    for i in range(args.slices):
        pair = [(floors, floor_url, {}), (pages, page_url, headers)]
        for into, url, with_headers in pair if i % 2 == 0 else reversed(pair):
            into.append(load(url, with_headers, args.slice, connections))
    ratios = sorted(p["rps"] / f["rps"] for p, f in zip(pages, floors, strict=True))
    figures = {key: statistics.median(p[key] for p in pages) for key in ("rps", "p50", "p95", "p99")}
    figures.update(
        floor_rps=statistics.median(f["rps"] for f in floors),
        ratio=statistics.median(ratios),
        ratio_low=ratios[0],
        ratio_high=ratios[-1],
        p99_worst=max(p["p99"] for p in pages),
        errors=sum(p["errors"] for p in pages),
        non_2xx=sum(p["non_2xx"] for p in pages),
    )
    return figures


def measure(label, url, args):
    """{connections: {page: figures}} for each of ``args.connections``."""
    print(f"== {label}: seeding {args.members} members", flush=True)
    pages = chosen(prepare(url, args.members), args.pages)
    app, app_base = serve("app:create_app()", url)
    floor, floor_base = serve("bench.floor:app", url)
    try:
        cookie = sign_in(app_base)
        for base in (app_base, floor_base):  # warm both up
            load(base + "/", {}, 2, args.connections[0])
        results = {}
        for connections in args.connections:
            results[connections] = {}
            for name, (path, headers) in pages:
                with_cookie = {"Cookie": cookie, **headers}
                load(app_base + path, with_cookie, 1, connections)  # this page's first requests
                figures = interleaved(floor_base + "/", app_base + path, with_cookie, args, connections)
                figures["bytes"] = page_weight(app_base + path, with_cookie)
                results[connections][name] = figures
                print(
                    f"   {name}, {connections} connections: {figures['rps']:.0f} req/s, "
                    f"floor {figures['floor_rps']:.0f}, ratio {figures['ratio']:.2f} "
                    f"({figures['ratio_low']:.2f}–{figures['ratio_high']:.2f}), "
                    f"p99 {figures['p99'] / 1000:.1f} ms, {figures['bytes'] / 1024:.1f} KB",
                    flush=True,
                )
    finally:
        for process in (app, floor):
            process.terminate()
            process.wait()
    return results


def machine():
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        line.split(":", 1)[1].strip()
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory} memory, {platform.platform()}, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{subprocess.run(['wrk', '--version'], capture_output=True, text=True).stdout.split(' Copyright')[0]}"
    )


def method(args, connections):
    """How the tables were measured, in words."""
    return (
        f"Each page: wrk, 2 threads, {connections} connections, 127.0.0.1, signed in as the demo coordinator; "
        "app and floor each under gunicorn with `gunicorn.conf.py` (gthread, 2 workers × 4 threads) and production "
        f"settings. Floor and page alternate in {args.slices} pairs of {args.slice}-second runs (floor then page, "
        "page then floor, …); a page's figures are the medians of its runs, its ratio the median of the pairs' "
        "ratios, with the lowest and highest pair beside it. "
        f"Goals: full pages ≥ {FULL_GOAL}× the floor, htmx fragments ≥ {FRAGMENT_GOAL}×, the layout-only page "
        f"≥ {REFERENCE_GOAL}×, p99 under {P99_GOAL_MS} ms on PostgreSQL, HTML ≤ 30 KB for a page of 50 rows "
        "(the HTML column: one request, uncompressed)."
    )


def table(label, results, args):
    lines = [
        f"### {label}",
        "",
        "| page | req/s | floor req/s | ratio to floor (median) | spread of the slices | goal | met | p50 ms | "
        "p95 ms | p99 ms | p99 ms, worst slice | HTML KB | errors |",
        "|---|---:|---:|---:|---:|---:|:-:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, figures in results.items():
        goal = REFERENCE_GOAL if name == REFERENCE else FRAGMENT_GOAL if "fragment" in name else FULL_GOAL
        errors = figures["errors"] + (0 if name == REFERENCE else figures["non_2xx"])  # its 404 is the point
        lines.append(
            f"| {name} | {figures['rps']:.0f} | {figures['floor_rps']:.0f} | {figures['ratio']:.2f} | "
            f"{figures['ratio_low']:.2f}–{figures['ratio_high']:.2f} | ≥ {goal} | "
            f"{'yes' if figures['ratio'] >= goal else 'no'} | {figures['p50'] / 1000:.1f} | "
            f"{figures['p95'] / 1000:.1f} | {figures['p99'] / 1000:.1f} | {figures['p99_worst'] / 1000:.1f} | "
            f"{figures['bytes'] / 1024:.1f} | {errors} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--slices", type=int, default=5, help="pairs of floor and page runs per page")
    parser.add_argument("--slice", type=int, default=3, help="seconds of load per run")
    parser.add_argument(
        "--connections", type=int, nargs="+", default=[16], help="wrk's connections (several: a table each)"
    )
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a server URL; the run creates and drops its own database ('' to skip)",
    )
    parser.add_argument("--skip-bulk", action="store_true", help="leave out bench/bulk_operations.py")
    parser.add_argument(
        "--pages",
        nargs="+",
        metavar="WORD",
        help="only the key pages whose names contain a word (e.g. board)",
    )
    parser.add_argument(
        "--section",
        metavar="TITLE",
        help="write the tables as the section '## TITLE' of results.md (replacing it), the rest kept; "
        "without it a --pages run only prints",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")

    from sqlalchemy import create_engine, make_url, text

    sections = []
    workdir = tempfile.mkdtemp()
    targets = [("SQLite", f"sqlite:///{workdir}/bench.sqlite", None)]
    if args.postgres:
        server = make_url(args.postgres).set(drivername="postgresql+psycopg")
        name = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
            version = connection.execute(text("SHOW server_version")).scalar()
        targets.append(
            (
                f"PostgreSQL {version}",
                server.set(database=name).render_as_string(hide_password=False),
                (admin, name),
            )
        )
    try:
        for label, url, _cleanup in targets:
            for connections, results in measure(label, url, args).items():
                heading = label if len(args.connections) == 1 else f"{label}, {connections} connections"
                sections.append(table(heading, results, args))
                print(sections[-1], flush=True)
    finally:
        for _label, _url, cleanup in targets:
            if cleanup:
                admin, name = cleanup
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    results = ROOT / "bench" / "results.md"
    kept = re.split(r"(?m)^(?=## )", results.read_text()) if results.exists() else [""]
    connections = ", ".join(map(str, args.connections))
    if args.pages:
        if args.section:
            section = "\n\n".join(
                [
                    f"## {args.section}",
                    f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `.venv/bin/python bench/run.py "
                    f"{shlex.join(sys.argv[1:])}` on {machine()}; {method(args, connections)}",
                    *sections,
                ]
            )
            heading = f"## {args.section}\n"
            kept = [part for part in kept if not part.startswith(heading)]
            results.write_text("".join(kept).rstrip("\n") + "\n\n" + section + "\n")
            print(f"written to {results}, section “{args.section}”")
        return
    bulk = ""
    if not args.skip_bulk:
        print("== bulk operations", flush=True)
        bulk = subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "bulk_operations.py"),
                "--members",
                str(args.members),
                "--postgres",
                args.postgres,
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
        print(bulk)
    report = (
        "\n\n".join(
            [
                "# Benchmark results",
                f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `.venv/bin/python bench/run.py "
                f"{shlex.join(sys.argv[1:])}` on {machine()}.",
                method(args, connections),
                *sections,
                "## Bulk operations and the outbox",
                bulk.strip() or "(not run)",
            ]
        )
        + "\n"
    )
    # the sections others write (bench/soak.py's "Soak", a --section run's) stay
    others = [part for part in kept[1:] if not part.startswith("## Bulk operations and the outbox\n")]
    results.write_text(report + "".join("\n" + part.rstrip("\n") + "\n" for part in others))
    print(f"written to {results}")


if __name__ == "__main__":
    main()
