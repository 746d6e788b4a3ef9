"""Every session cookie carries the account's session key; signing out makes a new one, so a
copied cookie stops working on every device.

Downgrade: lossless for data – the session keys go, and an upgrade makes new ones, which signs everyone out once.

Revision ID: a4c1e7d25b90
Revises: 3f6b2d8e91c7
Create Date: 2026-12-01 02:50:00.000000

"""

import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a4c1e7d25b90"
down_revision = "3f6b2d8e91c7"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_key", sa.String(length=32), nullable=True))
    # A random key for each account there is: every session made before this (cookies of the
    # form "id:version") ends, as the new check requires the key.
    members = sa.table("members", sa.column("id", sa.Integer), sa.column("session_key", sa.String))
    connection = op.get_bind()
    ids = connection.execute(sa.select(members.c.id)).scalars().all()
    for member_id in ids:
        connection.execute(
            members.update().where(members.c.id == member_id).values(session_key=secrets.token_urlsafe(16))
        )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.alter_column("session_key", existing_type=sa.String(length=32), nullable=False)


def downgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("session_key")
