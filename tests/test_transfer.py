"""``flask data export`` / ``flask data import``: the runbook "Moving from SQLite to PostgreSQL"
(docs/operations.md), run as it says – migrate the new database, import, check – on a seeded
database, SQLite → PostgreSQL → SQLite, and SQLite → SQLite where no PostgreSQL is at hand."""

from pathlib import Path

import pytest
from sqlalchemy import text

from app import create_app
from extensions import db
from tests.conftest import app_config
from tests.helpers import all_rows, close, libpq, runbook, seeded_app

ROOT = Path(__file__).parents[1]


def empty_app(url, smtpd):
    from flask_migrate import upgrade

    app = create_app(app_config(url, smtpd))
    with app.app_context():
        upgrade()
    return app


def cli(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    return result


def test_a_database_moves_from_sqlite_to_sqlite_with_every_row_and_value(tmp_path, smtpd):
    source = seeded_app(f"sqlite:///{tmp_path / 'source.sqlite'}", smtpd)
    target = empty_app(f"sqlite:///{tmp_path / 'target.sqlite'}", smtpd)
    try:
        exported = cli(source, "data", "export", str(tmp_path / "data.jsonl.gz"))
        assert exported.exit_code == 0, exported.output
        imported = cli(target, "data", "import", str(tmp_path / "data.jsonl.gz"))
        assert imported.exit_code == 0, imported.output
        assert "signups" in imported.output and "references checked" in imported.output

        rows = all_rows(source)
        assert rows["outbox"] and rows["members"] and rows["audit_log"]
        assert all_rows(target) == rows
        with target.app_context():  # SQL NULL stays SQL NULL, not a JSON null
            assert db.session.scalar(text("SELECT count(*) FROM outbox WHERE headers IS NULL")) == 1

        # A second import into the now full database is refused, naming what is there...
        again = cli(target, "data", "import", str(tmp_path / "data.jsonl.gz"))
        assert again.exit_code == 1 and "holds rows already" in again.output and "members:" in again.output
        # ...unless --replace, which swaps the rows in one go.
        replaced = cli(target, "data", "import", "--replace", str(tmp_path / "data.jsonl.gz"))
        assert replaced.exit_code == 0, replaced.output
        assert all_rows(target) == rows
    finally:
        close(source, target)


def test_an_import_into_a_database_at_another_revision_is_refused(tmp_path, smtpd):
    from flask_migrate import downgrade

    source = seeded_app(f"sqlite:///{tmp_path / 'source.sqlite'}", smtpd)
    target = empty_app(f"sqlite:///{tmp_path / 'target.sqlite'}", smtpd)
    try:
        assert cli(source, "data", "export", str(tmp_path / "data.jsonl")).exit_code == 0
        with target.app_context():
            downgrade(revision="-1")
        refused = cli(target, "data", "import", str(tmp_path / "data.jsonl"))
        assert refused.exit_code == 1
        assert "migration revision" in refused.output and "flask db upgrade" in refused.output
        with target.app_context():
            assert db.session.scalar(text("SELECT count(*) FROM members")) == 0
    finally:
        close(source, target)


@pytest.fixture
def postgresql(databases):
    """A scratch PostgreSQL database of this test's own (dropped with the session's)."""
    if databases.backend != "postgresql":
        pytest.skip("moving to PostgreSQL needs a PostgreSQL server: set TEST_DATABASE_URL")
    return databases.create()


def test_the_moving_runbook_from_sqlite_to_postgresql_and_back(tmp_path, smtpd, postgresql):
    """docs/operations.md, "Moving from SQLite to PostgreSQL", as written – and the way back."""
    sqlite_url = f"sqlite:///{tmp_path / 'tracker.sqlite'}"
    source = seeded_app(sqlite_url, smtpd)
    rows = all_rows(source)
    close(source)

    export = '.venv/bin/flask data export "$EXPORT"'
    migrate = 'DATABASE_URL="$NEW_DATABASE_URL" .venv/bin/flask db upgrade'
    load = 'DATABASE_URL="$NEW_DATABASE_URL" .venv/bin/flask data import "$EXPORT"'
    there = {
        "DATABASE_URL": sqlite_url,
        "NEW_DATABASE_URL": libpq(postgresql),
        "EXPORT": str(tmp_path / "move.jsonl.gz"),
    }
    exported = runbook(export, **there)
    runbook(migrate, **there)
    imported = runbook(load, **there)
    assert exported.splitlines()[:-1] == imported.splitlines()[:-1]  # the same count for each table
    middle = create_app(app_config(postgresql, smtpd))
    try:
        assert all_rows(middle) == rows
        # The sequences moved past the copied ids: a new row on PostgreSQL gets a fresh id.
        with middle.app_context():
            largest = max(row[0] for row in rows["organisations"])
            new_id = db.session.scalar(
                text(
                    "INSERT INTO organisations (kind, name, name_folded, active) "
                    "VALUES ('observer', 'Nytt', 'nytt', true) RETURNING id"
                )
            )
            db.session.rollback()
            assert new_id == largest + 1
    finally:
        close(middle)

    back_url = f"sqlite:///{tmp_path / 'back.sqlite'}"
    back = {
        "DATABASE_URL": libpq(postgresql),
        "NEW_DATABASE_URL": back_url,
        "EXPORT": str(tmp_path / "back.jsonl"),
    }
    runbook(export, **back)
    runbook(migrate, **back)
    runbook(load, **back)
    back_app = create_app(app_config(back_url, smtpd))
    try:
        assert all_rows(back_app) == rows
    finally:
        close(back_app)
