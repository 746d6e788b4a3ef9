"""A cancelled meeting keeps the coordinator's message: it went into the cancellation mail and the meeting page shows it.

Downgrade: lossy – forgets the messages given with cancelled meetings (the mails already sent keep them).

Revision ID: c4a9e2f6b813
Revises: e5f1a9c3d7b2
Create Date: 2026-12-01 11:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c4a9e2f6b813"
down_revision = "e5f1a9c3d7b2"
branch_labels = None
depends_on = None

# What the downgrade loses, counted before a downgrade starts: migrations/env.py refuses
# it while any count is above zero, unless -x lossy=yes is given.
DOWNGRADE_LOSES = {
    "cancelled meetings' messages": "SELECT count(*) FROM meetings WHERE cancel_message IS NOT NULL",
}


def upgrade():
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancel_message", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("cancel_message")
