"""The member directory: each member's name folded for search, and whether they hide from the directory.

Downgrade: lossy – drops each member's choice to hide from the directory (an upgrade lists everyone again); the folded names are made again from the names.

Revision ID: 2bd830cb3b55
Revises: 1b36e1a40394
Create Date: 2026-11-23 15:28:54.506873

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "2bd830cb3b55"
down_revision = "1b36e1a40394"
branch_labels = None
depends_on = None

# What the downgrade loses, counted before a downgrade starts: migrations/env.py refuses
# it while any count is above zero, unless -x lossy=yes is given.
DOWNGRADE_LOSES = {
    "members who chose to hide from the directory (an upgrade would list them again)": "SELECT count(*) FROM members WHERE directory_hidden",
}


def fold(text):
    """As ``models.organisation.fold`` on the day of this migration."""
    return " ".join(text.casefold().split())


def upgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_folded", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("directory_hidden", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    connection = op.get_bind()
    members = sa.table(
        "members",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("name_folded", sa.String),
    )
    rows = [
        {"member_id": id_, "folded": fold(name)}
        for id_, name in connection.execute(sa.select(members.c.id, members.c.name))
    ]
    if rows:
        connection.execute(
            members.update()
            .where(members.c.id == sa.bindparam("member_id"))
            .values(name_folded=sa.bindparam("folded")),
            rows,
        )

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.alter_column("name_folded", existing_type=sa.String(length=200), nullable=False)
        batch_op.create_index(batch_op.f("ix_members_name_folded"), ["name_folded"], unique=False)


def downgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_name_folded"))
        batch_op.drop_column("directory_hidden")
        batch_op.drop_column("name_folded")
