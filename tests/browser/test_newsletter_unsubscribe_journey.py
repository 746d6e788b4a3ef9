"""In real Chromium: a member of NIK and NIFS follows the unsubscribe link in an issue to NIK, stops
NIK's newsletter with one click and keeps NIFS's; on My page NIK's box is unticked, and ticking it
again brings NIK's letter back."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from extensions import db
from tests.helpers import sign_in_as

pytestmark = pytest.mark.browser


def test_the_mail_link_stops_one_networks_newsletter_and_my_page_shows_the_choice(
    page, live_server, create_member, create_coordinator, mail_outbox
):
    from models import Network, Organisation, outbox
    from models import newsletter as newsletters

    fhi = db.session.scalar(select(Organisation).filter_by(short_name="FHI"))
    berit = create_member(fhi, networks=("NIK", "NIFS"), name="Berit Begge")
    email, coordinator_id = berit.email, create_coordinator("NIK", "NIFS").id

    def send(code, title):
        with live_server.app.app_context():
            from models import Member

            by = db.session.get(Member, coordinator_id)
            network = db.session.scalar(select(Network).filter_by(code=code))
            newsletters.send(newsletters.create(title, "Tekst", [network], by), by)
            db.session.commit()
            outbox.deliver(worker="browser-test")

    send("NIK", "Nytt fra NIK")
    mail = next(m for m in mail_outbox if m["To"] == email)
    link = re.search(r"https?://\S+/newsletter/unsubscribe/\S+", mail.get_body(("plain",)).get_content())
    page.goto(link.group(0))  # not signed in
    expect(page.get_by_role("heading", level=1)).to_have_text("Nyhetsbrevet")
    page.get_by_role("button", name="Meld meg av nyhetsbrevet til NIK").click()
    expect(page.get_by_role("status")).to_contain_text("Du får ikke lenger nyhetsbrevet til NIK.")
    choices = page.get_by_role("list").filter(has_text="NIFS:")
    expect(choices).to_contain_text("NIK: avmeldt")
    expect(choices).to_contain_text("NIFS: du får det")
    expect(page.get_by_role("button", name="Meld meg av alle nyhetsbrevene")).to_be_visible()

    # The next issue to NIK does not come; one to NIFS does.
    mail_outbox.clear()
    send("NIK", "Mer fra NIK")
    send("NIFS", "Nytt fra NIFS")
    assert [m["Subject"] for m in mail_outbox if m["To"] == email] == ["Nytt fra NIFS"]

    # My page shows the choice per network, and changes it.
    sign_in_as(page, email)
    page.goto("/me/")
    nik, nifs = page.get_by_label("Nyhetsbrevet til NIK"), page.get_by_label("Nyhetsbrevet til NIFS")
    expect(nik).not_to_be_checked()
    expect(nifs).to_be_checked()
    nik.check()
    page.get_by_role("button", name="Lagre valget mitt av nyhetsbrev").click()
    expect(page.get_by_role("status")).to_contain_text("Valget ditt av nyhetsbrev er lagret.")
    expect(page.get_by_label("Nyhetsbrevet til NIK")).to_be_checked()
    expect(page.get_by_label("Nyhetsbrevet til NIFS")).to_be_checked()
