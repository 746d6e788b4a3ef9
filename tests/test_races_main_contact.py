"""The main contact's role, invitations, coordinators, the organisation register, Teams and the
outbox's "send again": each change done twice at the same moment (two tabs, a double click, two
coordinators) has one effect – one row, one mail per person, one audit entry, no 5xx – and each
rule the pages ask (``may_*``) is held by the operation when the page is bypassed."""

from collections import Counter

import pytest
from sqlalchemy import func, select

from extensions import db
from models import AuditEntry, DomainError, Handover, HandoverStatus, Membership, OutboxMessage, main_contact
from tests.conftest import post, postgres_only, sign_in, twice_at_once


def page_of(org):
    return f"/municipality/{org.id}"


def nik(member):
    return db.session.scalar(
        select(Membership).where(Membership.member_id == member.id, Membership.network.has(code="NIK"))
    )


def audits(action):
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))


def tabs(app, email, n=2):
    """``n`` signed-in clients of one person: two tabs, each with its own form key."""
    clients = [app.test_client() for _ in range(n)]
    for client in clients:
        sign_in(client, email)
    return clients


def mails(deliver, mail_outbox):
    """{recipient: number of mails} the outbox sends now."""
    deliver()
    return Counter(m["To"] for m in mail_outbox)


def no_server_errors(responses):
    assert all(r.status_code < 500 for r in responses), [r.status_code for r in responses]


@pytest.fixture
def bergen(app, municipality):
    return municipality("4601")


@pytest.fixture
def people(app, bergen, create_member, create_coordinator):
    """Kari (main contact of Bergen in NIK), her colleague Ola, and NIK's coordinator."""
    kari, ola = create_member(bergen, name="Kari"), create_member(bergen, name="Ola")
    coordinator = create_coordinator("NIK", name="Koordinator")
    return kari, ola, coordinator


def make_main_contact(member):
    nik(member).make_main_contact()
    db.session.commit()


def offered(kari, ola):
    handover = main_contact.offer(nik(kari), nik(ola))
    db.session.commit()
    return handover


# -- twice at the same moment (PostgreSQL) ------------------------------------------------------


def test_a_handover_accepted_twice_at_once_is_applied_once(app, bergen, people, deliver, mail_outbox):
    postgres_only(app)
    kari, ola, coordinator = people
    make_main_contact(kari)
    handover = offered(kari, ola)
    deliver()
    mail_outbox.clear()
    before = audits("membership.main_contact")
    responses = twice_at_once(
        tabs(app, ola.email), f"/municipality/handovers/{handover.id}/accept", page=page_of(bergen)
    )
    no_server_errors(responses)
    assert [r.status_code for r in responses] == [303, 303]
    db.session.expire_all()
    assert nik(ola).is_main_contact and not nik(kari).is_main_contact
    assert mails(deliver, mail_outbox) == {ola.email: 1, kari.email: 1, coordinator.email: 1}
    assert audits("membership.main_contact") - before == 2  # Kari's role ends, Ola's begins: once each


def test_a_handover_declined_twice_at_once_tells_the_main_contact_once(
    app, bergen, people, deliver, mail_outbox
):
    postgres_only(app)
    kari, ola, _coordinator = people
    make_main_contact(kari)
    handover = offered(kari, ola)
    deliver()
    mail_outbox.clear()
    responses = twice_at_once(
        tabs(app, ola.email), f"/municipality/handovers/{handover.id}/decline", page=page_of(bergen)
    )
    no_server_errors(responses)
    db.session.expire_all()
    assert db.session.get(Handover, handover.id).status == HandoverStatus.DECLINED
    assert nik(kari).is_main_contact
    assert mails(deliver, mail_outbox) == {kari.email: 1}
    assert audits("main_contact.declined") == 1


def test_a_claim_from_two_tabs_at_once_gives_one_role_and_one_set_of_mails(
    app, bergen, people, deliver, mail_outbox
):
    postgres_only(app)
    kari, _ola, coordinator = people
    responses = twice_at_once(tabs(app, kari.email), f"{page_of(bergen)}/NIK/claim", page=page_of(bergen))
    no_server_errors(responses)
    assert [r.status_code for r in responses] == [303, 303]
    db.session.expire_all()
    assert nik(kari).is_main_contact
    assert mails(deliver, mail_outbox) == {kari.email: 1, coordinator.email: 1}
    assert audits("membership.main_contact") == 1


