"""The backup, restore and upgrade runbooks (docs/operations.md), run word for word: ``flask data
backup`` for SQLite while the app runs, ``pg_dump``/``pg_restore`` for PostgreSQL, and the upgrade
with its rollback."""

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app import create_app
from extensions import db
from tests.conftest import app_config
from tests.helpers import all_rows, close, libpq, runbook, seeded_app

SQLITE_BACKUP = '.venv/bin/flask data backup "$BACKUP"'
SQLITE_RESTORE = (
    'for f in "$DB" "$DB-wal" "$DB-shm"; do if [ -e "$f" ]; then mv "$f" "$f.before-restore"; fi; done',
    'cp "$BACKUP" "$DB"',
)
PG_BACKUP = 'pg_dump --format=custom --file="$BACKUP" "$DATABASE_URL"'
PG_RESTORE = (
    'pg_restore --clean --if-exists --no-owner --single-transaction --dbname="$DATABASE_URL" "$BACKUP"'
)


def members(app):
    from models import Member

    with app.app_context():
        names = db.session.scalars(select(Member.name).order_by(Member.id)).all()
        db.session.remove()
        return names


def add_member(app, name):
    from models import Member, Organisation

    with app.app_context():
        organisation = db.session.scalar(select(Organisation).order_by(Organisation.id))
        db.session.add(
            Member(
                organisation=organisation,
                name=name,
                email=f"{name.lower()}@example.org",
                manager_email="leder@example.org",
            )
        )
        db.session.commit()
        db.session.remove()


def test_a_sqlite_backup_taken_while_the_app_runs_holds_the_commits_still_in_the_wal(tmp_path, smtpd):
    from flask_migrate import upgrade

    from models import reference

    database = tmp_path / "tracker.sqlite"
    url = f"sqlite:///{database}"
    app = create_app(app_config(url, smtpd))
    with app.app_context():
        upgrade()
        reference.load()
        db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.session.remove()
    # The app runs: it holds its connection, so the last commits stay in the write-ahead log.
    add_member(app, "Kari")
    add_member(app, "Ola")
    assert Path(f"{database}-wal").stat().st_size > 0
    copied = tmp_path / "cp.sqlite"
    shutil.copy(database, copied)  # what the runbook warns against
    with sqlite3.connect(copied) as plain:
        assert plain.execute("SELECT count(*) FROM members").fetchone() == (0,)
    plain.close()

    backup = tmp_path / "backup.sqlite"
    said = runbook(SQLITE_BACKUP, DATABASE_URL=url, BACKUP=str(backup))
    assert "integrity check" in said
    assert not Path(f"{backup}-wal").exists()  # one self-contained file

    add_member(app, "Etter")  # after the backup: gone once it is restored
    close(app)

    # Restore, the app stopped: the database and its -wal/-shm set aside, the backup put in place.
    for line in SQLITE_RESTORE:
        runbook(line, DB=str(database), BACKUP=str(backup))
    assert not Path(f"{database}-wal").exists() and Path(f"{database}.before-restore").exists()
    restored = create_app(app_config(url, smtpd))
    try:
        assert members(restored) == ["Kari", "Ola"]
        assert "(head)" in runbook(".venv/bin/flask db current", DATABASE_URL=url)
    finally:
        close(restored)


def test_the_upgrade_runbook_and_its_rollback(tmp_path, smtpd):
    """Back up, note the revision, upgrade; then roll back by restoring the backup: the data and
    the revision are those before the upgrade."""
    from flask_migrate import downgrade

    database = tmp_path / "tracker.sqlite"
    url = f"sqlite:///{database}"
    app = seeded_app(url, smtpd)
    with app.app_context():
        # The version before: three steps down, the last (written forms) lossy – the demo's chosen
        # written forms are let go on purpose, as an operator would with -x lossy=yes.
        downgrade(revision="3f6b2d8e91c7", x_arg=["lossy=yes"])
    before = members(app)
    close(app)

    backup = tmp_path / "before-upgrade.sqlite"
    runbook(SQLITE_BACKUP, DATABASE_URL=url, BACKUP=str(backup))
    assert runbook(".venv/bin/flask db current", DATABASE_URL=url).strip() == "3f6b2d8e91c7"
    runbook(".venv/bin/flask db upgrade", DATABASE_URL=url)
    assert runbook(".venv/bin/flask db current", DATABASE_URL=url).strip().endswith("(head)")
    assert members(app) == before
    add_member(app, "Etter")  # entered after the upgrade: the rollback loses it, as the runbook says
    close(app)

    for line in SQLITE_RESTORE:
        runbook(line, DB=str(database), BACKUP=str(backup))
    assert runbook(".venv/bin/flask db current", DATABASE_URL=url).strip() == "3f6b2d8e91c7"
    assert members(app) == before
    close(app)


def test_a_backup_of_postgresql_is_refused_with_the_pg_dump_command(smtpd):
    app = create_app(app_config("postgresql+psycopg://tracker:hemmelig@db.internal:5432/tracker", smtpd))
    try:
        result = app.test_cli_runner().invoke(args=["data", "backup", "/var/backups/tracker.dump"])
        assert result.exit_code == 1
        assert 'pg_dump --format=custom --file=/var/backups/tracker.dump "$DATABASE_URL"' in result.output
        assert "hemmelig" not in result.output
    finally:
        close(app)


@pytest.fixture
def postgresql(databases):
    if databases.backend != "postgresql":
        pytest.skip("the PostgreSQL runbook needs a PostgreSQL server: set TEST_DATABASE_URL")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.fail("pg_dump and pg_restore are not installed (Debian: postgresql-client)")
    return databases


def test_the_postgresql_backup_and_restore_runbook(tmp_path, smtpd, postgresql):
    url = postgresql.create()
    app = seeded_app(url, smtpd)
    rows = all_rows(app)
    backup = str(tmp_path / "tracker.dump")
    runbook(PG_BACKUP, DATABASE_URL=libpq(url), BACKUP=backup)

    # Something goes wrong after the backup.
    add_member(app, "Etter")
    with app.app_context():
        db.session.execute(text("DELETE FROM signups"))
        db.session.commit()
    close(app)

    # Restored over the damaged database...
    runbook(PG_RESTORE, DATABASE_URL=libpq(url), BACKUP=backup)
    assert all_rows(app) == rows
    add_member(app, "Ny")  # the ids go on from where they were
    with app.app_context():
        largest = max(r[0] for r in rows["members"])
        assert db.session.scalar(text("SELECT max(id) FROM members")) == largest + 1
    close(app)

    # ...and into a new, empty database (another server, after losing the first).
    fresh = postgresql.create()
    runbook(PG_RESTORE, DATABASE_URL=libpq(fresh), BACKUP=backup)
    other = create_app(app_config(fresh, smtpd))
    try:
        assert all_rows(other) == rows
        assert "(head)" in runbook(".venv/bin/flask db current", DATABASE_URL=libpq(fresh))
    finally:
        close(other)
