"""In real Chromium: a hand-over offer waits on the colleague's home; they follow its link and accept."""

import re

import pytest
from playwright.sync_api import expect

from extensions import db
from tests.helpers import sign_in_as

pytestmark = pytest.mark.browser


def test_the_hand_over_offer_is_on_the_home_and_its_link_leads_to_the_answer(
    page, create_member, municipality
):
    from models import main_contact

    bergen = municipality("4601")
    kari = create_member(bergen, name="Kari Nordmann")
    ola = create_member(bergen, name="Ola Nordmann")
    kari.memberships[0].make_main_contact()
    db.session.commit()
    main_contact.offer(kari.memberships[0], ola.memberships[0])
    db.session.commit()
    ola_email, bergen_id = ola.email, bergen.id

    sign_in_as(page, ola_email)
    attention = page.get_by_role("region", name="Trenger din oppmerksomhet")
    offer = attention.get_by_role(
        "link",
        name="Kari Nordmann spør om du vil ta over som hovedkontakt for Bergen i NIK: svar ja eller nei.",
    )
    expect(offer).to_be_visible()
    expect(page.get_by_text("Ingenting venter på deg nå.")).to_have_count(0)

    offer.click()
    expect(page).to_have_url(re.compile(rf"/municipality/{bergen_id}#network-NIK$"))
    expect(page.get_by_text("Kari Nordmann spør om du vil ta over som hovedkontakt.")).to_be_visible()
    page.get_by_role("button", name="Ja, jeg tar over").click()
    expect(page.get_by_text("Du er nå hovedkontakt.")).to_be_visible()

    page.goto("/")
    expect(offer).to_have_count(0)
