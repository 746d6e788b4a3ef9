"""Operations: the outbox row names the request that wrote it, and workers and cron commands write heartbeats.

Downgrade: lossless for data – the request ids and heartbeats are operational traces only.

Revision ID: b7e2c9d4f1a3
Revises: a4c1e7d25b90
Create Date: 2026-12-01 06:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b7e2c9d4f1a3"
down_revision = "a4c1e7d25b90"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))
    op.create_table(
        "heartbeats",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_heartbeats")),
    )


def downgrade():
    # Lossless for what matters: the request ids and heartbeats are operational traces only.
    op.drop_table("heartbeats")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("request_id")
