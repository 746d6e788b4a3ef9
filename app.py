"""The application factory: ``create_app`` builds everything; nothing happens at import."""

import contextlib
import hashlib
import os
from urllib.parse import urlsplit

from flask import Flask, current_app, g, has_request_context, render_template, request, url_for
from flask_babel import lazy_gettext
from flask_login import AnonymousUserMixin, current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from werkzeug.routing import IntegerConverter
from werkzeug.security import safe_join

import config
import logs
from extensions import babel, compress, csrf, db, htmx, limiter, login_manager, mail, migrate
from models import guard, language, submissions
from models.language import AUTONYMS
from models.types import render_item


class App(Flask):
    def get_send_file_max_age(self, filename):
        """A year for a static file asked for by its current fingerprint (``?v=``, see
        ``fingerprint_static``); without it or with an old one, the browser asks again each time
        (``max-age=0``, answered 304 while the file is unchanged): an address with an old
        fingerprint must not pin an old file for a year."""
        version = request.args.get("v") if has_request_context() else None
        if filename and version and version == static_hash(filename):
            return super().get_send_file_max_age(filename)
        return 0

    def log_exception(self, exc_info):
        """Flask's "Exception on <path>" line, with the path redacted (it may carry a token)."""
        self.logger.error(
            "Exception on %s [%s]",
            logs.redact_path(request.path, request.query_string),
            request.method,
            exc_info=exc_info,
        )


def create_app(test_config=None):
    app = App(__name__, instance_relative_config=True)
    app.config.update(config.from_environment())
    if test_config:
        app.config.update(test_config)
    config.finish(app)
    logs.configure(app)  # first: its request hook gives every later hook's log lines the request id

    db.init_app(app)
    # Registered after Flask-SQLAlchemy's, so it runs first (teardowns run in reverse).
    app.teardown_appcontext(end_session_quietly)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
            guard.serialise_sqlite_writes(db.engine)
    migrate.init_app(app, db, render_as_batch=True, render_item=render_item)
    babel.init_app(app, locale_selector=select_locale)
    language.install_template_translations(app.jinja_env)
    csrf.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)
    report_rate_limit_storage(app)
    trust_proxies(app)
    htmx.init_app(app)
    compress.init_app(app)
    app.url_defaults(fingerprint_static)
    # Before any route is added: every <int:…> in a rule is bounded by the id columns' range.
    app.url_map.converters["int"] = DatabaseInteger
    login_manager.init_app(app)

    import models  # registers the models with the metadata
    from blueprints import (
        account,
        advice,
        anchorings,
        auth,
        coordinator,
        directory,
        emergencies,
        meetings,
        municipalities,
        newsletters,
        ops,
        organisations,
        public,
        registration,
        reviews,
        topics,
    )

    for package in (
        ops,
        public,
        organisations,
        auth,
        registration,
        anchorings,
        account,
        municipalities,
        meetings,
        emergencies,
        topics,
        reviews,
        newsletters,
        advice,
        directory,
        coordinator,
    ):
        app.register_blueprint(package.bp)
    from blueprints.ops import metrics

    metrics.init_app(app)  # /metrics (METRICS_TOKEN), and the per-request counters

    login_manager.user_loader(models.Member.for_session)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = lazy_gettext("Sign in to see that page.")
    login_manager.login_message_category = "info"
    app.before_request(attribute_changes_to_user)
    app.before_request(submissions.check_request)
    from blueprints.auth import limits

    limits.init_app(app)  # the mail budgets of signed-in members' actions
    app.add_template_global(submissions.submission_field)
    from blueprints.util import content_lang, wants_fragment

    app.add_template_global(content_lang)  # lang="nb" on Norwegian content in an English page
    app.add_template_global(wants_fragment)  # a results fragment adds its count out of band

    from cli import register_commands

    register_commands(app)
    register_error_pages(app)
    app.after_request(security_headers)
    app.context_processor(lambda: {"current_locale": str(select_locale()), "languages": AUTONYMS})
    app.add_template_global(this_page_in)
    from models.markdown import to_html, to_plain

    app.add_template_filter(to_html, "markdown")
    app.add_template_filter(to_plain, "plain")
    app.add_template_filter(language.datetimeformat)  # Flask-Babel's, as each language writes dates
    app.add_template_filter(language.dateformat)
    return app


