"""Accounts, line-manager anchoring, coordinator roles, the mail outbox and the audit log.

Held by the database: one pending anchoring per member (a partial unique index),
one role per member and network.

Downgrade: lossy – drops the accounts' passwords and consents, line-manager anchorings, coordinator roles, the mail outbox and the audit log.

Revision ID: 7c3a4d282b5b
Revises: 63a44e88a767
Create Date: 2026-11-23 05:50:27.728341

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7c3a4d282b5b"
down_revision = "63a44e88a767"
branch_labels = None
depends_on = None

# What the downgrade loses, counted before a downgrade starts: migrations/env.py refuses
# it while any count is above zero, unless -x lossy=yes is given.
DOWNGRADE_LOSES = {
    "members with a password": "SELECT count(*) FROM members WHERE password_hash IS NOT NULL",
    "anchorings": "SELECT count(*) FROM anchorings",
    "coordinator roles": "SELECT count(*) FROM coordinator_roles",
    "audit log entries": "SELECT count(*) FROM audit_log",
    "outbox rows (mail sent and waiting)": "SELECT count(*) FROM outbox",
}


def upgrade():
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("template", sa.String(length=60), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sending",
                "sent",
                "failed",
                name="outbox_status",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("bounced", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_recipient"), ["recipient"], unique=False)
        batch_op.create_index("ix_outbox_status_next_attempt_at", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "anchorings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("manager_name", sa.String(length=200), nullable=True),
        sa.Column("manager_email", sa.String(length=254), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "confirmed",
                "declined",
                "superseded",
                name="anchoring_status",
                native_enum=False,
                create_constraint=True,
                length=12,
            ),
            nullable=False,
        ),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_name", sa.String(length=200), nullable=True),
        sa.Column("decided_by_email", sa.String(length=254), nullable=True),
        sa.Column(
            "method",
            sa.Enum(
                "manager_link",
                "coordinator",
                name="anchoring_method",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_anchorings_member_id_members"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["members.id"],
            name=op.f("fk_anchorings_recorded_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anchorings")),
    )
    with op.batch_alter_table("anchorings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_anchorings_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_anchorings_status"), ["status"], unique=False)
        batch_op.create_index(
            "uq_anchorings_pending_member",
            ["member_id"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=300), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("network_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=60), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["members.id"], name=op.f("fk_audit_log_actor_id_members"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_audit_log_member_id_members"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_audit_log_network_id_networks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index("ix_audit_log_member_id_at", ["member_id", "at"], unique=False)

    op.create_table(
        "coordinator_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["granted_by_id"],
            ["members.id"],
            name=op.f("fk_coordinator_roles_granted_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_coordinator_roles_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_coordinator_roles_network_id_networks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordinator_roles")),
        sa.UniqueConstraint(
            "member_id", "network_id", name=op.f("uq_coordinator_roles_member_id_network_id")
        ),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("auth_version", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("consented_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("leadership_informed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anchoring_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_memberships_anchoring_id_anchorings"),
            "anchorings",
            ["anchoring_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_memberships_anchoring_id_anchorings"), type_="foreignkey")
        batch_op.drop_column("anchoring_id")

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("last_sign_in_at")
        batch_op.drop_column("leadership_informed_at")
        batch_op.drop_column("consented_at")
        batch_op.drop_column("auth_version")
        batch_op.drop_column("email_verified_at")
        batch_op.drop_column("password_hash")

    op.drop_table("coordinator_roles")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_member_id_at")
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))

    op.drop_table("audit_log")
    with op.batch_alter_table("anchorings", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_anchorings_pending_member",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index(batch_op.f("ix_anchorings_status"))
        batch_op.drop_index(batch_op.f("ix_anchorings_member_id"))

    op.drop_table("anchorings")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_outbox_recipient"))

    op.drop_table("outbox")
