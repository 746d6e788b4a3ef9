"""``/healthz`` and ``/readyz``: what a load balancer or an orchestrator asks.

- ``/healthz`` – the process answers (no I/O at all): restart it if this fails.
- ``/readyz`` – it can serve: the database answers ``SELECT 1`` and is at the migrations' head.
  503 with a JSON body naming what failed; send no traffic to it meanwhile.  Redis (the rate
  limits' storage) is reported but does not make the app unready: without it the limits are
  counted per process in memory (``extensions.limiter``), and taking every instance out of the
  load balancer because Redis is away would turn a degraded service into none.

Both are public (``public.read``: they say nothing about anyone), exempt from the rate limits,
set no cookie and are left out of the access log.  The cause of a failure is logged, not shown.
"""

import logging
import os

from alembic.script import ScriptDirectory
from flask import current_app, jsonify
from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError

from blueprints.ops import bp
from extensions import db, limiter
from logs import describe_database_error
from models import policy

log = logging.getLogger(__name__)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    policy.require("public.read")
    return _answer({"status": "ok"}, 200)


@bp.get("/readyz")
@limiter.exempt
def readyz():
    policy.require("public.read")
    checks = {"database": "ok", "migrations": "ok", "rate_limit_storage": rate_limit_storage()}
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            revision = current_revision(connection)
    except SQLAlchemyError as error:
        log.warning("not ready: database unavailable: %s", describe_database_error(error))
        checks.update(database="unavailable", migrations="unknown")
    else:
        head = migrations_head()
        if revision != head:
            log.warning(
                "not ready: the database is at revision %s, the code at %s: run flask db upgrade",
                revision,
                head,
            )
            checks["migrations"] = f"database at {revision}, code at {head}"
    ready = checks["database"] == "ok" and checks["migrations"] == "ok"
    degraded = checks["rate_limit_storage"] == "unavailable"
    status = "ok" if ready and not degraded else ("degraded" if ready else "unavailable")
    return _answer({"status": status, "checks": checks}, 200 if ready else 503)


def current_revision(connection):
    """The database's alembic revision (None: never migrated) – read directly, as alembic's own
    ``MigrationContext`` would log two lines at every probe."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def rate_limit_storage():
    """ "memory" (development, tests), "ok" (Redis answers) or "unavailable"."""
    if current_app.config.get("RATELIMIT_STORAGE_URI", "memory://").startswith("memory://"):
        return "memory"
    try:
        return "ok" if limiter.storage.check() else "unavailable"
    except Exception:  # the storage library's own errors (redis.ConnectionError, …)
        return "unavailable"


def migrations_head():
    """The newest revision the code has (read once: the files do not change while it runs)."""
    heads = current_app.extensions.setdefault("migrations_head", [])
    if not heads:
        directory = os.path.join(current_app.root_path, current_app.extensions["migrate"].directory)
        script = ScriptDirectory(directory)
        heads.append(script.get_current_head())
    return heads[0]


def _answer(body, status):
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