def report_rate_limit_storage(app):
    """Say at start where the rate limits are counted and whether that storage answers.  If Redis
    is away (now or later), Flask-Limiter counts in each process's memory meanwhile
    (``RATELIMIT_IN_MEMORY_FALLBACK_ENABLED``) and says so once: signing in keeps working."""
    uri = app.config.get("RATELIMIT_STORAGE_URI", "memory://")
    if uri.startswith("memory://"):
        if app.config["PRODUCTION"]:
            app.logger.warning(
                "RATELIMIT_STORAGE_URI is memory://: each worker process counts the rate limits on "
                "its own; set it to Redis (see README)"
            )
        return
    parts = urlsplit(uri)
    where = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"  # no password
    try:
        answers = limiter.storage.check()
    except Exception:  # the storage library's own errors
        answers = False
    if answers:
        app.logger.info("rate limits counted in %s (it answers)", where)
    else:
        app.logger.warning(
            "rate limits: %s does not answer; counting in each process's memory until it does", where
        )


def trust_proxies(app):
    """Behind ``TRUSTED_PROXIES`` proxies (the TLS proxy in front of gunicorn: 1), the client's
    address and scheme are read from the ``X-Forwarded-For``/``-Proto`` headers those proxies set
    (werkzeug's ``ProxyFix``), so the rate limits count per real client; with 0 (the default) the
    headers are ignored, as anyone can send them."""
    count = app.config.get("TRUSTED_PROXIES") or 0
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)


def attribute_changes_to_user():
    """Audit entries written during a request name the signed-in user."""
    if current_user.is_authenticated:
        g.audit_actor = (current_user._get_current_object(), current_user.name)


def select_locale():
    """The page's language: ``?lang=`` on the address (this page only: the alternates in the
    page's head link to it), else the reader's choice (the switch; a member's stored choice is put
    in the session at sign-in), else the browser's preference, else bokmål."""
    if not has_request_context():
        return language.DEFAULT
    if "locale" not in g:
        g.locale = language.named_locale() or language.DEFAULT
    return g.locale


def this_page_in(locale):
    """This page's address in another language (``?lang=``, see ``select_locale``); None: without one."""
    values = {**(request.view_args or {}), **request.args.to_dict()}
    values.pop("lang", None)
    return url_for(request.endpoint, **values, **({"lang": locale} if locale else {}))


CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


# No page of the app uses any of these browser features; a page that is made to run someone
# else's code (or embeds a frame) gets none of them either.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "ambient-light-sensor",
        "autoplay",
        "bluetooth",
        "browsing-topics",
        "camera",
        "display-capture",
        "document-domain",
        "encrypted-media",
        "fullscreen",
        "gamepad",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "interest-cohort",
        "local-fonts",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)


class DatabaseInteger(IntegerConverter):
    """``<int:…>`` in every rule: at most ten digits and at most 2**31 − 1, the largest id the
    database's ``INTEGER`` columns hold.  A larger number is no route – 404 – instead of a query
    the database (PostgreSQL: "out of range"; SQLite: too large to bind) answers with an error."""

    regex = r"\d{1,10}"

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits, min, INT_MAX if max is None or max > INT_MAX else max, signed)


INT_MAX = 2**31 - 1  # PostgreSQL's int4, the type of every id column (models: ``Integer``)


def private_response():
    """Whether the response must not be kept by any cache (browser, proxy): everything a
    signed-in user gets, and everything at an address carrying a token (verification, password
    reset, anchoring decision, review answer, meeting receipt, unsubscribe, e-mail confirmation,
    calendar feed) – the token is a key, and the page shows what it opens."""
    if request.endpoint == "static":
        return False
    if "token" in (request.view_args or {}):
        return True
    try:
        return current_user.is_authenticated
    except SQLAlchemyError:  # the database is away (a 503 page): cannot tell, so keep it private
        return True


