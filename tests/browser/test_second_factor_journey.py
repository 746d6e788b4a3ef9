"""In real Chromium: a coordinator sets up the second factor with the keyboard alone (the QR code
drawn on the server, the key to type beside it, the first code from the app), gets the recovery
codes once, and at the next sign-in is asked for the app's code before the coordinator pages."""

import re
from datetime import timedelta

import pyotp
import pytest
import time_machine
from playwright.sync_api import expect

from models.types import utcnow
from tests.conftest import PASSWORD
from tests.helpers import tab_to

pytestmark = pytest.mark.browser


def sign_in(page, email, next_url):
    page.goto(f"/sign-in?next={next_url}")
    form = page.get_by_role("form", name="Med passord")
    form.get_by_label("E-postadresse").fill(email)
    form.get_by_label("Passord").fill(PASSWORD)
    form.get_by_role("button", name="Logg inn").click()


def test_set_up_by_keyboard_then_sign_in_with_a_code(page, live_server, create_coordinator):
    coordinator = create_coordinator("NIK")
    sign_in(page, coordinator.email, "/me/two-factor")
    expect(page.get_by_role("heading", level=1)).to_have_text("Totrinnsinnlogging")

    tab_to(page, "Sett opp totrinnsinnlogging", limit=40)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sett opp totrinnsinnlogging")
    qr = page.get_by_role("img", name=re.compile("^QR-kode for autentiseringsappen"))
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.naturalWidth") > 0  # the data: address is drawn under the CSP
    secret = page.locator(".secret code").inner_text().replace(" ", "")

    tab_to(page, "Kode", limit=40)
    page.keyboard.type(pyotp.TOTP(secret).now(), delay=20)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Reservekodene dine")
    expect(page.get_by_role("list", name="Reservekoder").get_by_role("listitem")).to_have_count(10)

    page.get_by_role("button", name="Logg ut").click()
    # The next sign-in, a step later (a code works once): the app's code is asked first.
    with time_machine.travel(utcnow() + timedelta(seconds=31), tick=True):
        sign_in(page, coordinator.email, "/coordinator/")
        expect(page).to_have_url(re.compile(r"/sign-in/code\?next=/coordinator/$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Koden fra autentiseringsappen")
        expect(page.get_by_label("Kode")).to_be_focused()
        page.keyboard.type(pyotp.TOTP(secret).now(), delay=20)
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/coordinator/$"))
