"""Moving the data between databases (``flask data export`` / ``import``) and backing up SQLite
(``flask data backup``).

The export holds every table the app defines (``db.metadata``), row by row, read and written
through the columns' own types: a datetime, an enum, a JSON document or a calendar file comes
out on the other side as it went in, whether it left SQLite or PostgreSQL.  The file is JSON
Lines (gzip-compressed when its name ends in ``.gz``):

    {"format": "nettverk-tracker-data", "version": 1, "revision": "<alembic>", "tables": {name: rows}}
    {"table": "networks", "columns": ["id", "code", ...]}
    [1, "NIK", ...]                        one line per row, ordered by primary key
    {"table": "organisations", ...}        the next table, in dependency order

It goes only into a database at the same migration revision that holds no rows (a freshly
migrated one), in one transaction, and is checked before that commits: each table's count as
the file says, and every reference resolved.
"""

import base64
import datetime
import enum
import gzip
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, cast

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Date,
    DateTime,
    Enum,
    LargeBinary,
    Table,
    bindparam,
    func,
    inspect,
    null,
    select,
    text,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

from extensions import db

FORMAT = "nettverk-tracker-data"
VERSION = 1
BATCH = 1000


class TransferError(Exception):
    """The move or backup cannot be done as asked; the message says why and what to do."""


# -- values -------------------------------------------------------------------------------------


def _base_type(column: Column[Any]) -> TypeEngine[Any]:
    kind = column.type
    return kind.impl_instance if isinstance(kind, TypeDecorator) else kind


# A value as it goes into the file's JSON (Any in, since a column may hold anything JSON holds).
JSONValue = str | int | float | bool | None


def _encode(column: Column[Any], value: Any) -> JSONValue:
    """A column's Python value as JSON: exact, and decoded by ``_decode`` for the same column."""
    if value is None:
        return None
    kind = _base_type(column)
    if isinstance(kind, JSON):  # as its JSON text: a JSON null stays distinct from SQL NULL
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(kind, LargeBinary):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, enum.Enum):
        stored: JSONValue = value.value
        return stored
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)):
        return value
    raise TransferError(f"{column.table.name}.{column.name}: no way to write a {type(value).__name__} value")


def _decode(column: Column[Any], value: Any) -> Any:
    kind = _base_type(column)
    if isinstance(kind, JSON):
        if value is None:
            return null()  # SQL NULL even where the column writes None as JSON null
        loaded = json.loads(value)
        return JSON.NULL if loaded is None else loaded
    if value is None:
        return None
    if isinstance(kind, LargeBinary):
        return base64.b64decode(value)
    if isinstance(kind, DateTime):
        return datetime.datetime.fromisoformat(value)
    if isinstance(kind, Date):
        return datetime.date.fromisoformat(value)
    if isinstance(kind, Enum) and kind.enum_class is not None:
        return kind.enum_class(value)
    return value


# -- export ---------------------------------------------------------------------------------------


def _open(path: str | Path, mode: str, compressed: bool | None = None) -> IO[str]:
    if compressed if compressed is not None else str(path).endswith(".gz"):
        return cast(IO[str], gzip.open(path, mode + "t", encoding="utf-8"))  # text mode: "rt", "wt"
    return open(path, mode, encoding="utf-8")


def _revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    revision: str | None = connection.scalar(text("SELECT version_num FROM alembic_version"))
    return revision


def _snapshot(connection: Connection) -> Connection:
    """Read every table as of one moment: a repeatable-read transaction on PostgreSQL, an
    explicit one on SQLite (whose driver otherwise gives each SELECT its own moment)."""
    if connection.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        connection.begin()
    else:
        connection.exec_driver_sql("BEGIN")
    return connection


