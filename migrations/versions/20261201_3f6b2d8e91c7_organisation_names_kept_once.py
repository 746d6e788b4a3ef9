"""An organisation coordinators add is not added twice: one name per kind among those no reference list keeps.

Two coordinators (or two tabs) adding the same organisation at the same moment both passed the
check for an existing name; the partial unique index lets one in.

Downgrade: lossless – drops an index only.

Revision ID: 3f6b2d8e91c7
Revises: 5e1a7c0c4a11
Create Date: 2026-12-01 00:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "3f6b2d8e91c7"
down_revision = "5e1a7c0c4a11"
branch_labels = None
depends_on = None


def upgrade():
    # Names added twice before (if any) are told apart by their id, so the index can be made;
    # a coordinator then sees both and can deactivate the one too many.
    connection = op.get_bind()
    seen = set()
    for id_, kind, name, folded in connection.execute(
        sa.text(
            "SELECT id, kind, name, name_folded FROM organisations WHERE reference_key IS NULL ORDER BY id"
        )
    ):
        if (kind, folded) in seen:
            connection.execute(
                sa.text("UPDATE organisations SET name = :name, name_folded = :folded WHERE id = :id"),
                {"name": f"{name} ({id_})"[:200], "folded": f"{folded} ({id_})"[:200], "id": id_},
            )
        seen.add((kind, folded))
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.create_index(
            "uq_organisations_kept_name",
            ["kind", "name_folded"],
            unique=True,
            sqlite_where=sa.text("reference_key IS NULL"),
            postgresql_where=sa.text("reference_key IS NULL"),
        )


def downgrade():
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_organisations_kept_name",
            sqlite_where=sa.text("reference_key IS NULL"),
            postgresql_where=sa.text("reference_key IS NULL"),
        )
