"""Sign-in without one more password: e-mail sign-in links, single sign-on identities and the
pending sign-ins with a provider, and a second factor (TOTP with recovery codes) for coordinators.

Downgrade: lossy – drops what this made: the links to providers' accounts (members sign in by the
provider again with a verified address, or link again), the authenticator apps set up
(coordinators set them up again) and the recovery codes; sign-in links and begun provider sign-ins
in flight stop working.

Revision ID: f2a7c4e9b051
Revises: c9a5e3f7b214
Create Date: 2026-12-01 20:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f2a7c4e9b051"
down_revision = "c9a5e3f7b214"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)

DOWNGRADE_LOSES = {
    "links to providers' accounts": "SELECT count(*) FROM provider_identities",
    "authenticator apps set up": "SELECT count(*) FROM members WHERE totp_secret IS NOT NULL",
}


def upgrade():
    # A sign-in link mailed on request: the mailed token names the row (ids only); the row keeps a
    # digest of the asking browser's cookie, and is spent once.  member_id is empty when the address
    # asked for has no account (the same work is done, nothing is mailed).
    op.create_table(
        "sign_in_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("browser", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("used_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_sign_in_links_member_id_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_links")),
    )
    op.create_index(op.f("ix_sign_in_links_member_id"), "sign_in_links", ["member_id"])
    op.create_index(op.f("ix_sign_in_links_created_at"), "sign_in_links", ["created_at"])

    # A sign-in begun with an OpenID provider: what the callback must match (state, by its digest),
    # what it must send (the PKCE verifier) and check (the nonce), and the browser that began it.
    op.create_table(
        "provider_sign_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("browser", sa.String(length=64), nullable=False),
        sa.Column("next_url", sa.String(length=500), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("used_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_sign_ins")),
        sa.UniqueConstraint("state", name=op.f("uq_provider_sign_ins_state")),
    )
    op.create_index(op.f("ix_provider_sign_ins_created_at"), "provider_sign_ins", ["created_at"])

    # A member's account with a provider: the provider's subject, stored after the first sign-in.
    op.create_table(
        "provider_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_used_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_provider_identities_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_identities")),
        sa.UniqueConstraint("provider", "subject", name=op.f("uq_provider_identities_provider_subject")),
        sa.UniqueConstraint("member_id", "provider", name=op.f("uq_provider_identities_member_id_provider")),
    )

    # The second factor: the authenticator's secret (confirmed once a first code is right), the last
    # time step a code was accepted for (a code works once), and when it becomes required.
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_confirmed_at", WHEN, nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("second_factor_due_at", WHEN, nullable=True))

    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("used_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_recovery_codes_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    op.create_index(op.f("ix_recovery_codes_member_id"), "recovery_codes", ["member_id"])


def downgrade():
    op.drop_index(op.f("ix_recovery_codes_member_id"), table_name="recovery_codes")
    op.drop_table("recovery_codes")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("second_factor_due_at")
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_confirmed_at")
        batch_op.drop_column("totp_secret")
    op.drop_table("provider_identities")
    op.drop_index(op.f("ix_provider_sign_ins_created_at"), table_name="provider_sign_ins")
    op.drop_table("provider_sign_ins")
    op.drop_index(op.f("ix_sign_in_links_created_at"), table_name="sign_in_links")
    op.drop_index(op.f("ix_sign_in_links_member_id"), table_name="sign_in_links")
    op.drop_table("sign_in_links")
