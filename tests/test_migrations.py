"""``alembic upgrade head`` on an empty database yields exactly the models' schema."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app import create_app
from extensions import db
from tests.conftest import app_config


@pytest.fixture
def migrated(databases, smtpd):
    app = create_app(app_config(databases.create(), smtpd))
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def check_names(connection, table):
    return {c["name"] for c in inspect(connection).get_check_constraints(table)}


def test_migrations_give_the_models_schema(migrated):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []
        # alembic does not compare CHECK constraints: compare their names here.
        for table in db.metadata.sorted_tables:
            expected = {
                c.name for c in table.constraints if c.__class__.__name__ == "CheckConstraint"
            }
            assert check_names(connection, table.name) == expected, table.name


def test_migrations_go_down_and_up_again(migrated):
    downgrade(revision="base")
    assert inspect(db.engine).get_table_names() == ["alembic_version"]
    upgrade()
    assert "memberships" in inspect(db.engine).get_table_names()


def test_a_migration_that_rebuilds_a_table_keeps_the_rows_that_refer_to_it(migrated):
    """On SQLite a batch migration drops and recreates the table; the rows pointing at it
    (here a review response at a membership) must come through untouched."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from models import Member, Membership, Network, Organisation, ReviewResponse, reference
    from models import review as reviews
    from tests.conftest import move_to_status

    reference.load()
    bergen = db.session.scalar(select(Organisation).filter_by(number="4601"))
    member = Member(organisation=bergen, name="Kari", email="kari@bergen.kommune.example", manager_email="l@x.no")
    db.session.add(member)
    move_to_status(member.join(db.session.scalar(select(Network).filter_by(code="NIK"))), "active")
    db.session.commit()
    now = datetime.now(UTC)
    reviews.open_cycle(member.memberships[0].network, now.year, now + timedelta(days=21), now + timedelta(days=14))
    db.session.commit()
    db.session.remove()

    downgrade(revision="-1")  # the roster's columns go: memberships is rebuilt on SQLite
    upgrade()
    assert db.session.scalar(select(ReviewResponse.membership_id)) == db.session.scalar(select(Membership.id))


def test_the_directory_migration_folds_the_names_of_members_already_there(migrated):
    """Members registered before the directory get their folded name from the migration."""
    from sqlalchemy import text

    downgrade(revision="1b36e1a40394")
    with db.engine.begin() as connection:
        connection.execute(text("INSERT INTO organisations (kind, name, name_folded, active) "
                                "VALUES ('observer', 'FHI', 'fhi', true)"))
        connection.execute(text(
            "INSERT INTO members (name, email, organisation_id, created_at, auth_version) "
            "SELECT '  Åse   Østby ', 'ase@fhi.example', id, CURRENT_TIMESTAMP, 0 FROM organisations"))
    upgrade()
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT name_folded, directory_hidden FROM members")).one() == ("åse østby", False)
