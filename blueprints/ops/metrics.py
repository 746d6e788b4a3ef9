"""``GET /metrics``: Prometheus's scrape, for the operator's alerts.

- Off unless ``METRICS_TOKEN`` is set (404); the scraper sends ``Authorization: Bearer <token>``
  (anything else: 401).  The figures are no one's personal data, but they tell an outsider how
  busy the service is and which routes exist.
- Per request: ``tracker_http_requests_total`` and ``tracker_http_request_duration_seconds``,
  labelled by the Flask endpoint (``auth.sign_in``), the method and the status class (``2xx``) –
  never by the path, which may carry a token or an id.
- At each scrape, read from the database in two statements (a custom collector): the outbox
  (``tracker_outbox_pending``, ``tracker_outbox_oldest_pending_age_seconds``,
  ``tracker_outbox_failed``, per channel), the heartbeats (``tracker_heartbeat_age_seconds``, per
  worker or command), the open review cycles, and whether the database answered
  (``tracker_database_up``).
- Under gunicorn's several worker processes, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
  the processes share (``deploy/systemd/tracker-web.service``: ``/run/tracker-web``): each process
  writes its counts there and a scrape, answered by any one of them, adds them all up
  (``prometheus_client``'s multiprocess mode; ``gunicorn.conf.py`` empties it at start and marks a
  worker that exits).  Unset, each process counts alone (development, tests).

Registered by ``init_app(app)``; exempt from the rate limits and sets no cookie.  docs/monitoring.md
lists the metrics and the alerts to build on them.
"""

import contextlib
import hmac
import os
import time

from flask import Blueprint, Response, abort, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from sqlalchemy import func, select, true
from sqlalchemy.exc import SQLAlchemyError

from extensions import db, limiter
from models import policy
from models.heartbeat import Heartbeat, reason
from models.outbox import Channel, OutboxMessage, OutboxStatus
from models.review import CycleStatus, ReviewCycle
from models.types import utcnow

bp = Blueprint("ops_metrics", __name__)
metrics_bp = bp

# Not in prometheus_client's global registry: a scrape builds its own (``_registry``), so two apps
# in one process (the tests) share the counts without registering the same names twice.
REQUESTS = Counter(
    "tracker_http_requests",
    "Requests answered, by Flask endpoint, method and status class.",
    ["endpoint", "method", "status"],
    registry=None,
)
LATENCY = Histogram(
    "tracker_http_request_duration_seconds",
    "Time to answer a request, by Flask endpoint and method.",
    ["endpoint", "method"],
    registry=None,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))


def init_app(app):
    """Register the scrape and the per-request counting (its clock starts before any other hook)."""
    app.register_blueprint(bp)
    limiter.exempt(bp)
    app.before_request_funcs.setdefault(None, []).insert(0, _start_clock)
    app.after_request(_count)


def _start_clock():
    g.metrics_started = time.perf_counter()


def _count(response):
    """One request counted.  The labels are bounded: the endpoint of the matched rule ("unmatched"
    for a path no rule matches), a known method or "other", the status class."""
    endpoint = request.endpoint or "unmatched"
    method = request.method if request.method in METHODS else "other"
    REQUESTS.labels(endpoint, method, f"{response.status_code // 100}xx").inc()
    started = g.get("metrics_started")
    if started is not None:
        LATENCY.labels(endpoint, method).observe(time.perf_counter() - started)
    return response


@bp.get("/metrics")
def metrics():
    policy.require("public.token_link")  # the bearer token is the permission
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        abort(404)  # metrics are off
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return Response(
            "A bearer token is needed.\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
            mimetype="text/plain",
        )
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = Response(encoder(_registry()), 200, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response


def _registry():
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # every process's counts, from the shared directory
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(DatabaseCollector())
    return registry


class DatabaseCollector:
    """The gauges an operator alerts on, read from the database at each scrape (two statements)."""

    def collect(self):
        up = GaugeMetricFamily(
            "tracker_database_up", "1 if the database answered the scrape's queries, else 0."
        )
        try:
            outbox, beats, open_reviews = self.read()
        except SQLAlchemyError as exc:
            current_app.logger.warning("metrics: database unavailable: %s", reason(exc))
            with contextlib.suppress(SQLAlchemyError):
                db.session.rollback()
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        now = utcnow()
        pending = GaugeMetricFamily(
            "tracker_outbox_pending",
            "Mails and Teams posts not yet sent (waiting, in back-off after a failed try, or being sent).",
            labels=["channel"],
        )
        oldest = GaugeMetricFamily(
            "tracker_outbox_oldest_pending_age_seconds",
            "Seconds since the oldest mail or post not yet sent was written (0: none waits).",
            labels=["channel"],
        )
        failed = GaugeMetricFamily(
            "tracker_outbox_failed",
            "Mails and posts given up on (refused, or attempts used up); a coordinator may send them again.",
            labels=["channel"],
        )
        for channel in Channel:
            figures = outbox.get(channel.value, {})
            waiting = [
                figures.get(status, (0, None)) for status in (OutboxStatus.PENDING, OutboxStatus.SENDING)
            ]
            pending.add_metric([channel.value], sum(count for count, _ in waiting))
            times = [since for _, since in waiting if since is not None]
            oldest.add_metric([channel.value], max((now - min(times)).total_seconds(), 0) if times else 0)
            failed.add_metric([channel.value], figures.get(OutboxStatus.FAILED, (0, None))[0])
        yield from (pending, oldest, failed)
        ages = GaugeMetricFamily(
            "tracker_heartbeat_age_seconds",
            'Seconds since the worker or cron command last ran ("outbox": the mail worker).',
            labels=["name"],
        )
        for name, beat_at in beats:
            ages.add_metric([name], max((now - beat_at).total_seconds(), 0))
        yield ages
        yield GaugeMetricFamily(
            "tracker_review_cycles_open", "Yearly review cycles open.", value=open_reviews
        )

    @staticmethod
    def read():
        """({channel: {status: (count, oldest created_at)}}, [(heartbeat name, beat_at)], open cycles)."""
        outbox = {}
        for channel, status, count, since in db.session.execute(
            select(
                OutboxMessage.channel, OutboxMessage.status, func.count(), func.min(OutboxMessage.created_at)
            )
            .where(
                OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED])
            )
            .group_by(OutboxMessage.channel, OutboxMessage.status)
        ):
            outbox.setdefault(Channel(channel).value, {})[OutboxStatus(status)] = (count, since)
        # The open cycles' count (one row), joined to every heartbeat (none yet: one row of NULLs).
        cycles = (
            select(func.count().label("open"))
            .select_from(ReviewCycle)
            .where(ReviewCycle.status == CycleStatus.OPEN)
            .subquery()
        )
        rows = db.session.execute(
            select(cycles.c.open, Heartbeat.name, Heartbeat.beat_at)
            .select_from(cycles)
            .outerjoin(Heartbeat, true())
            .order_by(Heartbeat.name)
        ).all()
        db.session.rollback()  # read only: give the connection back now
        return outbox, [(name, beat_at) for _, name, beat_at in rows if name is not None], rows[0].open

    def describe(self):
        return []  # computed at each scrape: nothing to check at registration
