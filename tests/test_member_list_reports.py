"""Member-list reports (*Meld en endring i deltakerlisten*): the reporter sees what became of
their reports; one report about an address waits at a time (the database holds it); applying an
address to add invites it, as a main contact's invitation does.  And the hand-over button names
the one colleague it asks."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import ChangeRequest, ChangeStatus, OutboxMessage
from tests.conftest import at_once, csrf_token_from, links_in, post, postgres_only, sign_in, twice_at_once
from tests.helpers import page_of, tabs

NEW = "ny.kollega@bergen.kommune.example"


@pytest.fixture
def bergen(municipality):
    return municipality("4601")


@pytest.fixture
def people(bergen, create_member, create_coordinator):
    """Kari and Ola in Bergen (NIK), and NIK's coordinator."""
    kari = create_member(bergen, name="Kari Nordmann")
    ola = create_member(bergen, name="Ola Nordmann")
    return kari, ola, create_coordinator("NIK", name="Koordinator")


def report(client, org, data):
    url = f"{page_of(org)}/NIK/report"
    return post(client, url, data, page=url)


def requests():
    db.session.expire_all()
    return db.session.scalars(select(ChangeRequest).order_by(ChangeRequest.id)).all()


def decide(client, change, decision, note=""):
    return post(
        client,
        f"/coordinator/change-requests/{change.id}/{decision}",
        {"note": note},
        page="/coordinator/change-requests",
    )


def test_the_reporter_sees_their_reports_and_what_became_of_them(app, client, bergen, people):
    kari, ola, coordinator = people
    sign_in(client, kari.email)
    assert report(client, bergen, {"action": "remove", "email": ola.email}).status_code == 303
    assert report(client, bergen, {"action": "add", "email": NEW}).status_code == 303
    page = client.get(page_of(bergen)).get_data(as_text=True)
    assert "Dine meldinger til deltakerlisten" in page
    assert page.count("Venter på koordinator") == 2

    coordinators = app.test_client()
    sign_in(coordinators, coordinator.email)
    removal, addition = requests()
    assert decide(coordinators, removal, "reject", "Ola jobber her fortsatt").status_code == 303
    assert decide(coordinators, addition, "apply").status_code == 303

    page = client.get(page_of(bergen)).get_data(as_text=True)
    mine = page[page.index("Dine meldinger til deltakerlisten") :]
    assert "Avslått" in mine and "Koordinatorens merknad: Ola jobber her fortsatt" in mine
    assert "Gjennomført" in mine and NEW in mine and "Venter på koordinator" not in mine

    # Only the reporter's own: a colleague sees none of them.
    other = app.test_client()
    sign_in(other, ola.email)
    assert "Dine meldinger til deltakerlisten" not in other.get(page_of(bergen)).get_data(as_text=True)