def export(path: str | Path) -> dict[str, int]:
    """Write every table to ``path``; returns {table: rows}, in the order written."""
    tables = db.metadata.sorted_tables
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    with db.engine.connect() as connection:
        connection = _snapshot(connection)
        try:
            revision = _revision(connection)
            if revision is None:
                raise TransferError("The database has no migration revision: is it the tracker's database?")
            counts = {t.name: connection.scalar(select(func.count()).select_from(t)) or 0 for t in tables}
            with _open(partial, "w", compressed=path.name.endswith(".gz")) as out:
                header = {"format": FORMAT, "version": VERSION, "revision": revision, "tables": counts}
                out.write(json.dumps(header) + "\n")
                for table in tables:
                    columns = list(table.columns)
                    out.write(json.dumps({"table": table.name, "columns": [c.name for c in columns]}) + "\n")
                    rows = connection.execution_options(stream_results=True, max_row_buffer=BATCH).execute(
                        select(table).order_by(*table.primary_key.columns)
                    )
                    for row in rows:
                        values = [_encode(c, v) for c, v in zip(columns, row, strict=True)]
                        out.write(json.dumps(values, ensure_ascii=False) + "\n")
        finally:
            connection.rollback()
    os.replace(partial, path)
    return counts


# -- import ---------------------------------------------------------------------------------------


def _read(path: str | Path) -> tuple[dict[str, Any], IO[str]]:
    """The file's header, then (table, column names, row iterator) for each table in turn."""
    try:
        source = _open(path, "r")
        header = json.loads(source.readline())
    except (OSError, ValueError) as error:
        raise TransferError(f"{path} is not an export of this app: {error}") from error
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        source.close()
        raise TransferError(f"{path} is not an export of this app (made by «flask data export»).")
    if header.get("version") != VERSION:
        source.close()
        raise TransferError(f"{path} is in export format {header.get('version')}; this app reads {VERSION}.")
    return header, source


def _tables_in(source: IO[str]) -> Iterator[tuple[dict[str, Any], list[list[Any]], bool]]:
    line = source.readline()
    while line:
        start = json.loads(line)
        rows: list[list[Any]] = []
        line = source.readline()
        while line and line.startswith("["):
            rows.append(json.loads(line))
            if len(rows) == BATCH:
                yield start, rows, False
                rows = []
            line = source.readline()
        yield start, rows, True


def _deferred_columns(table: Table, position: int) -> set[str]:
    """The foreign-key columns that refer to this table itself or to a table written after it (a
    cycle): written NULL first and filled in once every row of the tables they refer to is there."""
    later = {t.name for t in db.metadata.sorted_tables[position:]}
    columns: set[str] = set()
    for fk in table.foreign_keys:
        if fk.column.table.name in later:
            if not fk.parent.nullable:
                raise TransferError(
                    f"{table.name}.{fk.parent.name} refers to a table written later and "
                    "may not be NULL: this app's tables cannot be moved in one order"
                )
            columns.add(fk.parent.name)
    return columns


def import_(path: str | Path, replace: bool = False) -> dict[str, int]:
    """Copy an export into this database; returns {table: rows}.  Refuses a database at another
    revision, or one that holds rows unless ``replace`` (then its rows go, in the same transaction)."""
    header, source = _read(path)
    with source, db.engine.connect() as connection:
        here = _revision(connection)
        if here != header["revision"]:
            raise TransferError(
                f"This database is at migration revision {here or 'none'}; the file was exported at "
                f"{header['revision']}.  Import into a database migrated to the same revision "
                "(«flask db upgrade» with the same version of the app)."
            )
        tables = db.metadata.sorted_tables
        known = {t.name for t in tables}
        if set(header["tables"]) != known:
            raise TransferError(
                f"The file's tables differ from this app's: {sorted(set(header['tables']) ^ known)}"
            )
        filled = {t.name: n for t in tables if (n := connection.scalar(select(func.count()).select_from(t)))}
        if filled and not replace:
            raise TransferError(
                "This database holds rows already ("
                + ", ".join(f"{name}: {n}" for name, n in filled.items())
                + "); import into an empty, freshly migrated database, "
                "or give --replace to delete them first."
            )
        if filled:
            for table in reversed(tables):
                connection.execute(table.delete())
        by_name = {t.name: t for t in tables}
        later: list[
            dict[str, Any]
        ] = []  # (primary key, cyclic references) of the current table's rows, filled in at its end
        for start, rows, last in _tables_in(source):
            table = by_name[start["table"]]
            columns = [table.c[name] for name in start["columns"]]
            deferred = _deferred_columns(table, tables.index(table))
            values = [{c.name: _decode(c, v) for c, v in zip(columns, row, strict=True)} for row in rows]
            if deferred:
                later += [
                    {
                        **{f"pk_{c.name}": v[c.name] for c in table.primary_key.columns},
                        **{name: v[name] for name in deferred},
                    }
                    for v in values
                    if any(v[name] is not None for name in deferred)
                ]
                values = [{**v, **dict.fromkeys(deferred)} for v in values]
            if values:
                connection.execute(table.insert(), values)
            if last and later:
                _fill_deferred(connection, table, deferred, later)
                later = []
        _move_sequences(connection, tables)
        counts = _verify(connection, tables, header["tables"])
        connection.commit()
    return counts


