"""Heartbeats: each long-running worker and each cron command writes when it last ran and how it
went, so the metrics endpoint and the coordinator's home can tell an operator that mail has
stopped going out (a worker that died, a timer that no longer fires)."""

import contextlib
import logging
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType
from typing import Any, TypeVar

from sqlalchemy import String, select
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from extensions import Model, db
from models.types import UTCDateTime, utcnow


class Heartbeat(Model):
    __tablename__ = "heartbeats"

    # What beats: "outbox" (the mail worker), "meetings remind", "reviews tick", …
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Which host and process ("web-1:4711"), and the last round's outcome or error, for the operator.
    host: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[str | None] = mapped_column(String(500))


# -- writing and reading beats ------------------------------------------------------------------------

log = logging.getLogger("tracker.cron")

WORKER = "outbox"  # the mail worker's heartbeat (``flask outbox send --loop``)
# The worker beats every few seconds; this long without a beat while mail is due, it is not running.
WORKER_STALE = timedelta(minutes=10)
# What a database that restarts, fails over or is briefly unreachable raises: worth trying again.
TRANSIENT = (OperationalError, InterfaceError)
T = TypeVar("T")
SignalHandler = Callable[[int, FrameType | None], Any] | int | None
_ADDRESS = re.compile(r"[^\s<>()\[\]'\",;:]+@[^\s<>()\[\]'\",;:]+")


def host() -> str:
    """This process, as the operator finds it: "web-1:4711"."""
    return f"{socket.gethostname()}:{os.getpid()}"[:255]


