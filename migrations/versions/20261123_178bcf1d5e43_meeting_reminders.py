"""When a signed-up member was reminded of a meeting, so the reminder goes once.

Downgrade: lossy – forgets which sign-ups were reminded of their meeting, so after an upgrade the reminder could go again.

Revision ID: 178bcf1d5e43
Revises: af04a7f8a8b1
Create Date: 2026-11-23 07:09:22.907705

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "178bcf1d5e43"
down_revision = "af04a7f8a8b1"
branch_labels = None
depends_on = None

# What the downgrade loses, counted before a downgrade starts: migrations/env.py refuses
# it while any count is above zero, unless -x lossy=yes is given.
DOWNGRADE_LOSES = {
    "sign-ups already reminded of their meeting (they could be reminded again)": "SELECT count(*) FROM signups WHERE reminded_at IS NOT NULL",
}


def upgrade():
    with op.batch_alter_table("signups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("signups", schema=None) as batch_op:
        batch_op.drop_column("reminded_at")
