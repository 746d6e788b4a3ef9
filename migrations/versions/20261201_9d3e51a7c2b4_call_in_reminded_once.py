"""An emergency call-in's reminder goes once: when it went is kept on the meeting and claimed by a conditional UPDATE.

Downgrade: lossy – forgets which emergency call-ins were reminded, so after an upgrade the reminder could go again.

Revision ID: 9d3e51a7c2b4
Revises: c7c5c35616ed
Create Date: 2026-12-01 00:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "9d3e51a7c2b4"
down_revision = "c7c5c35616ed"
branch_labels = None
depends_on = None

# What the downgrade loses, counted before a downgrade starts: migrations/env.py refuses
# it while any count is above zero, unless -x lossy=yes is given.
DOWNGRADE_LOSES = {
    "emergency call-ins already reminded (they could be reminded again)": "SELECT count(*) FROM meetings WHERE call_in_reminded_at IS NOT NULL",
}


def upgrade():
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("call_in_reminded_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("call_in_reminded_at")
