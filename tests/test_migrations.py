"""``alembic upgrade head`` on an empty database yields exactly the models' schema."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app import create_app
from extensions import db
from tests.conftest import app_config
from tests.helpers import says


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
            expected = {c.name for c in table.constraints if c.__class__.__name__ == "CheckConstraint"}
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
    member = Member(
        organisation=bergen, name="Kari", email="kari@bergen.kommune.example", manager_email="l@x.no"
    )
    db.session.add(member)
    move_to_status(member.join(db.session.scalar(select(Network).filter_by(code="NIK"))), "active")
    db.session.commit()
    now = datetime.now(UTC)
    reviews.open_cycle(
        member.memberships[0].network, now.year, now + timedelta(days=21), now + timedelta(days=14)
    )
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
        connection.execute(
            text(
                "INSERT INTO organisations (kind, name, name_folded, active) "
                "VALUES ('observer', 'FHI', 'fhi', true)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO members (name, email, organisation_id, created_at, auth_version) "
                "SELECT '  Åse   Østby ', 'ase@fhi.example', id, CURRENT_TIMESTAMP, 0 FROM organisations"
            )
        )
    upgrade()
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT name_folded, directory_hidden FROM members")).one() == (
            "åse østby",
            False,
        )


# -- downgrades that would lose what people entered ----------------------------------------------


def alembic(command_name, revision, *x_args):
    """Run an alembic command as ``flask db`` does, but let its error through (``flask db``
    logs it and exits 1): ``alembic("downgrade", "base", "lossy=yes")``."""
    from alembic import command
    from flask import current_app

    config = current_app.extensions["migrate"].migrate.get_config(x_arg=list(x_args))
    getattr(command, command_name)(config, revision)


def revision_now():
    from alembic.migration import MigrationContext

    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def seeded_members(count):
    from sqlalchemy import select

    from models import Member, Organisation, reference

    reference.load()
    bergen = db.session.scalar(select(Organisation).filter_by(number="4601"))
    members = [
        Member(
            organisation=bergen,
            name=f"Kari {n}",
            email=f"kari{n}@bergen.kommune.example",
            manager_email="leder@bergen.kommune.example",
        )
        for n in range(count)
    ]
    db.session.add_all(members)
    db.session.commit()
    return members


def test_a_downgrade_that_would_reset_directory_choices_refuses_and_changes_nothing(migrated):
    """The directory's downgrade drops ``directory_hidden``: an upgrade after it would list again
    every member who chose to hide.  Refused, with the count, and nothing changed – on SQLite too,
    where the steps above it (lossless) would otherwise already have run."""
    from alembic.util import CommandError
    from sqlalchemy import select

    from models import Member
    from tests.conftest import table_snapshot

    members = seeded_members(4)
    for member in members[:3]:
        member.directory_hidden = True
    db.session.commit()
    head, before = revision_now(), table_snapshot(ignore=())
    db.session.remove()

    with pytest.raises(CommandError) as refusal:
        alembic("downgrade", "1b36e1a40394")
    assert says(str(refusal.value), "3 members who chose to hide from the directory")
    assert "-x lossy=yes" in str(refusal.value)
    assert revision_now() == head
    assert table_snapshot(ignore=()) == before
    assert "heartbeats" in inspect(db.engine).get_table_names()  # the first step down did not run either

    # The operator says the loss is intended: the downgrade goes, and the upgrade after it works.
    alembic("downgrade", "1b36e1a40394", "lossy=yes")
    assert "directory_hidden" not in {c["name"] for c in inspect(db.engine).get_columns("members")}
    upgrade()
    assert revision_now() == head
    assert db.session.scalars(select(Member.directory_hidden)).all() == [False] * 4


def test_a_downgrade_and_upgrade_keeps_the_directory_choices_when_nobody_hid(migrated):
    """No member hid: nothing is lost, so the downgrade goes without ``lossy=yes``."""
    from sqlalchemy import select

    from models import Member

    seeded_members(2)
    db.session.remove()
    alembic("downgrade", "1b36e1a40394")
    upgrade()
    assert db.session.scalars(select(Member.directory_hidden)).all() == [False, False]


def test_a_downgrade_to_base_refuses_while_a_newsletter_is_there(migrated):
    from alembic.util import CommandError

    from models.newsletter import Newsletter
    from tests.conftest import table_snapshot

    db.session.add(Newsletter(title="Nytt fra nettverket", body="Hei"))
    db.session.commit()
    head, before = revision_now(), table_snapshot(ignore=())
    db.session.remove()

    with pytest.raises(CommandError) as refusal:
        alembic("downgrade", "base")
    assert "1b36e1a40394" in str(refusal.value) and says(str(refusal.value), "1 newsletters")
    assert revision_now() == head
    assert table_snapshot(ignore=()) == before


def test_every_downgrade_says_whether_it_is_lossy():
    """Each version's docstring tells the operator (docs/operations.md) what its downgrade loses;
    the lossy ones count it, so env.py can refuse."""
    import re
    from pathlib import Path

    root = Path(__file__).parents[1]
    runbook = (root / "docs" / "operations.md").read_text()
    for path in sorted(root.glob("migrations/versions/*.py")):
        source = path.read_text()
        lossy = "\nDowngrade: lossy – " in source
        assert lossy or "\nDowngrade: lossless" in source, path.name
        assert lossy == ("DOWNGRADE_LOSES = {" in source), path.name
        revision = re.search(r"""^revision = ['"](\w+)['"]""", source, re.M).group(1)
        row = re.search(rf"^\| `{revision}` \| (.*)$", runbook, re.M)
        assert row, f"docs/operations.md's table of downgrades lacks {revision}"
        assert row.group(1).startswith("**lossy**") == lossy, revision


