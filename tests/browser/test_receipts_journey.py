"""In real Chromium: the call-in's receipts page – counts first, the unconfirmed by organisation,
searched as you type and paged in place, the live count kept."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from extensions import db
from tests.helpers import sign_in_as

pytestmark = pytest.mark.browser


def test_who_has_not_confirmed_is_found_by_typing_and_paged_in_place(
    page, live_server, create_member, create_coordinator, municipality, networks
):
    from models import call_in as call_ins
    from models import meeting as meetings

    bergen, stavanger = municipality("4601"), municipality("1103")
    people = [create_member(bergen, name=f"Bergensar {i:02}") for i in range(30)]
    people.append(create_member(stavanger, name="Siri Sandnes"))
    start = datetime.now(UTC) + timedelta(hours=2)
    meeting = meetings.plan(
        [networks["NIK"]],
        kind="emergency",
        title="Smitteutbrudd",
        format="digital",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
    )
    call_ins.acknowledge(meeting, people[0])
    db.session.commit()
    url, stavanger_name = f"/meetings/{meeting.id}/acknowledgements", stavanger.name

    sign_in_as(page, create_coordinator("NIK").email)
    page.goto(url)
    expect(page.locator("#acknowledged-count")).to_have_text("1 av 31 har bekreftet")
    expect(page.locator(".receipt-counts")).to_contain_text("Ikke bekreftet ennå")
    expect(page.locator("#receipt-count")).to_have_text("30 personer har ikke bekreftet")
    rows = page.locator("#receipt-results tbody tr")
    expect(rows).to_have_count(25)  # a page, not everyone
    expect(page.locator("#receipt-results th[scope=rowgroup]")).to_have_text([bergen.name])

    # Turned in place: the rest, with Stavanger's row group.
    page.get_by_role("link", name="Neste").click()
    expect(page).to_have_url(re.compile(re.escape(url) + r"\?page=2$"))
    expect(rows).to_have_count(5)
    expect(page.locator("#receipt-results th[scope=rowgroup]")).to_have_text([bergen.name, stavanger_name])

    # Typed: the list narrows as you type, the count (a live region that stays) says how many.
    page.goto(url)
    page.get_by_label("Navn, e-postadresse eller organisasjon").fill("siri")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(["Siri Sandnes"])
    expect(page.locator("#receipt-count")).to_have_text("1 person som ikke har bekreftet, passer til søket")
    expect(page.locator("#receipt-count")).to_have_attribute("role", "status")
    expect(page.get_by_role("button", name="Minn dem som ikke har bekreftet")).to_be_visible()
