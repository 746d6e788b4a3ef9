"""In real Chromium: a member answers the yearly review from the mail link; the coordinator sees it."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from extensions import db
from tests.conftest import links_in
from tests.helpers import sign_in_as

pytestmark = pytest.mark.browser


def test_a_member_answers_from_the_mail_and_the_coordinator_sees_the_charts(
    page, new_context, live_server, create_member, create_coordinator, municipality, networks, mail_outbox
):
    from models import outbox
    from models import review as reviews

    member = create_member(municipality("4601"), name="Kari Nordmann", unit="Helsestasjonen")
    create_member(municipality("4601"), name="Ola Nordmann")
    coordinator_email = create_coordinator("NIK").email
    now = datetime.now(UTC)
    cycle = reviews.open_cycle(networks["NIK"], now.year, now + timedelta(days=21), now + timedelta(days=14))
    db.session.commit()
    cycle_id, member_email = cycle.id, member.email
    with live_server.app.app_context():
        outbox.deliver(worker="browser-test")
    mail = next(m for m in mail_outbox if m["To"] == member_email)
    link = next(u for u in links_in(mail) if "/reviews/answer/" in u).replace("http://localhost", "")

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Den årlige gjennomgangen av NIK")
    page.get_by_role("button", name="Send svaret").click()  # nothing chosen: told next to the field
    expect(page.locator("#decision-error")).to_have_text("Svar på om du fortsatt deltar.")
    page.get_by_label("Ja, jeg deltar fortsatt").check()
    expect(page.get_by_label("Enhet eller avdeling")).to_have_value("Helsestasjonen")
    for fieldset, score in (("1.", "4"), ("2.", "5"), ("3.", "3"), ("4.", "4")):
        page.get_by_role("group", name=fieldset).get_by_label(score, exact=True).check()
    page.get_by_role("group", name="1.").get_by_label("Kommentar (valgfritt)").fill("Nyttige fagmøter")
    page.get_by_label("Hva bør endres? (valgfritt)").fill("Flere felles møter med NIFS")
    page.get_by_role("button", name="Send svaret").click()
    expect(page.get_by_role("status")).to_have_text("Takk, Kari Nordmann! Du står fortsatt på listen.")

    coordinator = new_context().new_page()
    sign_in_as(coordinator, coordinator_email)
    coordinator.goto(f"/reviews/cycle/{cycle_id}")
    expect(coordinator.get_by_role("status")).to_contain_text("1 av 2 har svart")
    chart = coordinator.get_by_role(
        "img", name="Styrke medlemmenes kompetanse og samarbeid om migrasjonshelse"
    )
    expect(chart).to_be_visible()
    expect(coordinator.get_by_text("Gjennomsnitt 5,0 av 5 fra 1 svar")).to_be_visible()
    coordinator.get_by_text("1 kommentar").first.click()
    expect(coordinator.get_by_text("Nyttige fagmøter")).to_be_visible()  # read from the server when opened
    coordinator.get_by_text("1 forslag").click()
    expect(coordinator.get_by_text("Flere felles møter med NIFS")).to_be_visible()
    expect(coordinator.get_by_role("row", name="Kari Nordmann")).to_contain_text("Deltar")
    coordinator.context.close()