def test_the_name_and_report_migration_makes_the_data_fit_before_its_indexes(migrated):
    """d81f3a6c5e27: an organisation named like the reference list's own (allowed before) gets its
    id after its name, the list's row keeps its name; a second pending report about an address is
    declined naming the first – and the indexes are then made."""
    from sqlalchemy import text

    from models import reference

    reference.load()
    db.session.remove()
    alembic("downgrade", "c4a9e2f6b813")
    with db.engine.begin() as connection:
        listed = connection.execute(
            text("SELECT id FROM organisations WHERE name = 'Helse Bergen HF'")
        ).scalar()
        connection.execute(
            text(
                "INSERT INTO organisations (kind, name, name_folded, active, language_decision) "
                "VALUES ('hospital_trust', 'HELSE BERGEN HF', 'helse bergen hf', true, 'neutral')"
            )
        )
        added = connection.execute(text("SELECT max(id) FROM organisations")).scalar()
        nik = connection.execute(text("SELECT id FROM networks WHERE code = 'NIK'")).scalar()
        for org in (listed, added):
            connection.execute(
                text(
                    "INSERT INTO change_requests (organisation_id, network_id, action, email, status, created_at) "
                    "VALUES (:org, :nik, 'remove', 'ola@bergen.example', 'pending', CURRENT_TIMESTAMP)"
                ),
                {"org": org, "nik": nik},
            )
    upgrade()
    with db.engine.connect() as connection:
        names = dict(
            connection.execute(
                text("SELECT id, name FROM organisations WHERE id IN (:a, :b)"), {"a": listed, "b": added}
            ).all()
        )
        assert names == {listed: "Helse Bergen HF", added: f"HELSE BERGEN HF ({added})"}
        first, second = connection.execute(
            text("SELECT id, status, decision_note FROM change_requests ORDER BY id")
        ).all()
        assert first[1] == "pending"
        assert second[1:] == ("rejected", f"The same address as report #{first[0]}.")
        assert {i["name"] for i in inspect(connection).get_indexes("organisations")} >= {
            "uq_organisations_name"
        }
        assert "uq_change_requests_pending_email" in {
            i["name"] for i in inspect(connection).get_indexes("change_requests")
        }
