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

pytestmark = pytest.mark.browser

FOCUSED = """() => {
  const e = document.activeElement;
  const label = (e.labels && e.labels.length) ? e.labels[0].innerText : (e.getAttribute("aria-label") || e.innerText || e.value || "");
  const style = getComputedStyle(e);
  return {name: label.trim(), visible: style.outlineStyle !== "none" && style.outlineWidth !== "0px"};
}"""


def settled(page):
    """Wait until htmx has swapped and settled what it fetched (as a person would see it)."""
    busy = "() => !!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    for _ in range(100):  # polled from here: wait_for_function would evaluate a string, which the CSP refuses
        if not page.evaluate(busy):
            return
        page.wait_for_timeout(50)
    raise AssertionError("htmx did not settle")


def tab_to(page, name, limit=6):
    """Press Tab until the control whose label starts with ``name`` has the focus, within ``limit``
    presses: the next field of a form must come next in the focus order, not after a detour."""
    passed = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        passed.append(focused["name"])
        if focused["name"].startswith(name):
            assert focused["visible"], f"no visible focus on {name!r}"
            return passed
    raise AssertionError(f"Tab never reached {name!r}; passed {passed}")


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
