"""Topic proposals for a network or a professional meeting, and members' support (one each).

Downgrade: lossy – drops the topic proposals and members' support for them.

Revision ID: 7f974fa0d668
Revises: 178bcf1d5e43
Create Date: 2026-11-23 07:10:06.146122

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7f974fa0d668"
down_revision = "178bcf1d5e43"
branch_labels = None
depends_on = None

# What the downgrade loses, counted before a downgrade starts: migrations/env.py refuses
# it while any count is above zero, unless -x lossy=yes is given.
DOWNGRADE_LOSES = {
    "topic proposals": "SELECT count(*) FROM topic_proposals",
    "supports of topic proposals": "SELECT count(*) FROM topic_supports",
}


def upgrade():
    op.create_table(
        "topic_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column(
            "meeting_kind",
            sa.Enum(
                "network_meeting",
                "professional_meeting",
                "emergency",
                name="topic_meeting_kind",
                native_enum=False,
                create_constraint=True,
                length=25,
            ),
            nullable=False,
        ),
        sa.Column("proposed_by_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "waiting",
                "accepted",
                "declined",
                name="proposal_status",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("meeting_kind <> 'emergency'", name=op.f("ck_topic_proposals_for_a_planned_kind")),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_topic_proposals_meeting_id_meetings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_topic_proposals_network_id_networks")
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_id"],
            ["members.id"],
            name=op.f("fk_topic_proposals_proposed_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topic_proposals")),
    )
    with op.batch_alter_table("topic_proposals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_topic_proposals_network_id"), ["network_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_topic_proposals_status"), ["status"], unique=False)

    op.create_table(
        "topic_supports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_topic_supports_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["topic_proposals.id"],
            name=op.f("fk_topic_supports_proposal_id_topic_proposals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topic_supports")),
        sa.UniqueConstraint("proposal_id", "member_id", name=op.f("uq_topic_supports_proposal_id_member_id")),
    )


def downgrade():
    op.drop_table("topic_supports")
    with op.batch_alter_table("topic_proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_topic_proposals_status"))
        batch_op.drop_index(batch_op.f("ix_topic_proposals_network_id"))

    op.drop_table("topic_proposals")
