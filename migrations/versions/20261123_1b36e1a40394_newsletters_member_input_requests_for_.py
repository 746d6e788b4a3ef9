"""Newsletter issues and the members' input to them, requests for advice and their answers, the networks' Teams webhooks and the outbox's webhook channel.

Downgrade: lossy – drops the newsletters and members' input to them, the requests for advice and their answers, members' newsletter unsubscriptions, the networks' Teams webhooks and the outbox's webhook posts and mail headers.

Revision ID: 1b36e1a40394
Revises: 3bdca25b611d
Create Date: 2026-11-23 14:45:59.590498

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "1b36e1a40394"
down_revision = "3bdca25b611d"
branch_labels = None
depends_on = None

# What the downgrade loses, counted before a downgrade starts: migrations/env.py refuses
# it while any count is above zero, unless -x lossy=yes is given.
DOWNGRADE_LOSES = {
    "newsletters": "SELECT count(*) FROM newsletters",
    "inputs to newsletters": "SELECT count(*) FROM news_inputs",
    "requests for advice": "SELECT count(*) FROM advice_requests",
    "answers to requests for advice": "SELECT count(*) FROM advice_answers",
    # Read on the schema a downgrade starts from (migrations/env.py): since c3f8a2d61e07 the choice
    # is kept per membership.
    "members unsubscribed from the newsletter (they would get it again)": "SELECT count(DISTINCT member_id) FROM memberships WHERE newsletter_unsubscribed_at IS NOT NULL",
    "networks' Teams webhook addresses": "SELECT count(*) FROM networks WHERE teams_webhook_url IS NOT NULL",
    "outbox rows posting to a Teams webhook (they would become mails without a recipient's choice)": "SELECT count(*) FROM outbox WHERE channel <> 'mail'",
}


def upgrade():
    op.create_table(
        "advice_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("document_url", sa.String(length=500), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("remind_at < deadline", name=op.f("ck_advice_requests_reminder_before_deadline")),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["members.id"],
            name=op.f("fk_advice_requests_created_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advice_requests")),
    )
    op.create_table(
        "newsletters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_by_id", sa.Integer(), nullable=True),
        sa.Column("recipient_count", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(sent_at IS NULL) = (recipient_count IS NULL)", name=op.f("ck_newsletters_sent_with_count")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["members.id"],
            name=op.f("fk_newsletters_created_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sent_by_id"],
            ["members.id"],
            name=op.f("fk_newsletters_sent_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_newsletters")),
    )
    with op.batch_alter_table("newsletters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_newsletters_sent_at"), ["sent_at"], unique=False)

    op.create_table(
        "advice_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_advice_answers_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["advice_requests.id"],
            name=op.f("fk_advice_answers_request_id_advice_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advice_answers")),
        sa.UniqueConstraint("request_id", "member_id", name=op.f("uq_advice_answers_request_id_member_id")),
    )
    with op.batch_alter_table("advice_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_advice_answers_member_id"), ["member_id"], unique=False)

    op.create_table(
        "advice_request_networks",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name=op.f("fk_advice_request_networks_network_id_networks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["advice_requests.id"],
            name=op.f("fk_advice_request_networks_request_id_advice_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", "network_id", name=op.f("pk_advice_request_networks")),
    )
    op.create_table(
        "news_inputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "included",
                "declined",
                name="input_status",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("newsletter_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(status = 'included') = (newsletter_id IS NOT NULL)",
            name=op.f("ck_news_inputs_included_in_an_issue"),
        ),
        sa.CheckConstraint(
            "status <> 'declined' OR note IS NOT NULL", name=op.f("ck_news_inputs_declined_with_a_note")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["members.id"],
            name=op.f("fk_news_inputs_decided_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_news_inputs_member_id_members"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_news_inputs_network_id_networks")
        ),
        sa.ForeignKeyConstraint(
            ["newsletter_id"], ["newsletters.id"], name=op.f("fk_news_inputs_newsletter_id_newsletters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news_inputs")),
    )
    with op.batch_alter_table("news_inputs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_news_inputs_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_news_inputs_network_id"), ["network_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_news_inputs_newsletter_id"), ["newsletter_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_news_inputs_status"), ["status"], unique=False)

    op.create_table(
        "newsletter_networks",
        sa.Column("newsletter_id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name=op.f("fk_newsletter_networks_network_id_networks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["newsletter_id"],
            ["newsletters.id"],
            name=op.f("fk_newsletter_networks_newsletter_id_newsletters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("newsletter_id", "network_id", name=op.f("pk_newsletter_networks")),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("newsletter_unsubscribed_at", sa.DateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("teams_webhook_url", sa.String(length=1000), nullable=True))

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "channel",
                sa.Enum(
                    "mail",
                    "webhook",
                    name="outbox_channel",
                    native_enum=False,
                    create_constraint=True,
                    length=10,
                ),
                server_default="mail",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("headers", sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column("batch", sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_batch"), ["batch"], unique=False)


def downgrade():
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_batch"))
        batch_op.drop_constraint(batch_op.f("ck_outbox_outbox_channel"), type_="check")
        batch_op.drop_column("batch")
        batch_op.drop_column("headers")
        batch_op.drop_column("url")
        batch_op.drop_column("channel")

    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.drop_column("teams_webhook_url")

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("newsletter_unsubscribed_at")

    op.drop_table("newsletter_networks")
    with op.batch_alter_table("news_inputs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_news_inputs_status"))
        batch_op.drop_index(batch_op.f("ix_news_inputs_newsletter_id"))
        batch_op.drop_index(batch_op.f("ix_news_inputs_network_id"))
        batch_op.drop_index(batch_op.f("ix_news_inputs_member_id"))

    op.drop_table("news_inputs")
    op.drop_table("advice_request_networks")
    with op.batch_alter_table("advice_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_advice_answers_member_id"))

    op.drop_table("advice_answers")
    with op.batch_alter_table("newsletters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_newsletters_sent_at"))

    op.drop_table("newsletters")
    op.drop_table("advice_requests")
