"""The test foundation: the app on SQLite or PostgreSQL, a real SMTP server, a live
server and real Chromium.

The database is chosen by ``TEST_DATABASE_URL``: unset, every run uses a fresh SQLite
file; set to a PostgreSQL server URL (``postgresql://postgres@127.0.0.1:5432/postgres``),
the run creates its own empty database on that server and drops it at the end.

The clock: ``pytest --clock 2030-06-01`` runs the whole suite with the process's clock moved
to that day (midday UTC, and ticking from there: time-machine moves ``datetime.now``,
``date.today`` and ``time.time`` in every thread, the live server's too).  No test may depend
on today's date; this option is how to show it.  The database's own clock (PostgreSQL's
``now()``) is not moved, so the app takes every timestamp from Python (``models.types.utcnow``).
"""

import contextvars
import email
import email.policy
import os
import re
import socket
import threading
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import ClassVar

import pytest
import time_machine
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from sqlalchemy import create_engine, event, make_url, text
from werkzeug.serving import make_server

from app import create_app
from config import database_url
from extensions import db
from models.types import utcnow

PASSWORD = "korrekt hest batteri stift"

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_addoption(parser):
    parser.addoption(
        "--clock",
        metavar="YYYY-MM-DD",
        type=date.fromisoformat,
        default=None,
        help="run the suite with the process clock moved to this day (time-machine; ticking)",
    )


def pytest_configure(config):
    """Start the ``--clock`` travel before any test module is imported, so a date a module
    computes at import time is on the moved clock too; it ends with the session."""
    day = config.getoption("clock", None)
    if day is not None:
        traveller = time_machine.travel(datetime.combine(day, time(12), tzinfo=UTC), tick=True)
        traveller.start()
        config.add_cleanup(traveller.stop)
        os.environ["TESTS_CLOCK"] = day.isoformat()  # the processes tests start travel too (helpers)


def pytest_collection_modifyitems(config, items):
    """The walks over every page's rendered HTML (``@pytest.mark.rendering``: accessibility, reflow,
    every text translated) check what the templates and the CSS draw, which is the same on either
    database: they run where the suite runs by default, on SQLite, and the PostgreSQL run skips them
    (CI runs both; each walk takes minutes of Chromium)."""
    if TEST_DATABASE_URL:
        skip = pytest.mark.skip(reason="a rendering walk: the same pages on either database; run on SQLite")
        for item in items:
            if item.get_closest_marker("rendering"):
                item.add_marker(skip)


def pytest_report_header(config):
    backend = make_url(database_url(TEST_DATABASE_URL)).get_backend_name() if TEST_DATABASE_URL else "sqlite"
    day = config.getoption("clock", None)
    return f"database: {backend}" + (f"; clock moved to {day.isoformat()}" if day else "")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- databases ------------------------------------------------------------------------


