"""Acknowledgements of emergency call-ins (one per member and meeting) and outbox priority.

Downgrade: lossy – drops the acknowledgements of emergency call-ins and the outbox rows' priority.

Revision ID: af04a7f8a8b1
Revises: e684d497ba33
Create Date: 2026-11-23 07:05:41.872797

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "af04a7f8a8b1"
down_revision = "e684d497ba33"
branch_labels = None
depends_on = None

# What the downgrade loses, counted before a downgrade starts: migrations/env.py refuses
# it while any count is above zero, unless -x lossy=yes is given.
DOWNGRADE_LOSES = {
    "acknowledgements of emergency call-ins": "SELECT count(*) FROM acknowledgements",
    "outbox rows waiting with a priority (they would lose their place in the queue)": "SELECT count(*) FROM outbox WHERE priority <> 0 AND status = 'pending'",
}


def upgrade():
    op.create_table(
        "acknowledgements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_acknowledgements_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_acknowledgements_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acknowledgements")),
        sa.UniqueConstraint("meeting_id", "member_id", name=op.f("uq_acknowledgements_meeting_id_member_id")),
    )
    with op.batch_alter_table("acknowledgements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_acknowledgements_meeting_id"), ["meeting_id"], unique=False)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("priority")

    with op.batch_alter_table("acknowledgements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_acknowledgements_meeting_id"))

    op.drop_table("acknowledgements")