def beat(name: str, detail: str | None = None, now: datetime | None = None) -> None:
    """Record that ``name`` ran just now and how it went, and commit.

    One statement that inserts the row or updates it (``INSERT … ON CONFLICT DO UPDATE``, which
    SQLite and PostgreSQL both have): two hosts running the same command at once both succeed,
    the later one's beat stays."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert: Callable[[type[Heartbeat]], postgresql.Insert | sqlite.Insert] = (
        postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    statement = insert(Heartbeat).values(
        name=name, beat_at=now or utcnow(), host=host(), detail=(detail or "")[:500] or None
    )
    statement = statement.on_conflict_do_update(
        index_elements=[Heartbeat.name],
        set_={column: statement.excluded[column] for column in ("beat_at", "host", "detail")},
    )
    db.session.execute(statement)
    db.session.commit()


def age_seconds(name: str, now: datetime | None = None) -> float | None:
    """Seconds since ``name`` last beat; None if it never did."""
    beat_at = db.session.scalar(select(Heartbeat.beat_at).where(Heartbeat.name == name))
    return None if beat_at is None else ((now or utcnow()) - beat_at).total_seconds()


def worker_stalled_since(oldest_due: datetime | None, now: datetime | None = None) -> datetime | None:
    """When mail is due (``oldest_due``: when the oldest mail that waits now was written, None if
    none waits) and the mail worker has not beaten for ``WORKER_STALE``: since when it has not run
    (its last beat; if it never beat, the oldest waiting mail's time).  None when all is well.
    One query, and only when mail waits."""
    if oldest_due is None:
        return None
    now = now or utcnow()
    last = db.session.scalar(select(Heartbeat.beat_at).where(Heartbeat.name == WORKER))
    if last is None:
        return oldest_due if now - oldest_due > WORKER_STALE else None
    return last if now - last > WORKER_STALE else None


def reason(exc: BaseException) -> str:
    """One line an operator can act on – the error's kind and its first line – with any e-mail
    address in it replaced (an SMTP refusal quotes the recipient)."""
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    text = _ADDRESS.sub("<address>", text)[:300]
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


# Set by SIGTERM (``systemctl stop``) while the worker runs: it finishes its round and ends.
_stopping = threading.Event()


def stopping() -> bool:
    """Whether the worker was asked to stop (SIGTERM): a round ends after the batch in progress."""
    return _stopping.is_set()


def pause(seconds: float) -> None:
    """Wait between attempts or rounds – cut short by a stop (a function of its own, so a test can
    count the waits)."""
    _stopping.wait(seconds)


# -- cron commands ----------------------------------------------------------------------------------


class Unavailable(Exception):
    """The database did not answer for the whole retry period: the command gives up."""

    def __init__(self, name: str, attempts: int, seconds: float, why: str) -> None:
        super().__init__(
            f"{name}: gave up after {attempts} attempts in {seconds:.0f} s: "
            f"the database is unavailable ({why})"
        )
        self.attempts = attempts


def run(name: str, work: Callable[[], T], retry_for: float = 120, describe: Callable[[T], str] = str) -> T:
    """Run a cron command's ``work()`` (which commits), then record its heartbeat.

    A database that is away for a moment (a restart, a failover) is waited for: the work is tried
    again after 1, 2, 4, … (at most 30) seconds until ``retry_for`` seconds have passed, then
    ``Unavailable`` is raised.  The commands are safe to run again (each reminder and each step is
    claimed once in the database), so a try cut off half-way is simply done again.  Returns what
    ``work()`` returned; ``describe(result)`` is the heartbeat's detail."""
    started = time.monotonic()
    attempts, wait = 0, 1.0
    while True:
        attempts += 1
        try:
            result = work()
            beat(name, describe(result))
        except TRANSIENT as exc:
            _discard_session()
            why = reason(exc)
            left = retry_for - (time.monotonic() - started)
            if left <= 0:
                log.error("%s: attempt %d failed, giving up: database unavailable (%s)", name, attempts, why)
                raise Unavailable(name, attempts, time.monotonic() - started, why) from exc
            log.warning(
                "%s: attempt %d failed: database unavailable (%s); trying again in %.0f s",
                name,
                attempts,
                why,
                min(wait, left),
            )
            pause(min(wait, left))
            wait = min(wait * 2, 30)
            continue
        log.info("%s: done (%s) in %.1f s", name, describe(result), time.monotonic() - started)
        return result


# -- the mail worker ----------------------------------------------------------------------------------


def keep_running(
    name: str,
    round_: Callable[[], str | None],
    interval: float,
    logger: logging.Logger | None = None,
    max_pause: float = 60,
) -> None:
    """Run ``round_()`` every ``interval`` seconds for as long as the process lives.

    Each round's outcome (what ``round_`` returns) is the heartbeat's detail.  A round that raises
    does not end the loop: a database that is away is logged as such, anything else with its
    traceback, and the next round comes after a pause that doubles up to ``max_pause`` seconds
    (the pool's pre-ping reconnects once the database answers).  Only KeyboardInterrupt and
    SystemExit end it – and SIGTERM (``systemctl stop``), which lets the round in progress finish
    first, so no mail is cut off between the server's 250 and its "sent"."""
    logger = logger or log
    _stopping.clear()
    previous = _on_sigterm(lambda *_: _stopping.set())
    try:
        _rounds(name, round_, interval, logger, max_pause)
        logger.info("%s: stopped (SIGTERM)", name)
    finally:
        _on_sigterm(previous)
        _stopping.clear()


def _on_sigterm(handler: SignalHandler) -> SignalHandler:
    """Install ``handler`` for SIGTERM (in the main thread only, where signals are handled); returns
    the one it replaced."""
    if handler is None or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


def _rounds(
    name: str, round_: Callable[[], str | None], interval: float, logger: logging.Logger, max_pause: float
) -> None:
    wait = interval
    while not _stopping.is_set():
        try:
            detail = round_()
            beat(name, detail)
        except TRANSIENT as exc:
            _discard_session()
            logger.warning("%s: database unavailable (%s); trying again in %.0f s", name, reason(exc), wait)
            _beat_quietly(name, f"database unavailable: {reason(exc)}")
        except Exception as exc:
            _discard_session()
            logger.exception("%s: the round failed (%s); trying again in %.0f s", name, reason(exc), wait)
            _beat_quietly(name, f"error: {reason(exc)}")
        else:
            wait = interval
            db.session.remove()
            pause(interval)
            continue
        pause(wait)
        wait = min(max(wait, 1) * 2, max_pause)


def _beat_quietly(name: str, detail: str) -> None:
    """The beat of a round that failed: written if the database answers, else given up."""
    try:
        beat(name, detail)
    except SQLAlchemyError:
        _discard_session()


def _discard_session() -> None:
    """End the session of a failed try; a rollback on a cut connection may itself fail."""
    try:
        db.session.remove()
    except SQLAlchemyError:
        with contextlib.suppress(SQLAlchemyError):
            db.session().invalidate()
        db.session.registry.clear()
