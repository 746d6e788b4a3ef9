"""In real Chromium: a member sends input; the coordinator includes it, previews and sends the
issue, watching the progress; the member receives it and finds it in the archive."""

import pytest
from playwright.sync_api import expect

from tests.helpers import sign_in_as

pytestmark = pytest.mark.browser


def test_input_is_included_sent_received_and_archived(
    page, new_context, tmp_path, live_server, create_member, create_coordinator, municipality, mail_outbox
):
    from models import outbox

    member = create_member(municipality("4601"), name="Kari Nordmann")
    create_member(municipality("0301"), name="Ola Nordmann")
    member_email, coordinator_email = member.email, create_coordinator("NIK", name="Kora Koordinator").email

    # The member sends input to NIK's newsletter.
    sign_in_as(page, member_email)
    page.goto("/newsletter/input")
    page.get_by_role("button", name="Send innspillet").click()  # nothing filled in: told next to the fields
    expect(page.locator("#title-error")).to_have_text("Gi innspillet en tittel.")
    page.get_by_label("NIK – ").check()
    page.get_by_label("Tittel").fill("Tolkekurs i Bergen")
    page.get_by_label("Tekst").fill(
        "Vi holder **kurs** i bruk av tolk i mars.\n\n<script>alert('x')</script>"
    )
    page.get_by_label("Lenke (valgfritt)").fill("https://www.bergen.kommune.no/tolkekurs")
    page.get_by_role("button", name="Send innspillet").click()
    expect(page.get_by_role("status")).to_contain_text("Takk! Innspillet ditt er sendt til koordinatoren.")
    expect(page.get_by_text("Venter på koordinator")).to_be_visible()

    # The coordinator starts an issue, includes the input, previews and sends.
    coordinator = new_context().new_page()
    sign_in_as(coordinator, coordinator_email)
    coordinator.goto("/newsletter/new")
    coordinator.get_by_label("Tittel", exact=True).fill("Nytt fra NIK – desember")
    coordinator.get_by_label("Tekst", exact=True).fill("## Velkommen\n\nHer er årets siste nyhetsbrev.")
    coordinator.get_by_label("NIK – ").check()
    coordinator.get_by_role("button", name="Lagre utkastet").click()
    expect(coordinator.get_by_role("status")).to_contain_text("Nummeret er lagret som utkast.")
    coordinator.goto("/newsletter/queue")
    item = coordinator.get_by_role("listitem").filter(has_text="Tolkekurs i Bergen")
    expect(item).to_contain_text("Fra Kari Nordmann")
    item.get_by_role("button", name="Ta med").click()
    expect(coordinator.get_by_role("status")).to_contain_text(
        "«Tolkekurs i Bergen» er tatt med i «Nytt fra NIK – desember»."
    )

    coordinator.goto("/newsletter/")
    coordinator.get_by_role("link", name="Nytt fra NIK – desember").click()
    coordinator.get_by_role("button", name="Lagre og forhåndsvis").click()
    expect(
        coordinator.get_by_role("region", name="Forhåndsvisning: nummeret slik medlemmene vil se det")
    ).to_contain_text("Det går til 2 aktive medlemmer av NIK")
    issue = coordinator.get_by_role("article")
    expect(issue.get_by_role("heading", level=2, name="Velkommen")).to_be_visible()
    expect(issue.get_by_role("heading", level=3, name="Tolkekurs i Bergen")).to_be_visible()
    expect(issue.locator("strong")).to_have_text("kurs")
    coordinator.get_by_role("button", name="Send til 2 medlemmer").click()
    expect(coordinator.get_by_role("status").filter(has_text="Sendt")).to_contain_text("Sendt 0 av 2")

    with live_server.app.app_context():  # the outbox worker runs; the page follows by itself
        outbox.deliver(worker="browser-test")
    expect(coordinator.get_by_role("status").filter(has_text="Sendt")).to_contain_text(
        "Sendt 2 av 2", timeout=10_000
    )
    coordinator.context.close()

    # The member receives it, and finds it in the archive; the input shows as sent.
    mail = next(m for m in mail_outbox if m["To"] == member_email)
    assert mail["Subject"] == "Nytt fra NIK – desember"
    assert "Tolkekurs i Bergen" in mail.get_body(("plain",)).get_content()
    assert "<script" not in mail.as_string()
    page.goto("/newsletter/input")
    expect(page.get_by_text("Sendt", exact=True)).to_be_visible()
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Nyhetsbrev").click()
    page.get_by_role("link", name="Nytt fra NIK – desember").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nytt fra NIK – desember")
    expect(page.get_by_role("article")).to_contain_text("Innspill fra Kari Nordmann")
    expect(page.get_by_role("link", name="https://www.bergen.kommune.no/tolkekurs")).to_be_visible()
    page.screenshot(path=tmp_path / "newsletter-archive.png", full_page=True)
