"""Logging for the web app, the mail worker and the cron commands, set up once in ``create_app``.

- One handler on the root logger, to stderr (systemd's journal, or gunicorn's error log):
  JSON lines in production (``python-json-logger``), readable lines in development;
  ``LOG_FORMAT`` (``json``/``text``) and ``LOG_LEVEL`` (default ``INFO``) override.
- Every line carries a request id: the ``X-Request-ID`` a proxy sent (if it looks like one), or a
  new one; the response returns it, and the outbox rows the request writes keep it, so a mail can
  be followed back to the request.  Outside a request (a cron command, the worker) the id is the
  run's own (``run-…``), one per process.
- The access log (logger ``tracker.access``) is the app's, one line per request: method, path,
  status, time, the member's id.  Paths and query strings are *redacted*: a path segment long
  enough to be a token (every mailed link carries one) and every query value but a plain number
  (search text) are replaced.  The app logs ids, never e-mail addresses.  Leave gunicorn's own
  access log off, or use the redacting ``logger_class`` of ``gunicorn.conf.py``.
"""

import logging
import re
import time
import uuid
from urllib.parse import parse_qsl, urlencode

from flask import Flask, Response, g, has_request_context, request

ACCESS = logging.getLogger("tracker.access")
REQUEST_ID_HEADER = "X-Request-ID"
# What a request id from a proxy may look like (a UUID, a trace id); anything else is replaced.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
# A path segment this long is a token (itsdangerous: payload.timestamp.signature) – or a name in a
# path, which is personal too.  The app's own path segments (ids, words) are shorter.
_TOKEN_SEGMENT = re.compile(r"[^/]{20,}")
_NUMBER = re.compile(r"\d{1,10}")
REDACTED = "[redacted]"
# Requests that are not worth a line each: load balancers' probes, the metrics scrape, static files.
QUIET_ENDPOINTS = {"static", "ops.healthz", "ops.readyz", "ops_metrics.metrics"}

_RUN_ID = f"run-{uuid.uuid4().hex[:12]}"
_HANDLER_MARK = "_tracker_handler"


def current_request_id() -> str:
    """The id of the request being served, or of this run of a command (the outbox column's default)."""
    if has_request_context():
        request_id: str = g.get("request_id") or _RUN_ID
        return request_id
    return _RUN_ID


def redact_path(path: str, query_string: str | bytes = "") -> str:
    """``/reset-password/<token>?q=anne`` → ``/reset-password/[redacted]?q=[redacted]``."""
    path = _TOKEN_SEGMENT.sub(lambda m: REDACTED + _extension(m.group()), path)
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    if not query_string:
        return path
    pairs = [
        (key if len(key) < 20 else REDACTED, value if _NUMBER.fullmatch(value) else REDACTED)
        for key, value in parse_qsl(query_string, keep_blank_values=True)
    ]
    return f"{path}?{urlencode(pairs, safe='[]')}"


def _extension(segment: str) -> str:
    """A token's ``.ics`` (the calendar feed) is kept: it says what was asked for, not who."""
    return ".ics" if segment.endswith(".ics") else ""


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


class _WerkzeugRequestLines(logging.Filter):
    """The development server's own request lines carry the full path (tokens and all); the
    app's access log replaces them.  Its other lines (where it listens) pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return " - - [" not in record.getMessage()


def formatter(kind: str) -> logging.Formatter:
    if kind == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
    return logging.Formatter("%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s")


def configure(app: Flask) -> None:
    """Install the handler (once per process: a second app replaces it) and the request hooks."""
    cfg = app.config
    kind = cfg.get("LOG_FORMAT") or ("json" if cfg["PRODUCTION"] else "text")
    level = (cfg.get("LOG_LEVEL") or "INFO").upper()
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler()
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(formatter(kind))
    handler.addFilter(_RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level)
    # Flask adds its own handler to app.logger only if none would print: ours does.
    app.logger.setLevel(level)
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, _WerkzeugRequestLines) for f in werkzeug.filters):
        werkzeug.addFilter(_WerkzeugRequestLines())
    app.before_request(start_request)
    app.after_request(finish_request)


def start_request() -> None:
    """First of the app's hooks: the request's id and start time."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def finish_request(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = current_request_id()
    if request.endpoint not in QUIET_ENDPOINTS:
        access_line(response.status_code)
    return response


def access_line(status: int) -> None:
    from flask_login import current_user
    from sqlalchemy.exc import SQLAlchemyError

    elapsed = (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000
    path = redact_path(request.path, request.query_string)
    try:
        member = current_user.get_id() if current_user.is_authenticated else None
    except SQLAlchemyError:  # the database is away (a 503): the line is still written
        member = None
    ACCESS.info(
        "%s %s %s %.0f ms",
        request.method,
        path,
        status,
        elapsed,
        extra={
            "method": request.method,
            "path": path,
            "status": status,
            "duration_ms": round(elapsed, 1),
            "member": member,
            "remote_addr": request.remote_addr,
        },
    )


def describe_database_error(error: BaseException) -> str:
    """What the database (driver) said, for the log: the class and its first line – "connection
    refused", "database … does not exist", "database is locked" – never the statement or its
    parameters (SQLAlchemy's own message carries both, and parameters are personal data)."""
    orig = getattr(error, "orig", None) or error
    first_line = (str(orig).strip().splitlines() or [""])[0]
    return f"{type(orig).__name__}: {first_line[:300]}"
