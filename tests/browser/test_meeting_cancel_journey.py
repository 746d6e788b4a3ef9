"""In real Chromium: "Avlys møtet" asks first – a page that says who is told, a message for them, a
button that cancels – with JavaScript and without."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from extensions import db
from tests.helpers import sign_in_as

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-javascript"])
def test_cancel_with_confirmation_and_a_message(
    new_context,
    live_server,
    create_member,
    create_coordinator,
    networks,
    municipality,
    mail_outbox,
    javascript,
):
    from models import Meeting, outbox
    from models import meeting as meetings

    coordinator = create_coordinator("NIK")
    member = create_member(municipality("4601"), name="Kari Nordmann")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=14)
    meeting = meetings.plan(
        [networks["NIK"]],
        kind="professional_meeting",
        title="Fagmøte om tolking",
        format="digital",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
    )
    meetings.sign_up(member, meeting)
    db.session.commit()
    meeting_id, coordinator_email, member_email = meeting.id, coordinator.email, member.email
    with live_server.app.app_context():
        outbox.deliver(worker="browser-test")
    mail_outbox.clear()

    page = new_context(java_script_enabled=javascript).new_page()
    sign_in_as(page, coordinator_email)
    page.goto(f"/meetings/{meeting_id}")
    page.get_by_role("link", name="Avlys møtet").click()
    # The confirmation: what happens and who is told; nothing is cancelled yet.
    expect(page.get_by_role("heading", level=1)).to_have_text("Avlyse «Fagmøte om tolking»?")
    expect(page.get_by_role("region", name="Dette skjer")).to_contain_text(
        "1 påmeldt får avlysningen på e-post"
    )
    expect(page.get_by_role("region", name="Dette skjer")).to_contain_text("Kari Nordmann")
    with live_server.app.app_context():
        assert db.session.get(Meeting, meeting_id).status == "planned"
    page.get_by_label("Melding: hvorfor møtet avlyses (valgfritt)").fill(
        "Foredragsholderen er syk. Vi finner en ny dato."
    )
    page.get_by_role("button", name="Avlys møtet").click()

    # Back on the meeting's page: said so, the status reads cancelled, the reason is shown.
    expect(page.get_by_role("heading", level=1)).to_have_text("Fagmøte om tolking")
    expect(page.get_by_text("Møtet er avlyst; 1 påmeldt får beskjed.")).to_be_visible()
    expect(page.locator(".facts-list .status")).to_have_text("Avlyst")
    expect(page.locator(".facts-list")).to_contain_text("Foredragsholderen er syk. Vi finner en ny dato.")
    expect(page.get_by_role("link", name="Avlys møtet")).to_have_count(0)

    with live_server.app.app_context():
        outbox.deliver(worker="browser-test")
    (cancellation,) = mail_outbox
    assert cancellation["To"] == member_email and cancellation["Subject"] == "Avlyst: Fagmøte om tolking"
    assert (
        "Foredragsholderen er syk. Vi finner en ny dato." in cancellation.get_body(("plain",)).get_content()
    )