class Databases:
    """Makes empty databases of the kind under test, and removes them afterwards."""

    def __init__(self, tmp_path_factory):
        self.tmp = tmp_path_factory
        self.created = []
        self.server = make_url(database_url(TEST_DATABASE_URL)) if TEST_DATABASE_URL else None

    @property
    def backend(self):
        return self.server.get_backend_name() if self.server else "sqlite"

    def create(self):
        if self.server is None:
            return f"sqlite:///{self.tmp.mktemp('db') / 'tracker.sqlite'}"
        name = f"tracker_test_{uuid.uuid4().hex[:10]}"
        self._admin(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.server.set(database=name).render_as_string(hide_password=False)

    def drop_all(self):
        for name in self.created:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, statement):
        engine = create_engine(self.server, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    dbs = Databases(tmp_path_factory)
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def database(databases, smtpd):
    """The session's database, migrated to head with ``alembic upgrade``, and the rows the
    reference data load writes (each test starts from exactly those, see ``app_factory``)."""
    from flask_migrate import upgrade

    from models import reference

    url = databases.create()
    app = create_app(app_config(url, smtpd))
    with app.app_context():
        upgrade()
        reference.load()
        ReferenceRows.taken = take_rows()
        db.engine.dispose()
    return url


class ReferenceRows:
    """The reference data as rows: each test starts from them (``reset_to``), the same state as
    ``reference.load()`` leaves."""

    taken: ClassVar[dict] = {}

    @classmethod
    def restore(cls):
        reset_to(cls.taken)


def rows_of(table):
    """A table's rows as dicts, by primary key."""
    return [dict(row._mapping) for row in db.session.execute(table.select().order_by(*table.primary_key))]


def take_rows():
    """Every row of every table, as ``reset_to`` puts them back: {table: [row dict]}."""
    return {table: rows_of(table) for table in db.metadata.sorted_tables}


def reset_to(taken):
    """Make the database hold exactly the rows ``taken`` (``take_rows``) and commit.

    Every table that should be empty is emptied (one batch of DELETEs on PostgreSQL); a table that
    should hold rows is emptied and filled again only when its rows differ, with every table whose
    rows point at it.  Most tests leave the reference data alone (409 organisations, the language
    groups, the networks), and deleting and inserting them again took a fifth of a second a test
    on PostgreSQL (a foreign-key check per row from a dozen tables, a trigram index)."""
    tables = db.metadata.sorted_tables  # every table after the tables it points at
    kept = {table for table in tables if taken.get(table)}
    changed = {table for table in kept if rows_of(table) != taken[table]}
    for table in tables:
        if table in kept and any(fk.column.table in changed for fk in table.foreign_keys):
            changed.add(table)
    emptied = [table for table in reversed(tables) if table not in kept or table in changed]
    if db.engine.dialect.name == "postgresql":
        db.session.connection().exec_driver_sql("; ".join(f'DELETE FROM "{t.name}"' for t in emptied))
    else:
        for table in emptied:
            db.session.execute(table.delete())
    put_rows({table: taken[table] for table in tables if table in changed})


def put_rows(taken):
    """Insert rows taken with ``take_rows`` (one INSERT per table, into empty tables) and commit."""
    for table, rows in taken.items():
        if rows:
            db.session.execute(table.insert(), rows)
    if db.engine.dialect.name == "postgresql":  # the ids were given: move each sequence past them
        moves = [
            f"setval(pg_get_serial_sequence('{table.name}', 'id'), {max(r['id'] for r in rows)})"
            for table, rows in taken.items()
            if rows and "id" in table.c
        ]
        if moves:
            db.session.execute(text(f"SELECT {', '.join(moves)}"))
    db.session.commit()


# -- mail -------------------------------------------------------------------------------


class CaptureHandler:
    """Keeps every message the SMTP server receives, parsed."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message.envelope_recipients = list(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted"


@pytest.fixture(scope="session")
def smtpd():
    controller = Controller(CaptureHandler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def mail_outbox(smtpd):
    """The messages the real SMTP server receives during this test."""
    smtpd.handler.messages.clear()
    return smtpd.handler.messages


@pytest.fixture(autouse=True)
def no_unexpected_mail(request, smtpd):
    """A test that does not ask for ``mail_outbox`` must send no mail."""
    smtpd.handler.messages.clear()
    yield
    if "mail_outbox" not in request.fixturenames and smtpd.handler.messages:
        subjects = [m["Subject"] for m in smtpd.handler.messages]
        pytest.fail(f"unexpected mail sent: {subjects}")


# -- the app ------------------------------------------------------------------------------


def app_config(url, smtpd, **overrides):
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtpd.port,
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        "MAIL_SUPPRESS_SEND": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_ENABLED": False,
        "BASE_URL": "http://localhost",
        # Hashing speed is not under test; the real method is (test_auth.py).
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        **overrides,
    }


class IsolatedClient(FlaskClient):
    """A test client whose requests run as they do in production: each in its own app
    context, so ``g`` (the signed-in user, the CSRF token, the locale) and the database
    session do not leak from the test, or from one client, into another request."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def table_snapshot(ignore=("form_submissions",)):
    """Every row of every table but ``ignore`` as committed in the database: {table name: sorted
    rows}.  Taken before and after a request, it shows whether the request stored anything (a
    refusal must change no row).  Read on a connection of its own: the test's session is untouched.
    ``form_submissions`` (the submission keys a form carries) is left out by default."""
    with db.engine.connect() as connection:
        return {
            table.name: sorted(map(repr, connection.execute(table.select())))
            for table in db.metadata.sorted_tables
            if table.name not in ignore
        }


class CompiledTemplates(BytecodeCache):
    """The templates compiled once for the whole session, shared by every app a test builds (each
    app has its own Jinja environment, which would compile each template again for each test).
    Jinja keys each entry by the template's name and a checksum of its source, so an edited
    template is compiled afresh; only the compiling is shared, not the rendering."""

    def __init__(self):
        self.compiled = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


def share_url_builders():
    """Each app compiles a URL builder for each of its routes (werkzeug generates and compiles
    Python code per rule: most of the time ``create_app`` takes, and the suite builds an app for
    every test).  The code depends only on the rule's text, its parsed parts and its defaults –
    it reaches the rule's converters through its first argument – so the session compiles each
    builder once and every app's rules share it."""
    from werkzeug.routing import Rule

    compile_builder = Rule._compile_builder
    builders = {}

    def shared(rule, append_unknown=True):
        key = (rule.rule, tuple(rule._trace), repr(sorted((rule.defaults or {}).items())), append_unknown)
        if key not in builders:
            builders[key] = compile_builder(rule, append_unknown)
        return builders[key]

    Rule._compile_builder = shared


share_url_builders()


@pytest.fixture
def app_factory(database, smtpd):
    """Build an app on the session's database with extra settings; the database holds the
    reference rows and nothing else when the test begins."""
    apps = []

    def make(**overrides):
        app = create_app(app_config(database, smtpd, **overrides))
        app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
        app.test_client_class = IsolatedClient
        apps.append(app)
        return app

    first = make()
    with first.app_context():
        ReferenceRows.restore()
    spare = [first]

    def get(**overrides):
        """The app that restored the rows is handed out once, to the first caller without
        overrides (usually the ``app`` fixture); every other call builds one of its own."""
        return spare.pop() if spare and not overrides else make(**overrides)

    yield get
    with first.app_context():
        db.session.rollback()  # the next test starts from the reference rows again (reset_to)
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(app_factory):
    app = app_factory()
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token_from(response):
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True))
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def count_queries(app):
    """``with count_queries() as statements:`` collects the SQL statements run inside."""

    @contextmanager
    def counter():
        statements = []

        def record(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(db.engine, "before_cursor_execute", record)

    return counter


# -- objects --------------------------------------------------------------------------------


@pytest.fixture
def networks(app):
    from models import Network

    return {n.code: n for n in db.session.scalars(db.select(Network))}


@pytest.fixture
def municipality(app):
    from models import Organisation, OrganisationKind

    def get(number):
        return db.session.scalar(
            db.select(Organisation).filter_by(kind=OrganisationKind.MUNICIPALITY, number=number)
        )

    return get


@pytest.fixture
def create_member(app):
    """``create_member(org, networks=("NIK",), status="active")`` → Member, committed."""
    from models import Member, Network

    counter = iter(range(1, 1_000_000))

    def create(organisation, networks=("NIK",), status="active", password=PASSWORD, **fields):
        n = next(counter)
        values = {
            "name": f"Deltaker {n}",
            "email": f"deltaker{n}@{organisation.number or 'org'}.kommune.example",
            "manager_name": f"Leder {n}",
            "manager_email": f"leder{n}@kommune.example",
            **fields,
        }
        member = Member(organisation=organisation, **values)
        member.set_password(password)
        if status != "pending_email":
            member.email_verified_at = utcnow()
        db.session.add(member)
        for code in networks:
            network = db.session.scalar(db.select(Network).filter_by(code=code))
            move_to_status(member.join(network), status)
        db.session.commit()
        return member

    return create


@pytest.fixture
def create_coordinator(app, create_member):
    """``create_coordinator("NIK", ...)`` → a coordinator (of the Directorate) of those networks."""
    from models import Network, Organisation

    def create(*codes, **fields):
        hdir = db.session.scalar(db.select(Organisation).filter_by(short_name="Hdir"))
        member = create_member(hdir, networks=(), **fields)
        for code in codes or ("NIK",):
            member.make_coordinator(db.session.scalar(db.select(Network).filter_by(code=code)))
        db.session.commit()
        return member

    return create


def sign_in(client, email, password=None):
    """Sign in through the real form; returns the response."""
    token = csrf_token_from(client.get("/sign-in"))
    return client.post(
        "/sign-in", data={"email": email, "password": password or PASSWORD, "csrf_token": token}
    )


def post(client, url, data=None, page=None, **kwargs):
    """POST a form the way a browser does: with the CSRF token from the page it is on."""
    token = csrf_token_from(client.get(page or "/"))
    return client.post(url, data={**(data or {}), "csrf_token": token}, **kwargs)


@pytest.fixture
def deliver(app):
    """Run the outbox worker once, as ``flask outbox send`` does."""
    from models import outbox

    def run():
        counts = outbox.deliver(worker="test")
        db.session.expire_all()
        return counts

    return run


def links_in(message):
    """The http(s) links in a mail's plain-text part."""
    body = message.get_body(("plain",)).get_content()
    return re.findall(r"https?://\S+", body)


def move_to_status(membership, status):
    """Walk a new membership through the real transitions to ``status``."""
    paths = {
        "pending_email": [],
        "pending_anchoring": ["confirm_email"],
        "active": ["confirm_email", "anchor"],
        "declined": ["confirm_email", "decline"],
        "lapsed": ["confirm_email", "anchor", "lapse"],
        "left": ["confirm_email", "anchor", "leave"],
    }
    for step in paths[status]:
        method = getattr(membership, step)
        method("test") if step in ("lapse",) else method()


@pytest.fixture
def world(app, create_member, create_coordinator, municipality):
    """({persona: Member}, ids), as ``tests.matrix.build_world`` made them: the authorisation
    matrix's world (tests/test_authorisation.py, tests/browser/test_accessibility.py)."""
    from models import Member
    from tests.matrix import World, build_world

    if World.rows is None:
        World.take(app, *build_world(create_member, create_coordinator, municipality))
    else:
        World.restore()
    return {persona: db.session.get(Member, id_) for persona, id_ in World.people.items()}, dict(World.ids)


# -- live server and browser ----------------------------------------------------------------


def at_once(work, arguments, timeout=120):
    """Run ``work(*args)`` for each args in ``arguments`` in its own thread, all released together.

    Returns each call's result in order; re-raises the first exception a call raised.
    A call that fails before the start (or hangs) breaks the barrier instead of leaving the
    others waiting, and the threads are daemons, so a fault can never hang the test run.
    """
    start = threading.Barrier(len(arguments), timeout=timeout)
    results = [None] * len(arguments)
    errors = []

    def run(i, args):
        try:
            results[i] = work(start.wait, *args)
        except BaseException as exc:
            start.abort()
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, args), daemon=True) for i, args in enumerate(arguments)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), f"a call did not finish within {timeout} s"
    if errors:
        raise errors[0]
    return results


