"""Annual review cycles with each member's response and evaluation, and mandate versions.

Downgrade: lossy – drops the review cycles, every member's review response and the mandate versions.

Revision ID: 542711fc0375
Revises: 7f974fa0d668
Create Date: 2026-11-23 11:58:51.295163

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "542711fc0375"
down_revision = "7f974fa0d668"
branch_labels = None
depends_on = None

# What the downgrade loses, counted before a downgrade starts: migrations/env.py refuses
# it while any count is above zero, unless -x lossy=yes is given.
DOWNGRADE_LOSES = {
    "review cycles": "SELECT count(*) FROM review_cycles",
    "review responses": "SELECT count(*) FROM review_responses",
    "mandate versions": "SELECT count(*) FROM mandate_versions",
}


def upgrade():
    op.create_table(
        "mandate_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["members.id"],
            name=op.f("fk_mandate_versions_created_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_mandate_versions_network_id_networks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mandate_versions")),
        sa.UniqueConstraint(
            "network_id", "effective_on", name=op.f("uq_mandate_versions_network_id_effective_on")
        ),
    )
    with op.batch_alter_table("mandate_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mandate_versions_network_id"), ["network_id"], unique=False)

    op.create_table(
        "review_cycles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open", "closed", name="review_status", native_enum=False, create_constraint=True, length=10
            ),
            nullable=False,
        ),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_by_id", sa.Integer(), nullable=True),
        sa.Column("mandate_version_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status = 'open' OR closed_at IS NOT NULL", name=op.f("ck_review_cycles_closed_has_time")
        ),
        sa.CheckConstraint("remind_at < deadline", name=op.f("ck_review_cycles_reminder_before_deadline")),
        sa.ForeignKeyConstraint(
            ["mandate_version_id"],
            ["mandate_versions.id"],
            name=op.f("fk_review_cycles_mandate_version_id_mandate_versions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_review_cycles_network_id_networks")
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"],
            ["members.id"],
            name=op.f("fk_review_cycles_opened_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_cycles")),
        sa.UniqueConstraint("network_id", "year", name=op.f("uq_review_cycles_network_id_year")),
    )
    with op.batch_alter_table("review_cycles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_cycles_network_id"), ["network_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_cycles_status"), ["status"], unique=False)

    op.create_table(
        "review_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("membership_id", sa.Integer(), nullable=True),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "decision",
            sa.Enum(
                "stay", "leave", name="review_decision", native_enum=False, create_constraint=True, length=10
            ),
            nullable=True,
        ),
        sa.Column("score_competence", sa.Integer(), nullable=True),
        sa.Column("score_equity", sa.Integer(), nullable=True),
        sa.Column("score_public_health", sa.Integer(), nullable=True),
        sa.Column("score_emergency", sa.Integer(), nullable=True),
        sa.Column("comment_competence", sa.Text(), nullable=True),
        sa.Column("comment_equity", sa.Text(), nullable=True),
        sa.Column("comment_public_health", sa.Text(), nullable=True),
        sa.Column("comment_emergency", sa.Text(), nullable=True),
        sa.Column("change_wish", sa.Text(), nullable=True),
        sa.Column("lapsed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "decision IS NULL OR answered_at IS NOT NULL", name=op.f("ck_review_responses_decision_has_time")
        ),
        sa.CheckConstraint(
            "score_competence BETWEEN 1 AND 5", name=op.f("ck_review_responses_score_competence_on_scale")
        ),
        sa.CheckConstraint(
            "score_emergency BETWEEN 1 AND 5", name=op.f("ck_review_responses_score_emergency_on_scale")
        ),
        sa.CheckConstraint(
            "score_equity BETWEEN 1 AND 5", name=op.f("ck_review_responses_score_equity_on_scale")
        ),
        sa.CheckConstraint(
            "score_public_health BETWEEN 1 AND 5",
            name=op.f("ck_review_responses_score_public_health_on_scale"),
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["review_cycles.id"],
            name=op.f("fk_review_responses_cycle_id_review_cycles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_review_responses_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name=op.f("fk_review_responses_membership_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_responses")),
        sa.UniqueConstraint("cycle_id", "member_id", name=op.f("uq_review_responses_cycle_id_member_id")),
    )
    with op.batch_alter_table("review_responses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_responses_cycle_id"), ["cycle_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_responses_member_id"), ["member_id"], unique=False)


def downgrade():
    with op.batch_alter_table("review_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_responses_member_id"))
        batch_op.drop_index(batch_op.f("ix_review_responses_cycle_id"))

    op.drop_table("review_responses")
    with op.batch_alter_table("review_cycles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_cycles_status"))
        batch_op.drop_index(batch_op.f("ix_review_cycles_network_id"))

    op.drop_table("review_cycles")
    with op.batch_alter_table("mandate_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mandate_versions_network_id"))

    op.drop_table("mandate_versions")
