"""How an operation reads the state it starts from: in the database, at the moment it acts.

Every state change is one operation in ``models/`` that begins by taking its row – ``lock`` (a row
lock: ``SELECT … FOR UPDATE`` on PostgreSQL, where a second request waits for the first to commit
and then reads what it left) – or by claiming it – ``claim`` (a conditional ``UPDATE … WHERE
<state still as expected>`` whose row count decides).  Only then does it check the state and act,
so that two requests at the same moment (a double click, two tabs, two cron hosts) give one effect
and one clear answer.

SQLite has no row locks; there a request that writes (any method but GET, HEAD, OPTIONS) begins
its transaction with ``BEGIN IMMEDIATE`` (see ``serialise_sqlite_writes``), so writing requests
run one after another and each reads what the one before it committed.
"""

from collections.abc import Sequence
from typing import Any, TypeVar, cast

from flask import has_request_context, request
from sqlalchemy import Delete, Engine, Row, Update, event, inspect, select
from sqlalchemy.engine import Connection, CursorResult

from extensions import Model, db

SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))

M = TypeVar("M", bound=Model)


def lock(obj: M) -> M:
    """Take ``obj``'s row for the rest of the transaction and read it afresh; returns ``obj``.

    Its columns are reloaded (``populate_existing``), so a value read earlier in the request –
    possibly before another request committed – is replaced by the one in the database now.
    Relationships already loaded are reloaded too when next read.
    """
    model = type(obj)
    identity = inspect(obj).identity
    if identity is None:
        raise ValueError("lock() takes an object that is in the database (loaded or flushed)")
    mapper = inspect(model)
    key = [column == value for column, value in zip(mapper.primary_key, identity, strict=True)]
    db.session.execute(
        select(model).where(*key).with_for_update(of=model).execution_options(populate_existing=True)
    ).scalar_one()
    for relationship in mapper.relationships:
        if relationship.key in obj.__dict__ and not relationship.viewonly:
            db.session.expire(obj, [relationship.key])
    return obj


def real(obj: M) -> M:
    """The object behind a proxy (flask_login's ``current_user``): a row lock needs the mapped
    object itself."""
    found: M = obj._get_current_object() if hasattr(obj, "_get_current_object") else obj
    return found


def locked(model: type[M], ident: Any) -> M | None:
    """The row of ``model`` with primary key ``ident``, locked and read afresh; None if it is gone."""
    return db.session.execute(
        select(model)
        .where(*[c == v for c, v in zip(inspect(model).primary_key, _tuple(ident), strict=True)])
        .with_for_update(of=model)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def claim(statement: Update | Delete) -> bool:
    """Run a conditional ``UPDATE`` (or ``DELETE``); True if it changed exactly one row.

    The ``WHERE`` names the state the operation starts from; on PostgreSQL a concurrent claim
    waits for the row and re-checks the condition after the other commits, so only one wins.
    Objects loaded earlier are not refreshed: ``lock`` or ``db.session.refresh`` them if needed.
    """
    result = cast(
        "CursorResult[Any]", db.session.execute(statement.execution_options(synchronize_session=False))
    )
    return result.rowcount == 1


def claim_rows(statement: Update | Delete) -> Sequence[Row[Any]]:
    """Run a conditional ``UPDATE … RETURNING`` and return the rows it claimed (cron commands:
    two overlapping runs each get a disjoint share, so each mail goes once)."""
    return db.session.execute(statement.execution_options(synchronize_session=False)).all()


def _tuple(ident: Any) -> tuple[Any, ...]:
    return ident if isinstance(ident, tuple) else (ident,)


def serialise_sqlite_writes(engine: Engine) -> None:
    """On SQLite, a writing request's transaction begins ``IMMEDIATE``: it takes the database's
    write lock first (waiting ``busy_timeout`` for another writer), so the state it reads is
    the state it writes over.  Reading requests and commands keep pysqlite's own handling (a
    transaction begins at the first write; a read sees the latest commit).

    For the writing ones pysqlite's handling is switched off (``isolation_level = None``,
    SQLAlchemy's documented recipe) and the ``BEGIN IMMEDIATE`` is said here.
    """

    @event.listens_for(engine, "begin")
    def begin(connection: Connection) -> None:
        dbapi_connection = connection.connection.dbapi_connection
        assert dbapi_connection is not None  # a connection that has begun a transaction is open
        if has_request_context() and request.method not in SAFE_METHODS:
            dbapi_connection.isolation_level = None
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            dbapi_connection.isolation_level = ""
