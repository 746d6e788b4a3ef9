"""Who of a network's active members has been invited to its Teams workspace, when and by whom.

Downgrade: lossy – forgets who was invited to a network's Teams workspace, when and by whom.

Revision ID: 3bdca25b611d
Revises: 542711fc0375
Create Date: 2026-11-23 12:09:19.684246

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "3bdca25b611d"
down_revision = "542711fc0375"
branch_labels = None
depends_on = None

# What the downgrade loses, counted before a downgrade starts: migrations/env.py refuses
# it while any count is above zero, unless -x lossy=yes is given.
DOWNGRADE_LOSES = {
    "memberships invited to Teams (the roster would show them as not invited)": "SELECT count(*) FROM memberships WHERE teams_invited_at IS NOT NULL",
}


def upgrade():
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("teams_invited_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("teams_invited_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_memberships_teams_invited_by_id_members"),
            "members",
            ["teams_invited_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_memberships_teams_invited_by_id_members"), type_="foreignkey")
        batch_op.drop_column("teams_invited_by_id")
        batch_op.drop_column("teams_invited_at")
