"""Main-contact handovers and member-list change requests.

Held by the database: one open handover offer per main contact (a partial unique index).

Downgrade: lossy – drops the main-contact handovers and the member-list change requests.

Revision ID: b6c06660d431
Revises: 7c3a4d282b5b
Create Date: 2026-11-23 06:33:24.610379

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b6c06660d431"
down_revision = "7c3a4d282b5b"
branch_labels = None
depends_on = None

# What the downgrade loses, counted before a downgrade starts: migrations/env.py refuses
# it while any count is above zero, unless -x lossy=yes is given.
DOWNGRADE_LOSES = {
    "main-contact handovers": "SELECT count(*) FROM handovers",
    "member-list change requests": "SELECT count(*) FROM change_requests",
}


def upgrade():
    op.create_table(
        "change_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reported_by_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "add",
                "change",
                "remove",
                name="change_action",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("new_email", sa.String(length=254), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "applied",
                "rejected",
                name="change_status",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["members.id"],
            name=op.f("fk_change_requests_decided_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_change_requests_network_id_networks")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_change_requests_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["reported_by_id"],
            ["members.id"],
            name=op.f("fk_change_requests_reported_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_requests")),
    )
    with op.batch_alter_table("change_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_change_requests_network_id"), ["network_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_change_requests_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_change_requests_status"), ["status"], unique=False)

    op.create_table(
        "handovers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_membership_id", sa.Integer(), nullable=False),
        sa.Column("to_membership_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "accepted",
                "declined",
                "cancelled",
                name="handover_status",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["from_membership_id"],
            ["memberships.id"],
            name=op.f("fk_handovers_from_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_membership_id"],
            ["memberships.id"],
            name=op.f("fk_handovers_to_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handovers")),
    )
    with op.batch_alter_table("handovers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_handovers_to_membership_id"), ["to_membership_id"], unique=False)
        batch_op.create_index(
            "uq_handovers_pending_from",
            ["from_membership_id"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )


def downgrade():
    with op.batch_alter_table("handovers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_handovers_pending_from",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index(batch_op.f("ix_handovers_to_membership_id"))

    op.drop_table("handovers")
    with op.batch_alter_table("change_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_requests_status"))
        batch_op.drop_index(batch_op.f("ix_change_requests_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_change_requests_network_id"))

    op.drop_table("change_requests")