def _fill_deferred(
    connection: Connection, table: Table, deferred: set[str], later: list[dict[str, Any]]
) -> None:
    where = [c == bindparam(f"pk_{c.name}") for c in table.primary_key.columns]
    statement = table.update().where(*where).values({name: bindparam(name) for name in deferred})
    connection.execute(statement, later)


def _move_sequences(connection: Connection, tables: Sequence[Table]) -> None:
    """PostgreSQL hands out ids from a sequence that the copied ids did not move: set each past
    its table's largest id, so the next row gets a fresh one."""
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        column = table.autoincrement_column
        if column is not None:
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                    f"COALESCE((SELECT max({column.name}) FROM {table.name}), 1), "
                    f"(SELECT max({column.name}) FROM {table.name}) IS NOT NULL)"
                ),
                {"table": table.name, "column": column.name},
            )


def _verify(connection: Connection, tables: Sequence[Table], expected: dict[str, int]) -> dict[str, int]:
    """Before the commit: each table holds as many rows as the file says, and every reference
    resolves (PostgreSQL checks as it goes; SQLite is asked)."""
    counts = {t.name: connection.scalar(select(func.count()).select_from(t)) or 0 for t in tables}
    wrong = {name: (n, expected[name]) for name, n in counts.items() if n != expected[name]}
    if wrong:
        raise TransferError(
            "Row counts differ from the file's (here, file): "
            + ", ".join(f"{name}: {here}, {there}" for name, (here, there) in wrong.items())
            + "; nothing was imported."
        )
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise TransferError(
                f"Rows whose references do not resolve (table, rowid, refers to): "
                f"{[tuple(b[:3]) for b in broken[:10]]}; nothing was imported."
            )
    return counts


# -- backup ---------------------------------------------------------------------------------------


def backup(path: str | Path) -> int:
    """Copy the SQLite database to ``path`` with SQLite's online backup (the writes still in the
    write-ahead log included, while the app runs), check the copy, and return its page count.

    PostgreSQL has its own tool: the refusal names the command.
    """
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        plain = url.set(drivername="postgresql").render_as_string(hide_password=True)
        raise TransferError(
            "This database is PostgreSQL: back it up with pg_dump, for example\n"
            f'  pg_dump --format=custom --file={path} "$DATABASE_URL"\n'
            f"(DATABASE_URL as the app has it: {plain}; docs/operations.md has the restore)."
        )
    if not url.database or url.database == ":memory:":
        raise TransferError("The database is in memory: there is no file to back up.")
    path = Path(path)
    if path.exists() and path.resolve() == Path(url.database).resolve():
        raise TransferError("The backup would overwrite the database itself: give another path.")
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    source = db.engine.raw_connection()  # the app's own settings: waits for a writer to finish
    try:
        target = sqlite3.connect(partial)
        try:
            assert source.driver_connection is not None  # a connection just taken from the pool is open
            source.driver_connection.backup(target)
            # One self-contained file: no write-ahead log beside it (the app turns WAL on again).
            target.execute("PRAGMA journal_mode = DELETE")
            result = target.execute("PRAGMA integrity_check").fetchall()
            pages: int = target.execute("PRAGMA page_count").fetchone()[0]
        finally:
            target.close()
    finally:
        source.close()
    if result != [("ok",)]:
        partial.unlink(missing_ok=True)
        raise TransferError(f"The copy failed its integrity check: {result[:5]}; no backup was written.")
    os.replace(partial, path)
    return pages
