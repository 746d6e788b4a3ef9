"""In real Chromium: topics on the agenda – a coordinator takes a proposed topic into a meeting and
finds it on the meeting's page, also when the page is printed."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from extensions import db
from tests.helpers import sign_in_as

pytestmark = pytest.mark.browser


def test_topics_on_the_agenda(page, live_server, create_member, create_coordinator, municipality, networks):
    from models import meeting as meetings
    from models import topic as topics

    kari = create_member(municipality("4601"), name="Kari Nordmann")
    ola = create_member(municipality("0301"), name="Ola")
    proposal = topics.propose(
        networks["NIK"], kari, "Tolking i helsestasjonen", "professional_meeting", "Erfaringer fra Bergen"
    )
    topics.support(proposal, ola)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)
    meeting = meetings.plan(
        [networks["NIK"]],
        kind="professional_meeting",
        title="Høstens fagmøte",
        format="digital",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
    )
    db.session.commit()
    proposal_id, meeting_id, year = proposal.id, meeting.id, meeting.starts_at.year
    coordinator = create_coordinator("NIK").email

    sign_in_as(page, coordinator)
    page.goto(f"/meetings/plan/NIK/{year}#topics")
    page.locator(f"#meeting-{proposal_id}").select_option(str(meeting_id))
    page.get_by_role("button", name="Ta inn i møtet").click()
    expect(page.get_by_text("Temaet står på møtets dagsorden")).to_be_visible()
    expect(page.locator("#topics")).to_contain_text("Ingen tema venter")  # no longer waiting

    page.goto(f"/meetings/{meeting_id}")
    section = page.get_by_role("region", name="Temaer på dagsordenen")
    expect(section).to_be_visible()
    expect(section.get_by_role("listitem")).to_have_count(1)
    expect(section.get_by_role("listitem")).to_contain_text("Tolking i helsestasjonen")
    expect(section.get_by_role("listitem")).to_contain_text("foreslått av Kari Nordmann")
    expect(section.get_by_role("listitem")).to_contain_text("Erfaringer fra Bergen")

    # Printed (the meeting page is the printable agenda): the topics are on paper too.
    page.emulate_media(media="print")
    expect(section).to_be_visible()
    expect(page.get_by_role("heading", name="Temaer på dagsordenen")).to_be_visible()
