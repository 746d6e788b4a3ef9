"""Meeting sign-ups (one per member and meeting) and calendar invitations kept with outbox mail.

Downgrade: lossy – drops the meeting sign-ups and the calendar invitations kept with outbox mail.

Revision ID: e684d497ba33
Revises: 04b10e414219
Create Date: 2026-11-23 07:01:01.564049

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e684d497ba33"
down_revision = "04b10e414219"
branch_labels = None
depends_on = None

# What the downgrade loses, counted before a downgrade starts: migrations/env.py refuses
# it while any count is above zero, unless -x lossy=yes is given.
DOWNGRADE_LOSES = {
    "meeting sign-ups": "SELECT count(*) FROM signups",
    "outbox mails with a calendar invitation (a mail sent again would go without it)": "SELECT count(*) FROM outbox WHERE ics IS NOT NULL",
}


def upgrade():
    op.create_table(
        "signups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attended", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_signups_meeting_id_meetings"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_signups_member_id_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signups")),
        sa.UniqueConstraint("meeting_id", "member_id", name=op.f("uq_signups_meeting_id_member_id")),
    )
    with op.batch_alter_table("signups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signups_meeting_id"), ["meeting_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_signups_member_id"), ["member_id"], unique=False)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ics", sa.LargeBinary(), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("ics")

    with op.batch_alter_table("signups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signups_member_id"))
        batch_op.drop_index(batch_op.f("ix_signups_meeting_id"))

    op.drop_table("signups")
