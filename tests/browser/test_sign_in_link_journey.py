"""In real Chromium, with a real SMTP server: a member without a password at hand asks for a
sign-in link, follows it in the same browser and is signed in; the same link in another browser
asks first, and once used it works nowhere."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import links_in

pytestmark = pytest.mark.browser


def test_ask_for_a_link_follow_it_and_be_signed_in(
    page, new_context, live_server, mail_outbox, create_member, municipality
):
    from models import outbox

    kari = create_member(municipality("4601"), name="Kari Lenke")
    email = kari.email
    page.goto("/sign-in?next=/me/")
    by_link = page.get_by_role("form", name="Med en lenke på e-post")
    by_link.get_by_label("E-postadresse").fill(email)
    by_link.get_by_role("button", name="Send meg en innloggingslenke").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sjekk innboksen din")

    with live_server.app.app_context():
        outbox.deliver(worker="browser-test")
    (mail,) = mail_outbox
    assert mail["Subject"] == "Lenken din for å logge inn"
    (url,) = [u for u in links_in(mail) if "/sign-in/link/" in u]

    # A forwarded copy, opened in another browser first: it asks, and spends nothing by asking.
    other = new_context(allow=("status of 400",)).new_page()  # the used link's page, at the end
    other.goto(url)
    expect(other.get_by_role("heading", level=1)).to_have_text("Logge inn på denne enheten?")

    page.goto(url)  # the browser that asked: signed in at once, where it was going
    expect(page).to_have_url(re.compile(r"/me/$"))
    expect(page.get_by_text("Kari Lenke").first).to_be_visible()

    other.get_by_role("button", name="Logg inn her").click()
    expect(other.get_by_role("heading", level=1)).to_have_text("Lenken virker ikke")
    expect(other.get_by_role("alert")).to_contain_text("allerede brukt")
