"""Organisation register, the three networks, members and memberships.

The rules the database holds: one main contact per organisation and network (a
partial unique index), a main contact is active, a membership sits on its member's
organisation (composite foreign key), lower-case unique e-mail, well-formed
municipality and county numbers.

Downgrade: lossy – drops the organisation register, the networks, the members and their memberships (the reference data can be loaded again; the members cannot).

Revision ID: 63a44e88a767
Revises:
Create Date: 2026-11-23 05:35:05.631024

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "63a44e88a767"
down_revision = None
branch_labels = None
depends_on = None

# What the downgrade loses, counted before a downgrade starts: migrations/env.py refuses
# it while any count is above zero, unless -x lossy=yes is given.
DOWNGRADE_LOSES = {
    "members": "SELECT count(*) FROM members",
    "memberships": "SELECT count(*) FROM memberships",
    "organisations added by coordinators (no reference list has them)": "SELECT count(*) FROM organisations WHERE reference_key IS NULL",
}


def upgrade():
    op.create_table(
        "networks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=False),
        sa.Column("network_meetings_per_year", sa.Integer(), server_default="2", nullable=False),
        sa.Column("professional_meetings_max", sa.Integer(), server_default="4", nullable=False),
        sa.CheckConstraint("code IN ('NIK', 'NIFS', 'NONEMI')", name=op.f("ck_networks_known_code")),
        sa.CheckConstraint(
            "network_meetings_per_year >= 0", name=op.f("ck_networks_network_meetings_not_negative")
        ),
        sa.CheckConstraint(
            "professional_meetings_max >= 0", name=op.f("ck_networks_professional_meetings_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_networks")),
        sa.UniqueConstraint("code", name=op.f("uq_networks_code")),
    )
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "municipality",
                "county_municipality",
                "observer",
                "voluntary_organisation",
                "hospital_trust",
                "other",
                name="organisation_kind",
                native_enum=False,
                create_constraint=True,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("number", sa.String(length=4), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_folded", sa.String(length=200), nullable=False),
        sa.Column("short_name", sa.String(length=40), nullable=True),
        sa.Column("county_number", sa.String(length=2), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("reference_key", sa.String(length=250), nullable=True),
        sa.CheckConstraint(
            "county_number IS NULL OR kind = 'municipality'",
            name=op.f("ck_organisations_county_only_for_municipality"),
        ),
        sa.CheckConstraint(
            "kind <> 'county_municipality' OR length(number) = 2",
            name=op.f("ck_organisations_county_number_format"),
        ),
        sa.CheckConstraint(
            "kind <> 'municipality' OR (length(number) = 4 AND substr(number, 1, 2) = county_number)",
            name=op.f("ck_organisations_municipality_number"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["organisations.id"], name=op.f("fk_organisations_parent_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("kind", "number", name=op.f("uq_organisations_kind_number")),
        sa.UniqueConstraint("reference_key", name=op.f("uq_organisations_reference_key")),
    )
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organisations_name_folded"), ["name_folded"], unique=False)

    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("job_title", sa.String(length=200), nullable=True),
        sa.Column("unit", sa.String(length=200), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("manager_name", sa.String(length=200), nullable=True),
        sa.Column("manager_email", sa.String(length=254), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_members_email_lower_case")),
        sa.CheckConstraint(
            "manager_email IS NULL OR manager_email <> email", name=op.f("ck_members_manager_is_someone_else")
        ),
        sa.CheckConstraint(
            "manager_email IS NULL OR manager_email = lower(manager_email)",
            name=op.f("ck_members_manager_email_lower_case"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_members_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("email", name=op.f("uq_members_email")),
        sa.UniqueConstraint("id", "organisation_id", name=op.f("uq_members_id_organisation_id")),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending_email",
                "pending_anchoring",
                "active",
                "declined",
                "lapsed",
                "left",
                name="membership_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("is_main_contact", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "NOT is_main_contact OR status = 'active'", name=op.f("ck_memberships_main_contact_is_active")
        ),
        sa.ForeignKeyConstraint(
            ["member_id", "organisation_id"],
            ["members.id", "members.organisation_id"],
            name=op.f("fk_memberships_member_id_members"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_memberships_network_id_networks")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_memberships_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint("member_id", "network_id", name=op.f("uq_memberships_member_id_network_id")),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memberships_network_id"), ["network_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_memberships_organisation_id"), ["organisation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_memberships_status"), ["status"], unique=False)
        batch_op.create_index(
            "uq_memberships_main_contact",
            ["organisation_id", "network_id"],
            unique=True,
            sqlite_where=sa.text("is_main_contact"),
            postgresql_where=sa.text("is_main_contact"),
        )


def downgrade():
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_memberships_main_contact",
            sqlite_where=sa.text("is_main_contact"),
            postgresql_where=sa.text("is_main_contact"),
        )
        batch_op.drop_index(batch_op.f("ix_memberships_status"))
        batch_op.drop_index(batch_op.f("ix_memberships_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_memberships_network_id"))

    op.drop_table("memberships")
    op.drop_table("members")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisations_name_folded"))

    op.drop_table("organisations")
    op.drop_table("networks")
