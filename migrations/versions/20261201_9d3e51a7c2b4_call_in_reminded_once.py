"""An emergency call-in's reminder goes once: when it went is kept on the meeting and claimed by a conditional UPDATE.

Revision ID: 9d3e51a7c2b4
Revises: c7c5c35616ed
Create Date: 2026-12-01 00:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9d3e51a7c2b4'
down_revision = 'c7c5c35616ed'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('call_in_reminded_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_column('call_in_reminded_at')
