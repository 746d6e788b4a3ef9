"""In real Chromium: a main contact hands over, the colleague accepts, both get mail, the overview shows it."""

import pytest
from playwright.sync_api import expect

from extensions import db
from tests.helpers import sign_in_as

pytestmark = pytest.mark.browser


def test_hand_over_the_main_contact_role(
    page, new_context, live_server, create_member, create_coordinator, municipality, mail_outbox
):
    from models import outbox

    bergen = municipality("4601")
    kari = create_member(bergen, name="Kari Nordmann")
    ola = create_member(bergen, name="Ola Nordmann")
    kari.memberships[0].make_main_contact()
    db.session.commit()
    coordinator = create_coordinator("NIK")
    kari_email, ola_email, coordinator_email = kari.email, ola.email, coordinator.email

    sign_in_as(page, kari_email)
    page.get_by_role("link", name="Min kommune").click()
    # One colleague to hand over to: the button names them (no list to choose from).
    page.get_by_role("button", name="Spør Ola Nordmann om å ta over som hovedkontakt").click()
    expect(page.get_by_role("status").filter(has_text="Vi har spurt Ola Nordmann")).to_be_visible()

    colleague = new_context().new_page()
    sign_in_as(colleague, ola_email)
    colleague.goto(f"/municipality/{bergen.id}")
    expect(colleague.get_by_text("Kari Nordmann spør om du vil ta over som hovedkontakt.")).to_be_visible()
    colleague.get_by_role("button", name="Ja, jeg tar over").click()
    expect(colleague.get_by_text("Du er nå hovedkontakt.")).to_be_visible()
    colleague.context.close()

    with live_server.app.app_context():
        outbox.deliver(worker="browser-test")
    recipients = [m["To"] for m in mail_outbox]
    assert ola_email in recipients and kari_email in recipients
    assert any("tatt over" in m["Subject"] for m in mail_outbox if m["To"] == kari_email)

    overview = new_context().new_page()
    sign_in_as(overview, coordinator_email)
    overview.goto("/coordinator/overview?network=NIK&q=Bergen")
    row = overview.get_by_role("row").filter(has=overview.get_by_role("link", name="Bergen", exact=True))
    expect(row).to_contain_text("Ola Nordmann")
    overview.context.close()
