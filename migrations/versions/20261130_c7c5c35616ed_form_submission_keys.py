"""Submission keys: a form sent twice (a double click, a retry after a lost answer) is done once.

Downgrade: lossless – the submission keys are kept a day only to do a form sent twice once; none is needed after a downgrade.

Revision ID: c7c5c35616ed
Revises: 2bd830cb3b55
Create Date: 2026-11-30 23:59:48.409630

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c7c5c35616ed"
down_revision = "2bd830cb3b55"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "form_submissions",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_form_submissions")),
    )
    with op.batch_alter_table("form_submissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_submissions_at"), ["at"], unique=False)


def downgrade():
    with op.batch_alter_table("form_submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_submissions_at"))

    op.drop_table("form_submissions")
