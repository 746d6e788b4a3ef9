"""In real Chromium: a member signs in and lands on a home with their pending review, their next
meeting and the latest newsletter; then finds a colleague in the directory as they type."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from extensions import db
from tests.helpers import sign_in_as

pytestmark = pytest.mark.browser


def test_the_home_lists_the_review_the_next_meeting_and_the_newsletter(
    page, tmp_path, live_server, create_member, create_coordinator, municipality, networks
):
    from models import meeting as meetings
    from models import newsletter as newsletters
    from models import review as reviews

    kari = create_member(municipality("4601"), name="Kari Nordmann")
    create_member(municipality("4631"), name="Aud Alversen", unit="Legevakten")
    coordinator = create_coordinator("NIK")
    nik = networks["NIK"]
    now = datetime.now(UTC)
    meetings.plan(
        [nik],
        kind="network_meeting",
        title="Vårmøtet i NIK",
        format="digital",
        starts_at=now + timedelta(days=9),
        ends_at=now + timedelta(days=9, hours=3),
    )
    issue = newsletters.create("Nytt fra NIK – desember", "Hei alle", [nik], by=coordinator)
    newsletters.send(issue, coordinator)
    reviews.open_cycle(nik, now.year, now + timedelta(days=21), now + timedelta(days=14))
    db.session.commit()
    kari_email = kari.email

    sign_in_as(page, kari_email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Velkommen, Kari Nordmann")
    attention = page.get_by_role("region", name="Trenger din oppmerksomhet")
    review = attention.get_by_role("link", name=re.compile("^Svar på den årlige gjennomgangen av NIK"))
    expect(review).to_be_visible()
    expect(
        page.get_by_role("region", name="Neste møter i nettverkene dine").get_by_role(
            "link", name="Vårmøtet i NIK"
        )
    ).to_be_visible()
    expect(
        page.get_by_role("region", name="Siste nyhetsbrev").get_by_role(
            "link", name="Nytt fra NIK – desember"
        )
    ).to_be_visible()

    review.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Den årlige gjennomgangen av NIK")

    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Deltakere").click()
    page.get_by_label("Navn, virksomhet, kommune eller fylke").press_sequentially("alver", delay=40)
    results = page.locator("#directory-results")
    expect(page.locator("#directory-count")).to_have_text("1 deltaker funnet")  # the live region above
    expect(results.get_by_role("row", name=re.compile("Aud Alversen"))).to_contain_text("Legevakten")
    expect(page).to_have_url(re.compile(r"/directory/\?q=alver"))
    page.screenshot(path=tmp_path / "directory.png", full_page=True)
