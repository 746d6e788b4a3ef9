"""Meetings, the networks taking part, and the yearly quota counters.

Held by the database: a counter never passes its quota (CHECK used <= quota), a meeting
ends after it starts, a hybrid meeting has a place.

Downgrade: lossy – drops every meeting, the networks taking part and the yearly quota counters.

Revision ID: 04b10e414219
Revises: b6c06660d431
Create Date: 2026-11-23 06:58:33.878156

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "04b10e414219"
down_revision = "b6c06660d431"
branch_labels = None
depends_on = None

# What the downgrade loses, counted before a downgrade starts: migrations/env.py refuses
# it while any count is above zero, unless -x lossy=yes is given.
DOWNGRADE_LOSES = {
    "meetings": "SELECT count(*) FROM meetings",
    "quota counters": "SELECT count(*) FROM quota_counters WHERE used > 0",
}


def upgrade():
    op.create_table(
        "quota_counters",
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "network_meeting",
                "professional_meeting",
                "emergency",
                name="quota_kind",
                native_enum=False,
                create_constraint=True,
                length=25,
            ),
            nullable=False,
        ),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.CheckConstraint("used >= 0 AND used <= quota", name=op.f("ck_quota_counters_within_quota")),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_quota_counters_network_id_networks")
        ),
        sa.PrimaryKeyConstraint("network_id", "year", "kind", name=op.f("pk_quota_counters")),
    )
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "network_meeting",
                "professional_meeting",
                "emergency",
                name="meeting_kind",
                native_enum=False,
                create_constraint=True,
                length=25,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("topic", sa.String(length=200), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column(
            "format",
            sa.Enum(
                "digital",
                "hybrid",
                name="meeting_format",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("online_link", sa.String(length=500), nullable=True),
        sa.Column("place", sa.String(length=300), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "planned",
                "held",
                "cancelled",
                name="meeting_status",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("agenda", sa.Text(), nullable=True),
        sa.Column("minutes", sa.Text(), nullable=True),
        sa.Column("minutes_published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attachments", sa.Text(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "format = 'digital' OR place IS NOT NULL", name=op.f("ck_meetings_hybrid_has_place")
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_meetings_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["members.id"],
            name=op.f("fk_meetings_created_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
    )
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meetings_starts_at"), ["starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_meetings_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_meetings_year"), ["year"], unique=False)

    op.create_table(
        "meeting_networks",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_meeting_networks_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_meeting_networks_network_id_networks")
        ),
        sa.PrimaryKeyConstraint("meeting_id", "network_id", name=op.f("pk_meeting_networks")),
    )


def downgrade():
    op.drop_table("meeting_networks")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meetings_year"))
        batch_op.drop_index(batch_op.f("ix_meetings_status"))
        batch_op.drop_index(batch_op.f("ix_meetings_starts_at"))

    op.drop_table("meetings")
    op.drop_table("quota_counters")