def security_headers(response):
    """Headers every response carries; htmx is configured by a meta tag, so no inline script."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    if private_response():
        headers["Cache-Control"] = "no-store"
        headers.pop("Expires", None)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if current_app.config["PRODUCTION"]:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    # Pages differ for htmx requests (a fragment) and by language.
    response.vary.update(("HX-Request", "Accept-Language"))
    return response


def end_session_quietly(exception=None):
    """End the request's database session without raising: a rollback on a connection the
    database has cut would otherwise raise after the response was made, as a bare 500."""
    try:
        db.session.remove()
    except SQLAlchemyError as error:
        current_app.logger.warning(
            "session ended on a lost connection: %s", logs.describe_database_error(error)
        )
        discard_session()


def discard_session():
    """Give up the request's session when even its rollback failed: its connections are closed
    (invalidated, so the pool does not hand them out again) rather than left for the garbage
    collector, and the next use of ``db.session`` starts a new one."""
    with contextlib.suppress(SQLAlchemyError):
        db.session().invalidate()
    db.session.registry.clear()


def register_error_pages(app):
    def error_page(error, code):
        """The error page, never a second error: the request's transaction is rolled back first
        (a failed flush leaves the session unusable), and if the database cannot be reached even
        for the menu, the page is drawn as for a visitor who is not signed in.  An address the
        router refused (no such page, a method the page does not take) ran no view: there is nothing
        to roll back, and the signed-in user read for the menu stays read (a rollback would expire
        them and read them again)."""
        try:
            if request.routing_exception is None:
                db.session.rollback()
        except SQLAlchemyError:
            discard_session()
        try:
            return render_template("errors/error.html", code=code, error=error), code
        except SQLAlchemyError:
            discard_session()
            return render_template(
                "errors/error.html", code=code, error=error, current_user=AnonymousUserMixin()
            ), code

    def database_unavailable(error):
        """The database went away (a restart, a failover) or cut this request's connection: its
        transaction is gone – the database rolled it back, nothing of it is half-stored – and the
        pool's pre-ping gives the next request a fresh connection.  Said as such, not as a crash.
        (A commit whose answer was lost may have gone through: forms carry a submission key, so
        sending the form again does not do it twice – see ``models/submissions.py``.)"""
        app.logger.warning("database unavailable: %s", logs.describe_database_error(error))
        return error_page(error, 503)

    def conflict(error):
        """A constraint of the database refused a change two requests made at the same moment
        (the operation's own check passed in both): the later one is told, nothing is stored.
        (The same form sent twice is caught before this, by its submission key.)"""
        app.logger.warning(
            "refused by the database: %s",
            (getattr(error.orig, "diag", None) and error.orig.diag.constraint_name)
            or type(error.orig).__name__,
        )
        return error_page(error, 409)

    for code in (400, 403, 404, 405, 409, 429, 500):
        app.register_error_handler(code, lambda e, code=code: error_page(e, code))
    app.register_error_handler(CSRFError, lambda e: error_page(e, 400))
    app.register_error_handler(OperationalError, database_unavailable)
    app.register_error_handler(InterfaceError, database_unavailable)
    app.register_error_handler(IntegrityError, conflict)


def fingerprint_static(endpoint, values):
    """``url_for('static', …)`` carries the file's content hash (``?v=…``): a changed file gets a new
    address, so browsers may keep every static file for a year (``SEND_FILE_MAX_AGE_DEFAULT``)."""
    if endpoint != "static" or "v" in values or "filename" not in values:
        return
    digest = static_hash(values["filename"])
    if digest:
        values["v"] = digest


def static_hash(filename):
    """The first 12 hex digits of the static file's SHA-256, read once per process (None: no such file)."""
    hashes = current_app.extensions.setdefault("static_hashes", {})
    if filename not in hashes:
        path = safe_join(current_app.static_folder, filename)  # a request's filename: never outside
        try:
            if path is None or not os.path.isfile(path):
                raise FileNotFoundError(filename)
            with open(path, "rb") as file:
                digest = hashlib.sha256(file.read()).hexdigest()[:12]
        except OSError:
            return None  # not kept: the names of missing files would grow the cache without end
        hashes[filename] = digest
    return hashes[filename]


def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite enforces foreign keys only when asked, per connection.  Write-ahead logging lets
    readers and the writer work side by side, and with ``synchronous = NORMAL`` a commit does not
    wait for the disk (a power cut may lose the last commits, never the database).  A writing
    request holds the one write lock from its first statement to its commit (``BEGIN IMMEDIATE``,
    see ``models/guard.py``), so the others queue: each waits up to 30 s – fifty people pressing
    at once on a busy machine – before it is told the database is busy (503)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()
