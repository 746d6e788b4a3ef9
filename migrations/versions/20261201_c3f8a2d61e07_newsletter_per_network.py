"""The newsletter is chosen per network: when a member stopped each network's letter is kept on
the membership, no longer once on the member. The upgrade carries the member's choice over to each
of their memberships.

Downgrade: lossy – a member who stopped some of their networks' letters but not all gets every
letter again (only a member who stopped them all stays unsubscribed).

Revision ID: c3f8a2d61e07
Revises: d81f3a6c5e27
Create Date: 2026-12-01 11:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c3f8a2d61e07"
down_revision = "d81f3a6c5e27"
branch_labels = None
depends_on = None

# What the downgrade loses, counted before a downgrade starts: migrations/env.py refuses
# it while any count is above zero, unless -x lossy=yes is given.
DOWNGRADE_LOSES = {
    "members who stopped some of their networks' newsletters but not all (they would get them all)": (
        "SELECT count(DISTINCT member_id) FROM memberships m WHERE newsletter_unsubscribed_at IS NOT NULL"
        " AND EXISTS (SELECT 1 FROM memberships o WHERE o.member_id = m.member_id"
        " AND o.newsletter_unsubscribed_at IS NULL)"
    ),
}


def upgrade():
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("newsletter_unsubscribed_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE memberships SET newsletter_unsubscribed_at = (SELECT members.newsletter_unsubscribed_at"
        " FROM members WHERE members.id = memberships.member_id)"
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("newsletter_unsubscribed_at")


def downgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("newsletter_unsubscribed_at", sa.DateTime(timezone=True), nullable=True)
        )
    # Unsubscribed as a whole only if from every network's letter.
    op.execute(
        "UPDATE members SET newsletter_unsubscribed_at = (SELECT max(m.newsletter_unsubscribed_at)"
        " FROM memberships m WHERE m.member_id = members.id)"
        " WHERE NOT EXISTS (SELECT 1 FROM memberships o WHERE o.member_id = members.id"
        " AND o.newsletter_unsubscribed_at IS NULL)"
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("newsletter_unsubscribed_at")
