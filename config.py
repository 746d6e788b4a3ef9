"""Configuration read from the environment.

Development (``TRACKER_ENV=development``, which ``.flaskenv`` sets for the ``flask``
command in a checkout) needs no configuration at all: a SQLite file and a random
secret key, both kept in the instance folder.  Anywhere else ``SECRET_KEY`` must be
set, or the application refuses to start.
"""

import os
import re
import secrets
from pathlib import Path


def _bool(value):
    return value is not None and value.strip().lower() in {"1", "true", "yes", "on"}


def database_url(url):
    """Use psycopg 3 for PostgreSQL URLs given in the usual short forms."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


DEFAULTS = {
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "BABEL_DEFAULT_LOCALE": "nb",
    "BABEL_DEFAULT_TIMEZONE": "Europe/Oslo",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "RATELIMIT_HEADERS_ENABLED": True,
    # Redis away: count the same limits in each process's memory meanwhile (logged once), never fail.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    "ORGANISATIONS_PER_PAGE": 50,
    "DIRECTORY_PER_PAGE": 50,
    # Static URLs carry their content hash (app.fingerprint_static): cached for a year.
    "SEND_FILE_MAX_AGE_DEFAULT": 365 * 24 * 3600,
    # Compressed where it pays: text over 500 bytes, for clients that ask (gzip or brotli).
    "COMPRESS_ALGORITHM": ["br", "gzip"],
    "COMPRESS_LEVEL": 6,
    "COMPRESS_BR_LEVEL": 4,
    "COMPRESS_MIN_SIZE": 500,
    # Not streamed responses (static files, exports): Flask-Compress leaves their file open (a ResourceWarning).
    "COMPRESS_STREAMS": False,
    # werkzeug's scrypt (n=2**15, r=8, p=1): memory-hard, the current recommendation.
    "PASSWORD_HASH_METHOD": "scrypt",
    "REMEMBER_COOKIE_DURATION": 60 * 60 * 24 * 30,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
}


def from_environment(environ=os.environ):
    """The settings the environment gives, read when the app is created."""
    cfg = dict(DEFAULTS)
    cfg.update(
        ENV_NAME=environ.get("TRACKER_ENV", "production"),
        SECRET_KEY=environ.get("SECRET_KEY") or None,
        # Earlier keys, comma-separated, newest first: what they signed (sessions, every mailed
        # link) is still accepted; nothing new is signed with them (README: rotating the key).
        SECRET_KEY_FALLBACKS=[
            key.strip() for key in environ.get("SECRET_KEY_FALLBACKS", "").split(",") if key.strip()
        ],
        # Logs: "json" (the default in production) or "text" (development); the level (INFO).
        LOG_FORMAT=environ.get("LOG_FORMAT") or None,
        LOG_LEVEL=environ.get("LOG_LEVEL", "INFO"),
        SQLALCHEMY_DATABASE_URI=database_url(environ["DATABASE_URL"])
        if environ.get("DATABASE_URL")
        else None,
        MAIL_SERVER=environ.get("MAIL_SERVER", "localhost"),
        MAIL_PORT=int(environ.get("MAIL_PORT", "25")),
        MAIL_USE_TLS=_bool(environ.get("MAIL_USE_TLS")),
        MAIL_USE_SSL=_bool(environ.get("MAIL_USE_SSL")),
        MAIL_USERNAME=environ.get("MAIL_USERNAME"),
        MAIL_PASSWORD=environ.get("MAIL_PASSWORD"),
        MAIL_DEFAULT_SENDER=environ.get(
            "MAIL_DEFAULT_SENDER", "Migrasjonshelsenettverkene <ikke-svar@nettverk.example>"
        ),
        RATELIMIT_STORAGE_URI=environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        METRICS_TOKEN=environ.get("METRICS_TOKEN") or None,  # /metrics' bearer token; unset: no metrics
        # How many proxies in front set X-Forwarded-For/-Proto (app.trust_proxies): 1 behind one TLS proxy.
        TRUSTED_PROXIES=int(environ.get("TRUSTED_PROXIES", "0")),
        # Where the app is reached: the links in mails are made from it.
        BASE_URL=environ.get("BASE_URL") or None,
        # The domain of each mail's Message-ID and List-Id; unset, the host of BASE_URL.
        MAIL_MESSAGE_ID_DOMAIN=environ.get("MAIL_MESSAGE_ID_DOMAIN") or None,
        # The organiser named in calendar invitations.
        MAIL_ORGANISER=environ.get("MAIL_ORGANISER", "nettverk@helsedir.no"),
        # Where an answer to a mail goes (its Reply-To): the coordinators' shared address; unset, none.
        MAIL_REPLY_TO=environ.get("MAIL_REPLY_TO") or None,
        # A former member's personal data is erased this long after their last membership ended
        # (``flask privacy purge``); the privacy statement says so.
        PRIVACY_RETENTION_DAYS=int(environ.get("PRIVACY_RETENTION_DAYS", "365")),
        # The text of a sent mail (bodies and calendar file) is forgotten this long after it went;
        # the row (to whom, subject, when) stays (``flask privacy purge``).
        MAIL_BODY_RETENTION_DAYS=int(environ.get("MAIL_BODY_RETENTION_DAYS", "90")),
        # The host suffixes a Teams webhook address may have, comma-separated (unset: Microsoft's –
        # models/teams.py MICROSOFT_WEBHOOK_HOSTS; empty: any public host).
        TEAMS_WEBHOOK_HOSTS=environ.get("TEAMS_WEBHOOK_HOSTS"),
        # Where the privacy and accessibility statements send questions and complaints.
        PRIVACY_CONTACT=environ.get("PRIVACY_CONTACT", "postmottak@helsedir.no"),
        # Coordinators must set up the second factor once their grace period ends: on unless 0
        # (off, only those who set it up are asked for it).
        TWO_FACTOR_REQUIRED=_bool(environ.get("TWO_FACTOR_REQUIRED", "1")),
        # Sign-in links by e-mail (the sign-in page's second way): on unless SIGN_IN_LINKS=0.
        SIGN_IN_LINKS=_bool(environ.get("SIGN_IN_LINKS", "1")),
        # Single sign-on (docs/single-sign-on.md): the OpenID Connect providers, none by default.
        OIDC_PROVIDERS=oidc_providers(environ),
        # Days a coordinator may use the coordinator pages before they ask for a second factor
        # (docs/second-factor.md).
        TWO_FACTOR_GRACE_DAYS=int(environ.get("TWO_FACTOR_GRACE_DAYS", "14")),
    )
    return cfg


OIDC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _list(value, separator=","):
    return [item.strip() for item in (value or "").split(separator) if item.strip()]


def oidc_providers(environ):
    """``OIDC_PROVIDERS=entra,idporten`` and for each ``OIDC_<NAME>_ISSUER``, ``_CLIENT_ID``,
    ``_CLIENT_SECRET``, ``_DISPLAY_NAME``, ``_SCOPES`` (default "openid email profile"),
    ``_ACR_VALUES`` (asked for), ``_TRUST_AMR`` and ``_TRUST_ACR`` (the ``amr``/``acr`` values
    that count as a second factor; empty: none), ``_TRUST_EMAIL`` (an ``email`` claim without
    ``email_verified`` is taken as verified – Entra ID, which sends none).  A list of dicts, in
    the order named; an incomplete one stops the app at start (``finish``)."""
    providers = []
    for name in _list(environ.get("OIDC_PROVIDERS")):
        name = name.lower()
        prefix = f"OIDC_{name.upper()}_"
        providers.append(
            {
                "name": name,
                "issuer": (environ.get(prefix + "ISSUER") or "").strip(),
                "client_id": (environ.get(prefix + "CLIENT_ID") or "").strip(),
                "client_secret": environ.get(prefix + "CLIENT_SECRET") or "",
                "display_name": (environ.get(prefix + "DISPLAY_NAME") or "").strip() or name.capitalize(),
                "scopes": environ.get(prefix + "SCOPES") or "openid email profile",
                "acr_values": (environ.get(prefix + "ACR_VALUES") or "").strip(),
                "trust_amr": _list(environ.get(prefix + "TRUST_AMR")),
                "trust_acr": _list(environ.get(prefix + "TRUST_ACR")),
                "trust_email": _bool(environ.get(prefix + "TRUST_EMAIL")),
            }
        )
    return providers


def check_oidc_providers(providers, production):
    """Refuse a provider without issuer or client id, a name used twice or not fit for a URL,
    a scope without "openid", and in production an issuer that is not https."""
    seen = set()
    for provider in providers:
        name = provider["name"]
        if not OIDC_NAME.match(name) or name in seen:
            raise RuntimeError(f"OIDC_PROVIDERS: {name!r} is not a usable name (a-z, 0-9, _; each once).")
        seen.add(name)
        prefix = f"OIDC_{name.upper()}_"
        for key in ("issuer", "client_id"):
            if not provider[key]:
                raise RuntimeError(f"{prefix}{key.upper()} is not set (single sign-on with {name}).")
        if "openid" not in provider["scopes"].split():
            raise RuntimeError(f"{prefix}SCOPES must include openid.")
        if production and not provider["issuer"].startswith("https://"):
            raise RuntimeError(f"{prefix}ISSUER must be an https:// address in production.")


def finish(app):
    """Fill what depends on the instance folder; refuse an unsafe production setup."""
    cfg = app.config
    development = cfg["ENV_NAME"] == "development" or app.testing
    if not cfg.get("SQLALCHEMY_DATABASE_URI"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        cfg["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + str(Path(app.instance_path, "tracker.sqlite"))
    if cfg["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # A database host that does not answer at all (a network cut) is given up after 5 s – a 503,
        # and /readyz says so – instead of holding a worker thread for minutes.
        options = dict(cfg["SQLALCHEMY_ENGINE_OPTIONS"])
        options["connect_args"] = {"connect_timeout": 5, **options.get("connect_args", {})}
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if not cfg.get("SECRET_KEY"):
        if not development:
            raise RuntimeError(
                "SECRET_KEY is not set. Set SECRET_KEY in the environment "
                "(or TRACKER_ENV=development on a developer's machine)."
            )
        cfg["SECRET_KEY"] = _development_secret(app.instance_path)
    cfg["PRODUCTION"] = not development
    if not cfg.get("BASE_URL"):
        if not development:
            raise RuntimeError("BASE_URL is not set: the address users reach the app at, for links in mails.")
        cfg["BASE_URL"] = "http://127.0.0.1:5000"
    # In development every mail is also written to the log, so its links can be followed
    # without an SMTP server.
    cfg.setdefault("MAIL_LOG_BODIES", development and not app.testing)
    check_oidc_providers(cfg.setdefault("OIDC_PROVIDERS", []), cfg["PRODUCTION"])
    if cfg["PRODUCTION"]:
        cfg.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True, PREFERRED_URL_SCHEME="https")


def _development_secret(instance_path):
    """A random key kept in the instance folder, so sessions survive a restart."""
    path = Path(instance_path, "dev-secret-key")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
