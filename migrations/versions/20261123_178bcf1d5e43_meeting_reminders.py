"""When a signed-up member was reminded of a meeting, so the reminder goes once.

Revision ID: 178bcf1d5e43
Revises: af04a7f8a8b1
Create Date: 2026-11-23 07:09:22.907705

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '178bcf1d5e43'
down_revision = 'af04a7f8a8b1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.drop_column('reminded_at')