def test_the_same_address_is_not_reported_again_while_a_report_about_it_waits(
    app, client, bergen, people, create_member
):
    kari, ola, _coordinator = people
    per = create_member(bergen, name="Per Hansen")
    sign_in(client, kari.email)
    assert report(client, bergen, {"action": "remove", "email": ola.email}).status_code == 303
    # The same report again is the one waiting (a repeat, not a refusal) …
    again = report(client, bergen, {"action": "remove", "email": ola.email.upper()})
    assert again.status_code == 303
    # … another report about the address is refused, naming the one waiting, next to the address.
    colleague = app.test_client()
    sign_in(colleague, per.email)
    refused = report(
        colleague, bergen, {"action": "change", "email": ola.email, "new_email": "ola@bergen.example"}
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert f"En melding om {ola.email} venter allerede på koordinatoren (Fjern en adresse" in page
    assert 'id="email-error"' in page
    assert [(r.action.value, r.reported_by_id) for r in requests()] == [("remove", kari.id)]


def test_the_database_keeps_one_pending_report_per_address_and_network(bergen, people, networks):
    kari, ola, _coordinator = people
    vestland = db.session.scalar(
        select(type(bergen)).where(type(bergen).kind == "county_municipality", type(bergen).number == "46")
    )

    def pending(org, network="NIK", status=ChangeStatus.PENDING):
        return ChangeRequest(
            reported_by=kari,
            organisation=org,
            network=networks[network],
            action="remove",
            email=ola.email,
            status=status,
        )

    db.session.add(pending(bergen))
    db.session.commit()
    db.session.add(pending(vestland))  # bypassing report(): the index refuses it
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    # Another network's list, and reports already handled, are not the waiting one.
    db.session.add_all([pending(bergen, "NIFS"), pending(bergen, status=ChangeStatus.REJECTED)])
    db.session.commit()
    assert len(requests()) == 3


def test_a_report_about_the_address_can_be_made_again_once_the_first_is_handled(app, client, bergen, people):
    kari, ola, coordinator = people
    sign_in(client, kari.email)
    assert report(client, bergen, {"action": "remove", "email": ola.email}).status_code == 303
    coordinators = app.test_client()
    sign_in(coordinators, coordinator.email)
    assert decide(coordinators, requests()[0], "reject", "Feil person").status_code == 303
    assert report(client, bergen, {"action": "remove", "email": ola.email}).status_code == 303
    assert [r.status for r in requests()] == [ChangeStatus.REJECTED, ChangeStatus.PENDING]


def test_two_organisations_reporting_one_address_at_once_file_one(
    app, bergen, people, create_member, municipality
):
    postgres_only(app)
    kari, ola, _coordinator = people
    askoy = create_member(municipality("4627"), name="Siri på Askøy")
    clients = tabs(app, kari.email, 1) + tabs(app, askoy.email, 1)
    urls = [f"{page_of(bergen)}/NIK/report", f"{page_of(municipality('4627'))}/NIK/report"]
    tokens = [csrf_token_from(c.get(u)) for c, u in zip(clients, urls, strict=True)]

    address = ola.email

    def send(wait, client, url, token):
        wait()
        return client.post(url, data={"action": "remove", "email": address, "csrf_token": token})

    responses = at_once(send, list(zip(clients, urls, tokens, strict=True)))
    assert sorted(r.status_code for r in responses) == [303, 422]
    assert len(requests()) == 1


def test_applying_an_address_to_add_invites_it_in_the_organisations_written_form(
    app, client, bergen, people, deliver, mail_outbox
):
    kari, _ola, coordinator = people
    bergen.set_language_decision("nn")
    db.session.commit()
    sign_in(client, kari.email)
    assert report(client, bergen, {"action": "add", "email": NEW, "name": "Nils Ny"}).status_code == 303
    coordinators = app.test_client()
    sign_in(coordinators, coordinator.email)
    (change,) = requests()
    assert decide(coordinators, change, "apply").status_code == 303
    deliver()
    (invitation,) = [m for m in mail_outbox if m["To"] == NEW]
    assert links_in(invitation)[0].endswith(f"/register/?organisation={bergen.id}")
    assert "Koordinator" in invitation.get_body(("plain",)).get_content()
    (told,) = [m for m in mail_outbox if m["To"] == kari.email]
    assert (
        f"ein invitasjon til å registrere seg er sendt til {NEW}" in told.get_body(("plain",)).get_content()
    )


def test_an_address_to_add_applied_twice_at_once_is_invited_once(
    app, bergen, people, deliver, mail_outbox, networks
):
    postgres_only(app)
    kari, _ola, coordinator = people
    db.session.add(
        ChangeRequest(reported_by=kari, organisation=bergen, network=networks["NIK"], action="add", email=NEW)
    )
    db.session.commit()
    (change,) = requests()
    responses = twice_at_once(
        tabs(app, coordinator.email),
        f"/coordinator/change-requests/{change.id}/apply",
        page="/coordinator/change-requests",
    )
    assert [r.status_code for r in responses] == [303, 303]
    assert db.session.scalar(select(func.count()).where(OutboxMessage.recipient == NEW)) == 1
    deliver()
    assert [m["To"] for m in mail_outbox].count(NEW) == 1


def test_an_address_already_registered_is_not_invited(app, client, bergen, people, deliver, mail_outbox):
    kari, ola, coordinator = people
    sign_in(client, kari.email)
    assert report(client, bergen, {"action": "add", "email": ola.email}).status_code == 303
    coordinators = app.test_client()
    sign_in(coordinators, coordinator.email)
    assert decide(coordinators, requests()[0], "apply").status_code == 303
    deliver()
    assert ola.email not in [m["To"] for m in mail_outbox]


def test_the_hand_over_button_names_the_one_colleague_it_asks(
    app, client, bergen, people, create_member, deliver, mail_outbox
):
    kari, ola, _coordinator = people
    next(m for m in kari.memberships if m.network.code == "NIK").make_main_contact()
    db.session.commit()
    sign_in(client, kari.email)
    page = client.get(page_of(bergen)).get_data(as_text=True)
    assert "Spør Ola Nordmann om å ta over som hovedkontakt" in page
    assert "Spør om de vil ta over" not in page
    url = f"{page_of(bergen)}/NIK/handover"
    assert (
        post(client, url, {"colleague": next(iter(ola.memberships)).id}, page=page_of(bergen)).status_code
        == 303
    )
    deliver()
    assert ola.email in [m["To"] for m in mail_outbox]
    # With two colleagues to choose from, the form has a list and asks the one chosen.
    create_member(bergen, name="Per Hansen")
    page = client.get(page_of(bergen)).get_data(as_text=True)
    assert "Gi rollen videre til" in page and "Spør Ola Nordmann" not in page
