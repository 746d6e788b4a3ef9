"""Self-registration: the form, its inline checks, verification and the line manager's answer."""

import re

import pytest
from sqlalchemy import select

from extensions import db
from models import AnchoringStatus, AuditEntry, Member, MembershipStatus
from tests.conftest import PASSWORD, csrf_token_from, links_in, post, sign_in
from tests.helpers import HTMX, path_of, register, registration_data


def test_the_whole_journey_from_registration_to_an_anchored_membership(
    client, municipality, deliver, mail_outbox
):
    bergen = municipality("4601")
    response = register(client, bergen)
    assert response.status_code == 303 and response.headers["Location"].startswith("/register/sent")
    member = db.session.scalar(select(Member))
    assert member.email == "kari.nordmann@bergen.kommune.example"  # kept in lower case
    assert member.check_password(PASSWORD) and PASSWORD not in member.password_hash
    assert member.memberships[0].status == MembershipStatus.PENDING_EMAIL
    assert member.leadership_informed_at is not None and member.consented_at is not None

    # The verification mail arrives; its link asks for a button press (mail scanners only GET).
    deliver()
    (verification,) = mail_outbox
    assert verification["To"] == "kari.nordmann@bergen.kommune.example"
    verify_url = path_of(links_in(verification)[0])
    assert "Bekreft e-postadressen" in client.get(verify_url).get_data(as_text=True)
    db.session.refresh(member)
    assert member.email_verified_at is None
    response = post(client, verify_url, page=verify_url)
    assert response.status_code == 200 and "Per Leder" in response.get_data(as_text=True)
    db.session.expire_all()
    assert member.memberships[0].status == MembershipStatus.PENDING_ANCHORING

    # The manager's mail names the member, unit, organisation and network.
    deliver()
    manager_mail = mail_outbox[1]
    assert manager_mail["To"] == "per.leder@bergen.kommune.example"
    text = manager_mail.get_body(("plain",)).get_content()
    for expected in ("Kari Nordmann", "Helsestasjon for ungdom", "Bergen", "NIK"):
        assert expected in text
    decide_url = path_of(links_in(manager_mail)[0])
    manager = client.application.test_client()  # no account, no session
    page = manager.get(decide_url).get_data(as_text=True)
    assert "Kari Nordmann" in page and "Helsestasjon for ungdom" in page
    response = post(manager, decide_url, {"name": "Per Leder", "decision": "confirm"}, page=decide_url)
    assert response.status_code == 200 and "aktivt" in response.get_data(as_text=True)

    db.session.expire_all()
    membership = member.memberships[0]
    assert membership.status == MembershipStatus.ACTIVE
    anchoring = membership.anchoring
    assert anchoring.status == AnchoringStatus.CONFIRMED
    assert (anchoring.decided_by_name, anchoring.decided_by_email) == (
        "Per Leder",
        "per.leder@bergen.kommune.example",
    )
    assert anchoring.decided_at is not None

    # The member is told, signs in and sees the active membership, anchored by that manager.
    deliver()
    assert mail_outbox[2]["To"] == member.email and "bekreftet" in mail_outbox[2]["Subject"]
    assert sign_in(client, "KARI.NORDMANN@bergen.kommune.example").status_code == 303
    page = client.get("/me/").get_data(as_text=True)
    assert "Aktiv" in page and "Forankret av Per Leder" in page

    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[:3] == ["member.registered", "member.email_verified", "membership.status"]
    assert "anchoring.confirmed" in actions


def test_a_declining_manager_leaves_the_membership_declined_and_the_member_told(
    client, municipality, deliver, mail_outbox
):
    assert register(client, municipality("4601")).status_code == 303
    deliver()
    verify_url = path_of(links_in(mail_outbox[0])[0])
    assert post(client, verify_url, page=verify_url).status_code == 200
    deliver()
    decide_url = path_of(links_in(mail_outbox[1])[0])
    assert (
        post(
            client,
            decide_url,
            {"name": "Per Leder", "decision": "decline", "comment": "Ikke i min enhet"},
            page=decide_url,
        ).status_code
        == 200
    )
    deliver()
    member = db.session.scalar(select(Member))
    assert member.memberships[0].status == MembershipStatus.DECLINED
    assert "ikke bekreftet" in mail_outbox[2]["Subject"]
    assert "Ikke i min enhet" in mail_outbox[2].get_body(("plain",)).get_content()


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"email": "kari@"}, "email", "Skriv en e-postadresse"),
        ({"manager_email": "KARI.NORDMANN@bergen.kommune.example"}, "manager_email", "ikke din egen"),
        ({"password": "kort"}, "password", "minst 12 tegn"),
        ({"password": "passord12345"}, "password", "for lett å gjette"),
        ({"consent": None}, "consent", "samtykke"),
        ({"leadership_informed": None}, "leadership_informed", "kommuneledelsen"),
        ({"networks": ["NONEMI"]}, "networks", "ikke åpent for Bergen"),
        ({"organisation": "999999"}, "organisation", "Velg organisasjonen"),
        ({"name": ""}, "name", "Skriv navnet ditt"),
        ({"name": "Kari\x00"}, "name", "kontrolltegn"),
        ({"name": "K" * 201}, "name", "200"),
    ],
)
def test_each_error_is_shown_next_to_its_field_and_nothing_is_stored(
    client, municipality, changes, field, message
):
    response = register(client, municipality("4601"), **changes)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = re.search(
        rf'<p class="ds-validation-message field-error" id="{field}-error"[^>]*>(.*?)</p>', page, re.S
    )
    assert error and message.lower() in error.group(1).lower(), error and error.group(1)
    assert db.session.scalar(select(Member)) is None