def twice_at_once(clients, url, data=None, page=None, method="POST", same_key=False):
    """Send one form from each of ``clients`` at the same moment (two tabs, a double click, two
    people): threads released together by a barrier, each request in its own app context on its
    own database connection.  Each client's CSRF token is read from ``page`` first.

    ``same_key=True`` sends the same submission key in each (one form, clicked twice); by
    default each carries its own (two tabs), so the model's own guard must decide.
    Returns the responses in order.
    """
    import uuid

    key = uuid.uuid4().hex
    forms = []
    for client in clients:
        token = csrf_token_from(client.get(page or "/"))
        forms.append(
            {**(data or {}), "csrf_token": token, "submission": key if same_key else uuid.uuid4().hex}
        )

    def send(wait, client, form):
        wait()
        return client.open(url, method=method, data=form)

    return at_once(send, list(zip(clients, forms, strict=True)))


def postgres_only(app):
    """Races are decided by the database's row locks: the tests that race run on PostgreSQL."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("two requests at the same moment: PostgreSQL (TEST_DATABASE_URL)")


class LiveServer:
    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def live_server(app_factory):
    app = app_factory()
    with LiveServer(app) as server:
        server.app = app
        app.config["BASE_URL"] = server.url  # links in mails lead back to this server
        yield server


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_context_args(live_server):
    return {"base_url": live_server.url, "locale": "nb-NO", "timezone_id": "Europe/Oslo"}


# Chromium logs a refused script, style or frame as a console error; the event says it whatever the
# browser's wording (the init script runs outside the page's CSP).
REPORT_CSP_VIOLATIONS = """document.addEventListener("securitypolicyviolation", (e) =>
  console.error(`CSP violation: ${e.violatedDirective} refused ${e.blockedURI || "inline"}`));"""


def watch(context, errors, allow=("status of 422",)):
    """Every page of ``context`` adds its console errors, uncaught exceptions and CSP violations to
    ``errors``, but for messages with an ``allow`` text in them: by default a form answered with 422
    (its errors shown next to the fields), which Chromium logs as a failed load."""
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    context.on(
        "console",
        lambda m: (
            errors.append(m.text) if m.type == "error" and not any(a in m.text for a in allow) else None
        ),
    )
    context.on("weberror", lambda e: errors.append(str(e.error)))
    return context


@pytest.fixture
def new_context(browser, browser_context_args):
    """``new_context(**args)``: a fresh browser context (the live server, Norwegian, Oslo time, and
    ``args``), watched – any console error or CSP violation on any of its pages fails the test
    (``allow``: the texts of console messages that are expected, see ``watch``).
    Every context a test opens comes from here (a second person, JavaScript off …); all are
    closed after the test."""
    contexts, errors = [], []

    def make(allow=("status of 422",), **args):
        context = watch(browser.new_context(**{**browser_context_args, **args}), errors, allow)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"browser console errors: {errors}"


@pytest.fixture
def page(new_context):
    """A page in a fresh watched context (``new_context``)."""
    return new_context().new_page()