def test_an_offer_sent_twice_at_once_is_one_offer_and_one_mail(app, bergen, people, deliver, mail_outbox):
    postgres_only(app)
    kari, ola, _coordinator = people
    make_main_contact(kari)
    responses = twice_at_once(
        tabs(app, kari.email),
        f"{page_of(bergen)}/NIK/handover",
        {"colleague": nik(ola).id},
        page=page_of(bergen),
    )
    no_server_errors(responses)
    assert [r.status_code for r in responses] == [303, 303]
    assert db.session.scalar(select(func.count()).select_from(Handover)) == 1
    assert mails(deliver, mail_outbox) == {ola.email: 1}
    assert audits("main_contact.offered") == 1


def test_an_assignment_made_twice_at_once_is_made_once(app, bergen, people, deliver, mail_outbox):
    postgres_only(app)
    kari, ola, coordinator = people
    make_main_contact(kari)
    before = audits("membership.main_contact")
    responses = twice_at_once(
        tabs(app, coordinator.email), f"{page_of(bergen)}/NIK/assign/{nik(ola).id}", page=page_of(bergen)
    )
    no_server_errors(responses)
    db.session.expire_all()
    assert nik(ola).is_main_contact and not nik(kari).is_main_contact
    assert mails(deliver, mail_outbox) == {ola.email: 1, kari.email: 1, coordinator.email: 1}
    assert audits("membership.main_contact") - before == 2


def test_a_removal_made_twice_at_once_is_made_once(app, bergen, people, deliver, mail_outbox):
    postgres_only(app)
    kari, _ola, coordinator = people
    make_main_contact(kari)
    before = audits("membership.main_contact")
    responses = twice_at_once(
        tabs(app, coordinator.email),
        f"{page_of(bergen)}/NIK/remove",
        {"membership": nik(kari).id},
        page=page_of(bergen),
    )
    no_server_errors(responses)
    db.session.expire_all()
    assert not nik(kari).is_main_contact
    assert mails(deliver, mail_outbox) == {kari.email: 1}
    assert audits("membership.main_contact") - before == 1


def test_an_invitation_sent_twice_at_once_is_sent_once(app, bergen, people, deliver, mail_outbox):
    postgres_only(app)
    kari, _ola, _coordinator = people
    make_main_contact(kari)
    responses = twice_at_once(
        tabs(app, kari.email),
        f"{page_of(bergen)}/NIK/invite",
        {"email": "ny.kollega@bergen.kommune.example"},
        page=page_of(bergen),
    )
    no_server_errors(responses)
    assert mails(deliver, mail_outbox) == {"ny.kollega@bergen.kommune.example": 1}


# -- the rules, with the page bypassed ---------------------------------------------------------


def test_an_invitation_again_the_same_day_is_not_sent_again(
    app, client, bergen, people, deliver, mail_outbox
):
    kari, _ola, _coordinator = people
    make_main_contact(kari)
    sign_in(client, kari.email)
    for _ in range(2):
        assert (
            post(
                client,
                f"{page_of(bergen)}/NIK/invite",
                {"email": "Ny.Kollega@bergen.kommune.example"},
                page=page_of(bergen),
            ).status_code
            == 303
        )
    assert "invitert for mindre enn et døgn siden" in client.get(page_of(bergen)).get_data(as_text=True)
    assert mails(deliver, mail_outbox) == {"ny.kollega@bergen.kommune.example": 1}


def test_only_the_main_contact_or_a_coordinator_invites(app, client, bergen, people):
    _kari, ola, _coordinator = people
    sign_in(client, ola.email)
    assert "Send invitasjon" not in client.get(page_of(bergen)).get_data(as_text=True)
    response = post(
        client, f"{page_of(bergen)}/NIK/invite", {"email": "ny@bergen.kommune.example"}, page=page_of(bergen)
    )
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_hospital_trust_member_cannot_claim_a_main_contact_role(app, client, create_member):
    from models import Organisation

    trust = db.session.scalar(select(Organisation).filter_by(name="Helse Bergen HF"))
    member = create_member(trust, networks=("NONEMI",))
    create_member(trust, networks=("NONEMI",))
    sign_in(client, member.email)
    page = client.get(f"/municipality/{trust.id}").get_data(as_text=True)
    assert "Bli hovedkontakt" not in page
    response = post(client, f"/municipality/{trust.id}/NONEMI/claim", page=f"/municipality/{trust.id}")
    assert response.status_code == 303
    db.session.expire_all()
    assert not member.memberships[0].is_main_contact
    assert "Bare kommuner og fylkeskommuner" in client.get(f"/municipality/{trust.id}").get_data(as_text=True)