def test_the_inline_check_uses_the_same_rules_as_the_submit(client, municipality):
    data = registration_data(municipality("4601"), manager_email="kari.nordmann@bergen.kommune.example")
    token = csrf_token_from(client.get("/register/"))
    response = client.post("/register/check/manager_email", data={**data, "csrf_token": token}, headers=HTMX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert (
        body.startswith('<p class="ds-validation-message field-error" id="manager_email-error"')
        and "ikke din egen" in body
    )
    ok = client.post("/register/check/email", data={**data, "csrf_token": token}, headers=HTMX).get_data(
        as_text=True
    )
    # The message only: the live region that reads it out stays on the page around it (WCAG 4.1.3).
    assert re.fullmatch(r'<p class="[^"]*field-error" id="email-error"></p>', ok.strip())
    assert (
        client.post("/register/check/organisation", data={"csrf_token": token}, headers=HTMX).status_code
        == 404
    )


def test_an_address_already_registered_is_not_revealed_but_its_owner_is_told(
    client, municipality, create_member, deliver, mail_outbox
):
    create_member(municipality("4601"), email="kari.nordmann@bergen.kommune.example", name="Kari Nordmann")
    response = register(client, municipality("0301"))
    assert response.status_code == 303 and response.headers["Location"].startswith("/register/sent")
    assert db.session.scalar(select(db.func.count()).select_from(Member)) == 1
    deliver()
    assert mail_outbox[0]["Subject"] == "Noen prøvde å registrere seg med adressen din"


def test_the_organisation_picker_searches_and_offers_the_networks_that_fit(client, municipality, app):
    page = client.get(
        "/register/organisations?organisation_query=4601",
        headers={**HTMX, "HX-Target": "organisation-results"},
    )
    body = page.get_data(as_text=True)
    assert "Bergen" in body and 'name="organisation"' in body and "<html" not in body
    trust = db.session.scalar(select(db.text("id FROM organisations WHERE name = 'Helse Bergen HF'")))
    networks = client.get(
        f"/register/organisations?organisation={trust}", headers={**HTMX, "HX-Target": "network-choice"}
    )
    body = networks.get_data(as_text=True)
    assert 'value="NONEMI"' in body and 'value="NIK"' not in body and "kommuneledelsen" not in body


def test_without_javascript_the_search_button_reloads_the_form_with_results(client):
    response = post(
        client,
        "/register/",
        {"organisation_query": "Bergen", "search": "1", "name": "Kari"},
        page="/register/",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="organisation"' in page and "Bergen" in page
    assert 'value="Kari"' in page  # nothing typed is lost
    assert "Sjekk skjemaet" not in page  # a search is not a failed submit


def test_observers_register_without_the_leadership_question(client, app, deliver, mail_outbox):
    from models import Organisation

    fhi = db.session.scalar(select(Organisation).filter_by(short_name="FHI"))
    response = register(
        client,
        fhi,
        networks=["NIK", "NIFS"],
        leadership_informed=None,
        email="ola@fhi.example",
        manager_email="sjef@fhi.example",
    )
    assert response.status_code == 303
    member = Member.by_email("ola@fhi.example")
    assert sorted(m.network.code for m in member.memberships) == ["NIFS", "NIK"]
    assert member.leadership_informed_at is None
    deliver()


def test_the_invitation_link_prefills_the_organisation(client, municipality):
    page = client.get(f"/register/?organisation={municipality('4601').id}").get_data(as_text=True)
    assert re.search(
        r'<input class="ds-input" type="radio" name="organisation" id="organisation-\d+" value="\d+"\s+checked',
        page,
    )


def test_a_signed_in_member_is_sent_to_my_page(client, create_member, municipality):
    member = create_member(municipality("4601"))
    sign_in(client, member.email)
    assert client.get("/register/").headers["Location"] == "/me/"
