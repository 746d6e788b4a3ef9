"""In real Chromium, with a real SMTP server: register, verify, the manager confirms, sign in."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD, links_in

pytestmark = pytest.mark.browser


def deliver_on(server):
    from models import outbox

    with server.app.app_context():
        outbox.deliver(worker="browser-test")


def test_register_verify_anchor_and_see_the_active_membership(page, new_context, live_server, mail_outbox):
    page.goto("/register/")
    page.get_by_label("Fullt navn").fill("Kari Nordmann")
    page.get_by_label("E-postadresse på jobben").fill("kari.nordmann@bergen.kommune.example")
    page.get_by_label("Stilling").fill("Helsesykepleier")
    page.get_by_label("Enhet eller avdeling").fill("Helsestasjon for ungdom")

    # The htmx organisation search, then the networks Bergen may join.
    page.get_by_label("Finn organisasjonen din").press_sequentially("4601", delay=30)
    bergen = page.get_by_role("radio", name=re.compile("^Bergen"))
    expect(bergen).to_be_visible()
    bergen.check()
    nik = page.get_by_role("checkbox", name=re.compile("NIK"))
    expect(nik).to_be_visible()
    expect(page.get_by_role("checkbox", name=re.compile("NONEMI"))).to_have_count(0)
    nik.check()
    page.get_by_label("Kommuneledelsen er orientert om deltakelsen min").check()

    page.get_by_label("Navnet til lederen din").fill("Per Leder")
    manager_email = page.get_by_label("E-postadressen til lederen din")
    # Inline validation, as the user leaves the field: the same rule as the submit.
    manager_email.fill("kari.nordmann@bergen.kommune.example")
    manager_email.blur()
    expect(page.locator("#manager_email-error")).to_contain_text("ikke din egen")
    manager_email.fill("per.leder@bergen.kommune.example")
    manager_email.blur()
    expect(page.locator("#manager_email-error")).to_be_empty()

    page.get_by_label("Passord", exact=True).fill(PASSWORD)
    page.get_by_role("checkbox", name=re.compile("Helsedirektoratet behandler")).check()
    page.get_by_role("button", name="Registrer deg").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sjekk innboksen din")

    # The verification mail arrives over SMTP; its link verifies.
    deliver_on(live_server)
    (verification,) = mail_outbox
    page.goto(links_in(verification)[0])
    page.get_by_role("button", name="Bekreft adressen min").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Adressen er bekreftet")

    # The manager's mail arrives; the manager confirms, without an account.
    deliver_on(live_server)
    manager_mail = mail_outbox[1]
    assert manager_mail["To"] == "per.leder@bergen.kommune.example"
    manager = new_context().new_page()
    manager.goto(links_in(manager_mail)[0])
    expect(manager.get_by_text("Helsestasjon for ungdom")).to_be_visible()
    manager.get_by_label("Navnet ditt").fill("Per Leder")
    manager.get_by_label("Jeg bekrefter deltakelsen").check()
    manager.get_by_role("button", name="Send svaret").click()
    expect(manager.get_by_role("heading", level=1)).to_have_text("Takk")
    manager.context.close()

    # The member signs in and sees NIK active, anchored by that manager.
    page.goto("/sign-in")
    with_password = page.get_by_role("form", name="Med passord")  # beside the sign-in link's form
    with_password.get_by_label("E-postadresse").fill("kari.nordmann@bergen.kommune.example")
    with_password.get_by_label("Passord").fill(PASSWORD)
    with_password.get_by_role("button", name="Logg inn").click()
    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))
    page.get_by_role("link", name="Min side").click()
    card = page.locator("#membership-NIK")
    expect(card).to_contain_text("Aktiv")
    expect(card).to_contain_text("Forankret av Per Leder")
