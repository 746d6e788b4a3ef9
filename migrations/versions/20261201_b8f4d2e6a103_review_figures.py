"""A closed review's figures are computed once at its close and kept (review_figures): who was asked,
answered and lapsed, the evaluation per purpose and the answers by day – counts only. The results
page and the comparison with earlier years read them instead of every answer. The upgrade fills
them for the cycles already closed; the database refuses a second row (the primary key) and any
change to one (a trigger). An index on (cycle_id, answered_at) serves an open cycle's counts.

Downgrade: lossless – the figures are read again from the answers they were computed from.

Revision ID: b8f4d2e6a103
Revises: a7e3c5d9f142
Create Date: 2026-12-01 17:05:00

"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b8f4d2e6a103"
down_revision = "a7e3c5d9f142"
branch_labels = None
depends_on = None

PURPOSES = ("competence", "equity", "public_health", "emergency")
COMMENTS = (*(f"comment_{key}" for key in PURPOSES), "change_wish")
REFUSAL = "the figures of a closed review are kept as computed at its close"


def upgrade():
    op.create_table(
        "review_figures",
        sa.Column("cycle_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("asked", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("lapsed", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("days", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cycle_id"], ["review_cycles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("cycle_id"),
    )
    op.create_index(
        "ix_review_responses_cycle_answered", "review_responses", ["cycle_id", "answered_at"], unique=False
    )
    _fill()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION review_figures_unchanged() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER review_figures_unchanged BEFORE UPDATE ON review_figures "
            "FOR EACH ROW EXECUTE FUNCTION review_figures_unchanged()"
        )
    else:
        op.execute(
            "CREATE TRIGGER review_figures_unchanged BEFORE UPDATE ON review_figures "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
        )


def _fill():
    """The figures of every cycle already closed, as ``models.review.live_results`` reads them."""
    bind = op.get_bind()
    responses = sa.table(
        "review_responses",
        sa.column("cycle_id"),
        sa.column("id"),
        sa.column("answered_at"),
        sa.column("lapsed_at"),
        *[sa.column(f"score_{key}") for key in PURPOSES],
        *[sa.column(c) for c in COMMENTS],
    )
    cycles = sa.table("review_cycles", sa.column("id"), sa.column("status"))
    figures = sa.table(
        "review_figures",
        sa.column("cycle_id"),
        sa.column("asked"),
        sa.column("answered"),
        sa.column("lapsed"),
        sa.column("summary", sa.JSON()),
        sa.column("days", sa.JSON()),
        sa.column("computed_at", sa.DateTime(timezone=True)),
    )
    closed = sa.select(cycles.c.id).where(cycles.c.status == "closed")
    r = responses.c
    columns = [r.cycle_id, sa.func.count(r.id), sa.func.count(r.answered_at), sa.func.count(r.lapsed_at)]
    columns += [sa.func.count(r[c]) for c in COMMENTS]
    for key in PURPOSES:
        score = r[f"score_{key}"]
        columns += [sa.func.count(score), sa.func.avg(score)]
        columns += [sa.func.sum(sa.case((score == value, 1), else_=0)) for value in range(1, 6)]
    day = sa.func.date(r.answered_at)
    days: dict[int, list[list[object]]] = {}
    for cycle_id, when, count in bind.execute(
        sa.select(r.cycle_id, day, sa.func.count())
        .where(r.cycle_id.in_(closed), r.answered_at.is_not(None))
        .group_by(r.cycle_id, day)
        .order_by(r.cycle_id, day)
    ):
        found = days.setdefault(cycle_id, [])
        found.append([str(when)[:10], int(count), (found[-1][2] if found else 0) + int(count)])
    rows = []
    now = datetime.now(UTC)
    for cycle_id, asked, answered, lapsed, *values in bind.execute(
        sa.select(*columns).where(r.cycle_id.in_(closed)).group_by(r.cycle_id)
    ):
        comments, values = values[: len(COMMENTS)], values[len(COMMENTS) :]
        summary = {"change": {"comments": comments[-1]}}
        for i, key in enumerate(PURPOSES):
            chunk = values[i * 7 : (i + 1) * 7]
            summary[key] = {
                "answers": chunk[0],
                "mean": float(chunk[1]) if chunk[1] is not None else None,
                "counts": [int(v or 0) for v in chunk[2:]],
                "comments": comments[i],
            }
        rows.append(
            {
                "cycle_id": cycle_id,
                "asked": asked,
                "answered": answered,
                "lapsed": lapsed,
                "summary": summary,
                "days": days.get(cycle_id, []),
                "computed_at": now,
            }
        )
    if rows:
        bind.execute(sa.insert(figures), rows)


def downgrade():
    op.execute("DROP TRIGGER review_figures_unchanged" + (" ON review_figures" if _pg() else ""))
    if _pg():
        op.execute("DROP FUNCTION review_figures_unchanged()")
    op.drop_index("ix_review_responses_cycle_answered", table_name="review_responses")
    op.drop_table("review_figures")


def _pg():
    return op.get_bind().dialect.name == "postgresql"
