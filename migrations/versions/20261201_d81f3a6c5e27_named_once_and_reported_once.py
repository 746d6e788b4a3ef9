"""One organisation per name and kind, whoever added it; one pending report per address.

The register kept a coordinator's organisations to one name per kind, but not against the
reference lists' rows: a coordinator could add a hospital trust named like the list's own.  Now
every row of the kinds coordinators keep counts (municipalities and counties are told apart by
number: Statistics Norway renumbers a municipality under the same name and the old row is kept,
deactivated).  And a network's coordinators get one report about an address at a time: a second
one about the same address waits for the first to be handled.

The upgrade first makes the data fit: a second organisation of the same name and kind gets its id
after its name (a coordinator sees both and can deactivate the one too many; the reference list's
row keeps its name), and a second report about an address still pending is declined, naming the
first one.

Downgrade: lossless – drops the two indexes and restores the narrower one.

Revision ID: d81f3a6c5e27
Revises: c4a9e2f6b813
Create Date: 2026-12-01 11:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d81f3a6c5e27"
down_revision = "c4a9e2f6b813"
branch_labels = None
depends_on = None

NAMED_ONCE = "kind NOT IN ('municipality', 'county_municipality')"
PENDING = "status = 'pending'"


def upgrade():
    connection = op.get_bind()
    seen = set()
    for id_, kind, name, folded in connection.execute(
        sa.text(
            f"SELECT id, kind, name, name_folded FROM organisations WHERE {NAMED_ONCE} "
            "ORDER BY CASE WHEN reference_key IS NULL THEN 1 ELSE 0 END, id"
        )
    ):
        if (kind, folded) in seen:
            connection.execute(
                sa.text("UPDATE organisations SET name = :name, name_folded = :folded WHERE id = :id"),
                {"name": f"{name} ({id_})"[:200], "folded": f"{folded} ({id_})"[:200], "id": id_},
            )
        seen.add((kind, folded))
    first = {}
    for id_, network_id, email in connection.execute(
        sa.text(f"SELECT id, network_id, email FROM change_requests WHERE {PENDING} ORDER BY id")
    ):
        if (network_id, email) in first:
            connection.execute(
                sa.text(
                    "UPDATE change_requests SET status = 'rejected', decision_note = :note WHERE id = :id"
                ),
                {"note": f"The same address as report #{first[network_id, email]}.", "id": id_},
            )
        else:
            first[network_id, email] = id_
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_organisations_kept_name",
            sqlite_where=sa.text("reference_key IS NULL"),
            postgresql_where=sa.text("reference_key IS NULL"),
        )
        batch_op.create_index(
            "uq_organisations_name",
            ["kind", "name_folded"],
            unique=True,
            sqlite_where=sa.text(NAMED_ONCE),
            postgresql_where=sa.text(NAMED_ONCE),
        )
    with op.batch_alter_table("change_requests", schema=None) as batch_op:
        batch_op.create_index(
            "uq_change_requests_pending_email",
            ["network_id", "email"],
            unique=True,
            sqlite_where=sa.text(PENDING),
            postgresql_where=sa.text(PENDING),
        )


def downgrade():
    with op.batch_alter_table("change_requests", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_change_requests_pending_email",
            sqlite_where=sa.text(PENDING),
            postgresql_where=sa.text(PENDING),
        )
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_organisations_name", sqlite_where=sa.text(NAMED_ONCE), postgresql_where=sa.text(NAMED_ONCE)
        )
        batch_op.create_index(
            "uq_organisations_kept_name",
            ["kind", "name_folded"],
            unique=True,
            sqlite_where=sa.text("reference_key IS NULL"),
            postgresql_where=sa.text("reference_key IS NULL"),
        )
