"""The register's rules, at the model level and in the database itself."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from flask_babel import force_locale
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError, StatementError

from extensions import db
from models import (
    DomainError,
    InvalidTransition,
    Member,
    Membership,
    MembershipStatus,
    Organisation,
    OrganisationKind,
)


def membership_of(member, code="NIK"):
    return next(m for m in member.memberships if m.network.code == code)


# -- status transitions ---------------------------------------------------------------------


def test_a_membership_walks_from_registration_to_active(create_member, municipality):
    member = create_member(municipality("4601"), status="pending_email")
    membership = membership_of(member)
    assert membership.status == MembershipStatus.PENDING_EMAIL
    membership.confirm_email()
    assert membership.status == MembershipStatus.PENDING_ANCHORING
    membership.anchor()
    db.session.commit()
    assert membership.status == MembershipStatus.ACTIVE
    assert membership.activated_at is not None


@pytest.mark.parametrize(
    "start, step",
    [
        ("pending_email", "anchor"),  # no skipping email verification
        ("pending_anchoring", "lapse"),
        ("active", "anchor"),
        ("declined", "restore"),
        ("left", "anchor"),
        ("lapsed", "confirm_email"),
    ],
)
def test_an_invalid_transition_is_refused_with_a_clear_message(create_member, municipality, start, step):
    membership = membership_of(create_member(municipality("4601"), status=start))
    method = getattr(membership, step)
    with pytest.raises(InvalidTransition) as refused:
        method("reason") if step == "lapse" else method()
    assert "kan ikke endres til" in refused.value.message or "cannot become" in str(refused.value.message)
    assert membership.status == start


def test_status_cannot_be_assigned_or_given_at_creation(create_member, municipality, networks):
    membership = membership_of(create_member(municipality("4601")))
    with pytest.raises(AttributeError):
        membership.status = MembershipStatus.LEFT
    with pytest.raises(TypeError):
        Membership(status=MembershipStatus.ACTIVE)


def test_the_database_refuses_an_unknown_status(create_member, municipality):
    membership = membership_of(create_member(municipality("4601")))
    with pytest.raises(IntegrityError):
        db.session.execute(
            update(Membership).where(Membership.id == membership.id).values(status="suspended")
        )
        db.session.flush()


def test_leaving_records_when_and_why_and_keeps_the_row(create_member, municipality):
    member = create_member(municipality("4601"))
    membership = membership_of(member)
    membership.leave("changed job")
    db.session.commit()
    db.session.expire_all()
    assert membership.status == MembershipStatus.LEFT
    assert membership.end_reason == "changed job"
    assert membership.ended_at.tzinfo is not None


# -- main contact ---------------------------------------------------------------------------------


def test_only_one_main_contact_per_organisation_and_network(create_member, municipality):
    bergen = municipality("4601")
    first, second = create_member(bergen), create_member(bergen, name="Kari Nordmann")
    membership_of(first).make_main_contact()
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        membership_of(second).make_main_contact()
    assert first.name in str(refused.value.message)
    assert "Bergen" in str(refused.value.message)


def test_the_database_refuses_a_second_main_contact(create_member, municipality):
    """The partial unique index holds even when the model check is bypassed."""
    bergen = municipality("4601")
    first, second = create_member(bergen), create_member(bergen)
    membership_of(first).make_main_contact()
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(
            update(Membership).where(Membership.id == membership_of(second).id).values(is_main_contact=True)
        )
        db.session.flush()
    db.session.rollback()
    # Another municipality, or another network, may have its own main contact.
    oslo_member = create_member(municipality("0301"))
    membership_of(oslo_member).make_main_contact()
    db.session.commit()


def test_the_database_refuses_a_main_contact_that_is_not_active(create_member, municipality):
    membership = membership_of(create_member(municipality("4601"), status="pending_anchoring"))
    with pytest.raises(DomainError):
        membership.make_main_contact()
    with pytest.raises(IntegrityError):
        db.session.execute(
            update(Membership).where(Membership.id == membership.id).values(is_main_contact=True)
        )
        db.session.flush()


@pytest.mark.parametrize("step", ["leave", "lapse"])
def test_a_main_contact_who_leaves_or_lapses_vacates_the_role(create_member, municipality, step):
    bergen = municipality("4601")
    membership = membership_of(create_member(bergen))
    membership.make_main_contact()
    db.session.commit()
    getattr(membership, step)("gone")
    db.session.commit()
    assert not membership.is_main_contact
    successor = membership_of(create_member(bergen))
    successor.make_main_contact()
    db.session.commit()
    assert successor.current_main_contact() is successor


def test_observers_have_no_main_contact(create_member, app):
    fhi = db.session.scalar(select(Organisation).filter_by(short_name="FHI"))
    membership = membership_of(create_member(fhi))
    with pytest.raises(DomainError):
        membership.make_main_contact()


# -- members ---------------------------------------------------------------------------------------


def test_email_is_unique_without_regard_to_case(create_member, municipality):
    create_member(municipality("4601"), email="Kari.Nordmann@Bergen.Kommune.no")
    member = db.session.scalar(select(Member))
    assert member.email == "kari.nordmann@bergen.kommune.no"
    with pytest.raises(IntegrityError):
        create_member(municipality("0301"), email="KARI.NORDMANN@bergen.kommune.no")


def test_the_database_refuses_an_email_that_is_not_lower_case(app, municipality):
    with pytest.raises(IntegrityError):
        db.session.execute(
            insert(Member).values(
                name="X",
                name_folded="x",
                email="Upper@Example.no",
                organisation_id=municipality("4601").id,
                created_at=datetime.now(UTC),
            )
        )


def test_the_database_refuses_a_member_as_their_own_line_manager(create_member, municipality):
    with pytest.raises(IntegrityError):
        create_member(
            municipality("4601"), email="ola@bergen.kommune.no", manager_email="Ola@Bergen.kommune.no"
        )


def test_memberships_follow_a_member_who_moves_but_the_main_contact_role_does_not(
    create_member, municipality
):
    bergen, oslo = municipality("4601"), municipality("0301")
    member = create_member(bergen, networks=("NIK",))
    membership_of(member).make_main_contact()
    db.session.commit()
    member.move_to(oslo)
    db.session.commit()
    db.session.expire_all()
    membership = db.session.scalar(select(Membership).filter_by(member_id=member.id))
    assert membership.organisation_id == oslo.id
    assert not membership.is_main_contact


def test_the_database_keeps_a_membership_on_its_members_organisation(create_member, municipality):
    member = create_member(municipality("4601"))
    with pytest.raises(IntegrityError):
        db.session.execute(
            update(Membership)
            .where(Membership.member_id == member.id)
            .values(organisation_id=municipality("0301").id)
        )
        db.session.flush()


def test_an_organisation_with_members_cannot_be_deleted(create_member, municipality):
    bergen = municipality("4601")
    create_member(bergen)
    with pytest.raises(IntegrityError):
        db.session.execute(Organisation.__table__.delete().where(Organisation.id == bergen.id))
        db.session.flush()


def test_times_are_stored_and_read_as_aware_utc(create_member, municipality):
    member = create_member(municipality("4601"))
    oslo_time = datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    member.created_at = oslo_time
    db.session.commit()
    db.session.expire_all()
    assert member.created_at == oslo_time
    assert member.created_at.utcoffset() == timedelta(0)
    with pytest.raises(StatementError, match="naive") as refused:
        member.created_at = datetime(2026, 6, 1, 12, 0)
        db.session.flush()
    assert isinstance(refused.value.orig, ValueError)


# -- organisations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        {"kind": "municipality", "number": "4601", "county_number": "03"},  # number outside its county
        {"kind": "municipality", "number": "460", "county_number": "46"},  # not four digits
        {"kind": "county_municipality", "number": "461"},
        {"kind": "hospital_trust", "number": None, "county_number": "46"},  # county only for municipalities
        {"kind": "ministry", "number": None},
    ],
)
def test_the_database_refuses_malformed_organisations(app, values):
    with pytest.raises(IntegrityError):
        db.session.execute(insert(Organisation).values(name="X", name_folded="x", active=True, **values))


def test_numbers_are_unique_per_kind(app):
    with pytest.raises(IntegrityError):
        db.session.execute(
            insert(Organisation).values(
                kind="municipality",
                number="4601",
                county_number="46",
                name="Bergen 2",
                name_folded="bergen 2",
                active=True,
            )
        )


def test_a_deactivated_municipality_is_kept_but_not_offered(app, municipality):
    bergen = municipality("4601")
    bergen.deactivate()
    db.session.commit()
    assert db.session.get(Organisation, bergen.id) is not None
    assert bergen not in db.session.scalars(Organisation.search("Bergen")).all()
    assert bergen in db.session.scalars(Organisation.search("Bergen", include_inactive=True)).all()


def test_networks_accept_the_organisations_the_mandate_names(networks, municipality, app):
    observer = db.session.scalar(select(Organisation).filter_by(short_name="IMDi"))
    trust = db.session.scalar(select(Organisation).filter_by(name="Helse Bergen HF"))
    assert networks["NIK"].accepts(municipality("4601"))
    assert not networks["NIK"].accepts(trust)
    assert networks["NONEMI"].accepts(trust)
    assert all(network.accepts(observer) for network in networks.values())
    assert trust.parent.name == "Helse Vest RHF"
    assert municipality("4601").county.name == "Vestland"
    with force_locale("en"):
        assert str(OrganisationKind.MUNICIPALITY.label) == "Municipality"
    with force_locale("nb"):
        assert str(OrganisationKind.MUNICIPALITY.label) == "Kommune"
