"""The backup and restore runbooks (docs/operations.md), run as written: ``flask data backup`` for
SQLite while the app runs, and ``pg_dump``/``pg_restore`` for PostgreSQL."""

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import make_url, select, text

from app import create_app
from extensions import db
from tests.conftest import app_config
from tests.test_transfer import all_rows, close, seeded_app

FLASK = str(Path(sys.executable).with_name("flask"))
ROOT = Path(__file__).parents[1]


def run(command, database_url):
    """A runbook's shell line, with DATABASE_URL set as on the server."""
    env = {**os.environ, "DATABASE_URL": database_url, "TRACKER_ENV": "development",
           "SECRET_KEY": "backup-test", "FLASK": FLASK}
    return subprocess.run(command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


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
        db.session.add(Member(organisation=organisation, name=name, email=f"{name.lower()}@example.org",
                              manager_email="leder@example.org"))
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

    result = run(f'"$FLASK" data backup {tmp_path / "backup.sqlite"}', url)
    assert result.returncode == 0, result.stderr
    assert "integrity check" in result.stdout
    assert not Path(f"{tmp_path / 'backup.sqlite'}-wal").exists()  # one self-contained file

    add_member(app, "Etter")  # after the backup: gone once it is restored
    close(app)

    # Restore: the app stopped, the database and its -wal/-shm replaced by the backup.
    for leftover in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copy(tmp_path / "backup.sqlite", database)
    restored = create_app(app_config(url, smtpd))
    try:
        assert members(restored) == ["Kari", "Ola"]
        current = run('"$FLASK" db current', url)
        assert "(head)" in current.stdout, current.stdout + current.stderr
    finally:
        close(restored)


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


def libpq(url):
    """The URL as pg_dump takes it (DATABASE_URL as an operator writes it)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_the_postgresql_backup_and_restore_runbook(tmp_path, smtpd, postgresql):
    url = postgresql.create()
    app = seeded_app(url, smtpd)
    rows = all_rows(app)
    dump = tmp_path / "tracker.dump"
    dumped = run(f'pg_dump --format=custom --file={dump} "$DATABASE_URL"', libpq(url))
    assert dumped.returncode == 0, dumped.stderr

    # Something goes wrong after the backup.
    add_member(app, "Etter")
    with app.app_context():
        db.session.execute(text("DELETE FROM signups"))
        db.session.commit()
    close(app)

    # Restore over the damaged database: all or nothing.
    restore = f'pg_restore --clean --if-exists --no-owner --single-transaction --dbname="$DATABASE_URL" {dump}'
    restored = run(restore, libpq(url))
    assert restored.returncode == 0, restored.stderr
    assert all_rows(app) == rows
    # The ids go on from where they were.
    add_member(app, "Ny")
    with app.app_context():
        assert db.session.scalar(text("SELECT max(id) FROM members")) == max(r[0] for r in rows["members"]) + 1
    close(app)

    # ...and into a new, empty database (another server, after losing the first).
    fresh = postgresql.create()
    into_new = run(restore, libpq(fresh))
    assert into_new.returncode == 0, into_new.stderr
    other = create_app(app_config(fresh, smtpd))
    try:
        assert all_rows(other) == rows
    finally:
        close(other)
