"""With the keyboard alone, in real Chromium: register, and sign up for a meeting.

Nothing is clicked or filled by locator: focus moves with Tab (the page's own order), text is
typed, boxes are ticked with Space and forms sent with Enter.  Each control reached shows where
the focus is (WCAG 2.4.7): the outline of ``:focus-visible``.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from extensions import db
from tests.conftest import PASSWORD
from tests.helpers import settled, tab_to

pytestmark = pytest.mark.browser


def test_register_with_the_keyboard_alone(app, page, live_server):
    page.goto("/register/")
    tab_to(page, "Fullt navn", limit=40)  # past the skip link and the menu
    page.keyboard.type("Kari Nordmann", delay=20)
    for label, text in (
        ("E-postadresse på jobben", "kari.nordmann@bergen.kommune.example"),
        ("Stilling", "Helsesykepleier"),
        ("Enhet eller avdeling", "Helsestasjon for ungdom"),
        ("Finn organisasjonen din", "4601"),
    ):
        tab_to(page, label)
        page.keyboard.type(text, delay=20)
    expect(page.get_by_role("radio", name=re.compile("^Bergen"))).to_be_visible()  # htmx answered the search
    settled(page)
    tab_to(page, "Bergen")
    page.keyboard.press("Space")
    expect(page.get_by_role("checkbox", name=re.compile("NIK"))).to_be_visible()
    settled(page)
    tab_to(page, "NIK")
    page.keyboard.press("Space")
    tab_to(page, "Kommuneledelsen er orientert")
    page.keyboard.press("Space")
    for label, text in (
        ("Navnet til lederen din", "Per Leder"),
        ("E-postadressen til lederen din", "per.leder@bergen.kommune.example"),
        ("Passord", PASSWORD),
    ):
        tab_to(page, label)
        page.keyboard.type(text, delay=5)
    tab_to(page, "Jeg samtykker")
    page.keyboard.press("Space")
    tab_to(page, "Registrer deg")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sjekk innboksen din")
    from models import Member

    member = db.session.scalar(db.select(Member).filter_by(email="kari.nordmann@bergen.kommune.example"))
    assert member is not None and member.organisation.name == "Bergen"
    assert [m.network.code for m in member.memberships] == ["NIK"]


def test_sign_in_and_sign_up_for_a_meeting_with_the_keyboard_alone(
    page, live_server, create_member, municipality, networks
):
    from models import Signup
    from models import meeting as meetings

    kari = create_member(municipality("4601"), name="Kari Nordmann")
    soon = datetime.now(UTC) + timedelta(days=10)
    meeting = meetings.plan(
        [networks["NIK"]],
        kind="professional_meeting",
        title="Tolking i praksis",
        format="digital",
        starts_at=soon,
        ends_at=soon + timedelta(hours=2),
    )
    db.session.commit()
    email, meeting_id = kari.email, meeting.id

    page.goto("/sign-in")
    tab_to(page, "E-postadresse", limit=40)
    page.keyboard.type(email)
    tab_to(page, "Passord")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))
    # From the home, through the links, to the meeting.
    tab_to(page, "Tolking i praksis", limit=40)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tolking i praksis")
    tab_to(page, "Meld meg på", limit=40)
    page.keyboard.press("Enter")
    expect(page.get_by_text("Du er påmeldt. Kalenderinvitasjonen kommer på e-post.")).to_be_visible()
    assert db.session.scalar(db.select(Signup).filter_by(meeting_id=meeting_id)) is not None
