"""Written forms: a member's own (nb, nn, en or none: their organisation's), an organisation's
målvedtak (neutral, nb, nn), and a newsletter issue's form with an optional parallel version.

Downgrade: lossy – forgets the members' chosen written forms, the organisations' målvedtak and the
newsletter issues' written form and parallel versions.

Revision ID: e5f1a9c3d7b2
Revises: b7e2c9d4f1a3
Create Date: 2026-12-01 10:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e5f1a9c3d7b2"
down_revision = "b7e2c9d4f1a3"
branch_labels = None
depends_on = None

DOWNGRADE_LOSES = {
    "members' chosen written forms": "SELECT count(*) FROM members WHERE language IS NOT NULL",
    "organisations' målvedtak": "SELECT count(*) FROM organisations WHERE language_decision <> 'neutral'",
    "newsletter issues in nynorsk or with a parallel version": (
        "SELECT count(*) FROM newsletters WHERE language <> 'nb' OR parallel_title IS NOT NULL"
    ),
}


def upgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=2), nullable=True))
        batch_op.create_check_constraint(
            "member_language", "language IS NULL OR language IN ('nb', 'nn', 'en')"
        )
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language_decision", sa.String(length=10), server_default="neutral", nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_organisations_language_decision"), "language_decision IN ('neutral', 'nb', 'nn')"
        )
    with op.batch_alter_table("newsletters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=2), server_default="nb", nullable=False))
        batch_op.add_column(sa.Column("parallel_title", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("parallel_body", sa.Text(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_newsletters_newsletter_language"), "language IN ('nb', 'nn')"
        )


def downgrade():
    with op.batch_alter_table("newsletters", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_newsletters_newsletter_language"), type_="check")
        batch_op.drop_column("parallel_body")
        batch_op.drop_column("parallel_title")
        batch_op.drop_column("language")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_organisations_language_decision"), type_="check")
        batch_op.drop_column("language_decision")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_members_member_language"), type_="check")
        batch_op.drop_column("language")
