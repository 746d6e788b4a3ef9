"""A sign-in address changes only with proof: the request waits here until the link mailed to the new address is followed.

Downgrade: lossy – drops the address changes waiting for their link (the links mailed stop working) and the record of those done.

Revision ID: 5e1a7c0c4a11
Revises: 9d3e51a7c2b4
Create Date: 2026-12-01 00:09:58.019162

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1a7c0c4a11"
down_revision = "9d3e51a7c2b4"
branch_labels = None
depends_on = None

# What the downgrade loses, counted before a downgrade starts: migrations/env.py refuses
# it while any count is above zero, unless -x lossy=yes is given.
DOWNGRADE_LOSES = {
    "address changes": "SELECT count(*) FROM email_changes",
}


def upgrade():
    op.create_table(
        "email_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("new_email", sa.String(length=254), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "confirmed",
                "superseded",
                name="email_change_status",
                native_enum=False,
                create_constraint=True,
                length=12,
            ),
            nullable=False,
        ),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("change_request_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "new_email = lower(new_email)", name=op.f("ck_email_changes_new_email_lower_case")
        ),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["change_requests.id"],
            name=op.f("fk_email_changes_change_request_id_change_requests"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_email_changes_member_id_members"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["members.id"],
            name=op.f("fk_email_changes_requested_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_changes")),
    )
    with op.batch_alter_table("email_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_changes_member_id"), ["member_id"], unique=False)


def downgrade():
    with op.batch_alter_table("email_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_changes_member_id"))

    op.drop_table("email_changes")