def test_a_member_not_yet_active_cannot_claim(app, client, bergen, create_member):
    waiting = create_member(bergen, status="pending_anchoring")
    sign_in(client, waiting.email)
    assert "Bli hovedkontakt" not in client.get(page_of(bergen)).get_data(as_text=True)
    assert post(client, f"{page_of(bergen)}/NIK/claim", page=page_of(bergen)).status_code == 403  # the policy
    db.session.expire_all()
    assert not nik(waiting).is_main_contact


def test_only_an_active_colleague_of_the_same_organisation_can_be_offered_the_role(
    app, client, bergen, people, create_member, municipality
):
    kari, _ola, _coordinator = people
    make_main_contact(kari)
    stranger = create_member(municipality("0301"))
    waiting = create_member(bergen, status="pending_anchoring")
    sign_in(client, kari.email)
    for colleague in (stranger, waiting, kari):
        response = post(
            client, f"{page_of(bergen)}/NIK/handover", {"colleague": nik(colleague).id}, page=page_of(bergen)
        )
        assert response.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Handover)) == 0


def test_a_member_who_is_not_main_contact_cannot_offer_the_role(app, client, bergen, people):
    _kari, ola, _coordinator = people
    sign_in(client, ola.email)
    response = post(
        client, f"{page_of(bergen)}/NIK/handover", {"colleague": nik(_kari).id}, page=page_of(bergen)
    )
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Handover)) == 0


def test_only_the_colleague_asked_answers_an_offer(app, client, bergen, people, create_member):
    kari, ola, _coordinator = people
    per = create_member(bergen, name="Per")
    make_main_contact(kari)
    handover = offered(kari, ola)
    sign_in(client, per.email)
    assert (
        post(client, f"/municipality/handovers/{handover.id}/accept", page=page_of(bergen)).status_code == 403
    )
    db.session.expire_all()
    assert db.session.get(Handover, handover.id).is_pending and nik(kari).is_main_contact


def test_an_offer_lapses_when_the_coordinator_removes_the_main_contact(app, client, bergen, people):
    kari, ola, coordinator = people
    make_main_contact(kari)
    handover = offered(kari, ola)
    coordinator_client = tabs(app, coordinator.email, 1)[0]
    assert (
        post(
            coordinator_client,
            f"{page_of(bergen)}/NIK/remove",
            {"membership": nik(kari).id},
            page=page_of(bergen),
        ).status_code
        == 303
    )
    sign_in(client, ola.email)
    assert "ber deg ta over" not in client.get(page_of(bergen)).get_data(as_text=True)
    assert (
        post(client, f"/municipality/handovers/{handover.id}/accept", page=page_of(bergen)).status_code == 303
    )
    db.session.expire_all()
    assert db.session.get(Handover, handover.id).status == HandoverStatus.CANCELLED
    assert not nik(ola).is_main_contact and not nik(kari).is_main_contact


def test_the_coordinator_cannot_assign_a_member_who_is_not_active(app, client, bergen, people, create_member):
    _kari, _ola, coordinator = people
    waiting = create_member(bergen, status="pending_anchoring")
    sign_in(client, coordinator.email)
    page = client.get(page_of(bergen)).get_data(as_text=True)
    assert f"/assign/{nik(waiting).id}" not in page
    assert (
        post(client, f"{page_of(bergen)}/NIK/assign/{nik(waiting).id}", page=page_of(bergen)).status_code
        == 303
    )
    db.session.expire_all()
    assert not nik(waiting).is_main_contact


def test_a_removal_of_someone_no_longer_main_contact_removes_nobody(app, client, bergen, people):
    kari, ola, coordinator = people
    make_main_contact(ola)
    sign_in(client, coordinator.email)
    # The page showed Kari as main contact; Ola has taken over since.
    assert (
        post(
            client, f"{page_of(bergen)}/NIK/remove", {"membership": nik(kari).id}, page=page_of(bergen)
        ).status_code
        == 303
    )
    db.session.expire_all()
    assert nik(ola).is_main_contact


# -- coordinators ------------------------------------------------------------------------------


def roles_of(member_id):
    from models import CoordinatorRole

    return db.session.scalar(
        select(func.count()).select_from(CoordinatorRole).where(CoordinatorRole.member_id == member_id)
    )


