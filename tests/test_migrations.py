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