def test_a_coordinator_appointed_twice_at_once_gets_one_role_and_one_mail(
    app, bergen, people, deliver, mail_outbox
):
    postgres_only(app)
    kari, _ola, coordinator = people
    responses = twice_at_once(
        tabs(app, coordinator.email),
        "/coordinator/coordinators",
        {"email": kari.email, "network": "NIK"},
        page="/coordinator/coordinators",
    )
    no_server_errors(responses)
    assert sorted(r.status_code for r in responses) == [303, 422]  # the second: "already coordinates"
    assert roles_of(kari.id) == 1
    assert mails(deliver, mail_outbox) == {kari.email: 1}
    assert audits("role.coordinator_granted") == 2  # the fixture's coordinator, and Kari once


def test_a_new_coordinator_appointed_twice_at_once_gets_one_account(app, people, deliver, mail_outbox):
    from models import Member

    postgres_only(app)
    _kari, _ola, coordinator = people
    responses = twice_at_once(
        tabs(app, coordinator.email),
        "/coordinator/coordinators",
        {"email": "ny.koordinator@helsedir.example", "name": "Nora Ny", "network": "NIK"},
        page="/coordinator/coordinators",
    )
    no_server_errors(responses)
    assert sorted(r.status_code for r in responses) == [303, 422]
    new = Member.by_email("ny.koordinator@helsedir.example")
    assert new is not None and roles_of(new.id) == 1
    assert mails(deliver, mail_outbox) == {"ny.koordinator@helsedir.example": 1}


def test_appointing_someone_who_coordinates_already_is_refused_next_to_the_field(app, client, people):
    _kari, _ola, coordinator = people
    sign_in(client, coordinator.email)
    response = post(
        client,
        "/coordinator/coordinators",
        {"email": coordinator.email, "network": "NIK"},
        page="/coordinator/coordinators",
    )
    assert response.status_code == 422 and "er allerede koordinator for" in response.get_data(as_text=True)
    assert roles_of(coordinator.id) == 1


# -- the organisation register -----------------------------------------------------------------

MANAGE = "/organisations/manage"


def organisations_named(name):
    from models import Organisation

    return db.session.scalars(select(Organisation).where(Organisation.name == name)).all()


@pytest.fixture
def voluntary(app):
    """A voluntary organisation coordinators keep, with no members."""
    from models import Organisation

    organisation = Organisation.add_by_coordinator("voluntary_organisation", "Kirkens Bymisjon Bergen")
    db.session.commit()
    return organisation


def test_an_organisation_added_twice_at_once_is_added_once(app, people):
    postgres_only(app)
    _kari, _ola, coordinator = people
    responses = twice_at_once(
        tabs(app, coordinator.email),
        MANAGE,
        {"kind": "voluntary_organisation", "name": "Røde Kors Bergen"},
        page=MANAGE,
    )
    no_server_errors(responses)
    assert sorted(r.status_code for r in responses) == [303, 422]
    assert len(organisations_named("Røde Kors Bergen")) == 1
    assert audits("organisation.added") == 1


def test_an_organisation_already_in_the_register_is_not_added_again(app, client, people, voluntary):
    _kari, _ola, coordinator = people
    sign_in(client, coordinator.email)
    response = post(
        client, MANAGE, {"kind": "voluntary_organisation", "name": "  kirkens  bymisjon BERGEN "}, page=MANAGE
    )
    assert response.status_code == 422 and "finnes allerede i registeret" in response.get_data(as_text=True)
    response = post(client, MANAGE, {"kind": "hospital_trust", "name": "Helse Bergen HF"}, page=MANAGE)
    assert response.status_code == 422  # the reference list's trust is there already
    assert (
        len(organisations_named("Kirkens Bymisjon Bergen")) == 1
        and len(organisations_named("Helse Bergen HF")) == 1
    )


def test_an_organisation_edited_twice_at_once_is_audited_once(app, people, voluntary):
    postgres_only(app)
    _kari, _ola, coordinator = people
    responses = twice_at_once(
        tabs(app, coordinator.email),
        f"/organisations/{voluntary.id}/edit",
        {"kind": "voluntary_organisation", "name": "Bymisjonen i Bergen"},
        page=MANAGE,
    )
    no_server_errors(responses)
    assert [r.status_code for r in responses] == [303, 303]
    assert len(organisations_named("Bymisjonen i Bergen")) == 1
    assert audits("organisation.edited") == 1


def test_an_organisation_deactivated_twice_at_once_is_deactivated_once(app, people, voluntary):
    postgres_only(app)
    _kari, _ola, coordinator = people
    responses = twice_at_once(
        tabs(app, coordinator.email), f"/organisations/{voluntary.id}/deactivate", page=MANAGE
    )
    no_server_errors(responses)
    db.session.expire_all()
    assert not voluntary.active
    assert audits("organisation.deactivated") == 1
    responses = twice_at_once(
        tabs(app, coordinator.email), f"/organisations/{voluntary.id}/reactivate", page=MANAGE
    )
    no_server_errors(responses)
    db.session.expire_all()
    assert voluntary.active
    assert audits("organisation.reactivated") == 1


def test_an_organisation_with_active_members_is_not_deactivated(
    app, client, people, voluntary, create_member
):
    _kari, _ola, coordinator = people
    create_member(voluntary, networks=("NIFS",))
    sign_in(client, coordinator.email)
    assert post(client, f"/organisations/{voluntary.id}/deactivate", page=MANAGE).status_code == 303
    db.session.expire_all()
    assert voluntary.active and audits("organisation.deactivated") == 0


def test_a_municipality_is_not_the_coordinators_to_rename(app, client, bergen, people):
    from models import Organisation

    _kari, _ola, coordinator = people
    sign_in(client, coordinator.email)
    with pytest.raises(DomainError) as refused:
        bergen.edit_by_coordinator("voluntary_organisation", "Bergen frivilligsentral")
    assert "offisielle listene" in str(refused.value.message)
    db.session.rollback()
    assert db.session.get(Organisation, bergen.id).name == "Bergen"


# -- Teams ------------------------------------------------------------------------------------


def test_the_teams_channel_saved_twice_at_once_is_audited_once(app, people):
    postgres_only(app)
    _kari, _ola, coordinator = people
    url = "https://hdir.webhook.office.com/webhookb2/abc/IncomingWebhook/def"
    responses = twice_at_once(
        tabs(app, coordinator.email),
        "/coordinator/teams/NIK/channel",
        {"url": url},
        page="/coordinator/teams/NIK",
    )
    no_server_errors(responses)
    assert audits("teams.channel_set") == 1


def test_members_marked_invited_twice_at_once_are_marked_once(app, people):
    postgres_only(app)
    kari, ola, coordinator = people
    responses = twice_at_once(
        tabs(app, coordinator.email),
        "/coordinator/teams/NIK/invited",
        {"membership": [nik(kari).id, nik(ola).id]},
        page="/coordinator/teams/NIK",
    )
    no_server_errors(responses)
    db.session.expire_all()
    assert nik(kari).teams_invited_at is not None and nik(ola).teams_invited_at is not None
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "teams.invited")).all()
    assert [e.after for e in entries] == [{"invited": 2}]


# -- the outbox's "send again" -----------------------------------------------------------------


@pytest.fixture
def failed_mail(app, people):
    """A mail to a member of NIK that failed for good: in the NIK coordinator's outbox."""
    from models import OutboxStatus
    from models.outbox import queue

    _kari, ola, _coordinator = people
    message = queue(ola.email, "Et brev", "notice", name=ola.name, lines=["Hei"], url=None, link_text="")
    db.session.flush()
    message.status, message.bounced, message.attempts = OutboxStatus.FAILED, True, 12
    db.session.commit()
    return message


def test_send_again_pressed_twice_at_once_queues_the_mail_once(app, people, failed_mail):
    from models import OutboxStatus

    postgres_only(app)
    _kari, _ola, coordinator = people
    clients = tabs(app, coordinator.email)
    responses = twice_at_once(
        clients, f"/coordinator/outbox/{failed_mail.id}/retry", page="/coordinator/outbox"
    )
    no_server_errors(responses)
    pages = [client.get("/coordinator/outbox").get_data(as_text=True) for client in clients]
    assert sum("blir sendt på nytt" in page for page in pages) == 1
    assert sum("venter ikke på å bli sendt på nytt" in page for page in pages) == 1
    db.session.expire_all()
    assert failed_mail.status == OutboxStatus.PENDING


def test_send_again_does_nothing_to_a_mail_that_did_not_fail(app, client, people, failed_mail):
    from models import OutboxStatus

    _kari, _ola, coordinator = people
    failed_mail.status = OutboxStatus.SENT
    db.session.commit()
    sign_in(client, coordinator.email)
    assert "Send på nytt" not in client.get("/coordinator/outbox").get_data(as_text=True)
    assert (
        post(client, f"/coordinator/outbox/{failed_mail.id}/retry", page="/coordinator/outbox").status_code
        == 303
    )
    db.session.expire_all()
    assert failed_mail.status == OutboxStatus.SENT and failed_mail.bounced
