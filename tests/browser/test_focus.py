"""In real Chromium: where the focus goes and what is announced (WCAG 2.4.3, 3.3.1, 4.1.3, 3.1.2).

- A form sent in place (the meeting form on the year plan) never drops the focus to <body>: a
  refusal focuses its error summary, a save the confirmation.
- A page that re-renders a refused form focuses its error summary on load, and its title begins
  with "Feil: " / "Error: ".
- A search's count is one live region that stays on the page while the results are swapped.
- On an English page, a meeting title written in Norwegian carries lang="nb".
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from extensions import db
from tests.conftest import PASSWORD
from tests.helpers import settled, sign_in_as

pytestmark = pytest.mark.browser

ACTIVE = """() => {
  const e = document.activeElement;
  return {tag: e ? e.tagName : null, id: e ? e.id : null, cls: e ? String(e.className) : null,
          text: e ? e.innerText : null};
}"""


def test_the_meeting_form_in_place_keeps_the_focus_on_a_refusal_and_on_a_save(
    page, live_server, create_coordinator
):
    coordinator_email = create_coordinator("NIK").email
    day = (datetime.now(UTC) + timedelta(days=12)).date()
    sign_in_as(page, coordinator_email)
    page.goto("/meetings/plan/NIK/")
    page.get_by_role("link", name="Planlegg et møte").click()
    expect(page.get_by_label("Type møte")).to_be_focused()
    page.get_by_label("Type møte").select_option(label="Fagmøte")
    page.get_by_label("NIK – Norsk nettverk for innvandrerhelse i kommuner").check()
    page.get_by_label("Dato").fill(day.isoformat())
    page.get_by_label("Begynner").fill("10:00")
    page.get_by_label("Slutter").fill("12:00")
    page.get_by_label("Lenke til møtet (Teams)").fill("https://teams.example/m/7")

    page.get_by_role("button", name="Planlegg møtet").click()  # no title: refused in place (422)
    expect(page.locator("#title-error")).to_have_text("Gi møtet en tittel.")
    settled(page)
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    focused = page.evaluate(ACTIVE)
    assert focused["tag"] != "BODY" and "error-summary" in focused["cls"], focused
    assert "Gi møtet en tittel." in focused["text"]

    page.get_by_label("Tittel").fill("Fagmøte om fokus")
    page.get_by_role("button", name="Planlegg møtet").click()
    confirmation = page.locator("#plan .flashes")
    expect(confirmation).to_have_text("Fagmøte om fokus er planlagt.")
    settled(page)
    expect(confirmation).to_be_focused()  # read out on focus; Tab goes on from the plan's top
    focused = page.evaluate(ACTIVE)
    assert focused["tag"] != "BODY" and "Fagmøte om fokus er planlagt." in focused["text"], focused


def test_a_refused_sign_in_focuses_its_error_summary_and_says_feil_in_the_title(page, live_server):
    page.goto("/sign-in")
    expect(page).not_to_have_title(re.compile("^Feil"))
    with_password = page.get_by_role("form", name="Med passord")  # beside the sign-in link's form
    with_password.get_by_label("E-postadresse").fill("nobody@example.no")
    with_password.get_by_label("Passord").fill("not the password at all")
    with_password.get_by_role("button", name="Logg inn").click()
    expect(page).to_have_title(re.compile(r"^Feil: Logg inn"))
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("E-postadressen eller passordet er feil.")
    expect(summary).to_be_focused()


def test_registration_sent_empty_focuses_its_error_summary_and_says_error_in_english(new_context):
    page = new_context(locale="en-GB").new_page()
    page.goto("/register/")
    expect(page).to_have_title(re.compile("^Register"))
    page.get_by_role("button", name="Register", exact=True).click()
    expect(page).to_have_title(re.compile(r"^Error: Register"))
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Check the form")
    expect(summary).to_be_focused()
    # Tab from the summary leads into its list of errors, each a link to its field.
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE)["tag"] == "A"


def test_the_directory_count_is_one_live_region_that_stays_while_results_change(
    page, live_server, create_member, create_coordinator, municipality
):
    create_member(municipality("4601"), name="Kari Nordmann")
    create_member(municipality("4601"), name="Ola Fokusmann")
    create_member(municipality("4631"), name="Aud Alversen")
    coordinator_email = create_coordinator("NIK").email
    sign_in_as(page, coordinator_email)
    page.goto("/directory/")
    count = page.get_by_role("status").and_(page.locator("#directory-count"))
    expect(count).to_have_attribute("role", "status")
    assert page.locator("#directory-results #directory-count").count() == 0  # outside the swap target
    before = count.inner_text()
    page.evaluate("() => { document.getElementById('directory-count').keptAcrossSearches = true; }")

    page.get_by_label("Navn, virksomhet, kommune eller fylke").press_sequentially("fokusmann", delay=40)
    expect(
        page.locator("#directory-results").get_by_role("row", name=re.compile("Ola Fokusmann"))
    ).to_be_visible()
    settled(page)
    expect(count).to_have_text("1 deltaker funnet")
    assert count.inner_text() != before
    assert page.evaluate("() => document.getElementById('directory-count').keptAcrossSearches") is True
    assert page.locator("#directory-count").count() == 1
    expect(page.get_by_label("Navn, virksomhet, kommune eller fylke")).to_be_focused()  # typing goes on


def test_a_norwegian_meeting_title_is_marked_lang_nb_on_an_english_page(
    new_context, live_server, create_coordinator, networks
):
    from models import meeting as meetings

    coordinator_email = create_coordinator("NIK").email
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    meeting = meetings.plan(
        [networks["NIK"]],
        kind="professional_meeting",
        title="Tolking på legekontoret",
        format="digital",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
    )
    db.session.commit()
    meeting_id, year = meeting.id, meeting.year

    page = new_context(locale="en-GB").new_page()
    page.goto("/sign-in")
    page.locator("#email").fill(coordinator_email)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").last.click()
    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))
    assert page.evaluate("document.documentElement.lang") == "en"

    page.goto(f"/meetings/plan/NIK/{year}")
    expect(page.get_by_role("link", name="Tolking på legekontoret", exact=True)).to_have_attribute(
        "lang", "nb"
    )
    page.goto(f"/meetings/{meeting_id}")
    expect(page.get_by_role("heading", level=1)).to_have_attribute("lang", "nb")

    # In Norwegian the same title needs no mark of its own: it is the page's language.
    nb = new_context().new_page()
    sign_in_as(nb, coordinator_email)
    nb.goto(f"/meetings/{meeting_id}")
    expect(nb.get_by_role("heading", level=1)).not_to_have_attribute("lang", "nb")


def test_turning_a_page_of_results_keeps_the_focus_in_the_results(page, live_server):
    """The "Next" link is swapped away with the page of results it fetched: the focus goes to the
    new results' region (named by the count), not to <body>, so Tab goes on from there."""
    page.goto("/organisations/")
    page.get_by_role("navigation", name="Sider").get_by_role("link", name="Neste").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    settled(page)
    region = page.locator("#organisation-results").get_by_role("region")
    expect(region).to_be_focused()
    assert page.evaluate(ACTIVE)["tag"] != "BODY"


def test_the_sending_count_is_one_live_region_that_stays_while_it_is_polled(
    page, live_server, create_member, create_coordinator, municipality, networks, mail_outbox
):
    """The newsletter's progress is polled every 2 s: its "Sent n of m" is a live region that stays
    on the page and takes the new text, so a screen reader reads each change once."""
    from models import newsletter as newsletters
    from models import outbox

    create_member(municipality("4601"), name="Kari Nordmann")
    coordinator = create_coordinator("NIK")
    issue = newsletters.create("Nytt om fokus", "Hei alle", [networks["NIK"]], by=coordinator)
    newsletters.send(issue, coordinator)
    db.session.commit()
    coordinator_email, issue_id = coordinator.email, issue.id

    sign_in_as(page, coordinator_email)
    page.goto(f"/newsletter/{issue_id}")
    status = page.locator("#sending-status")
    expect(status).to_have_attribute("role", "status")
    expect(status).to_contain_text("Sendt 0 av 1")
    assert page.locator("#progress #sending-status").count() == 0  # outside what the poll swaps
    page.evaluate("() => { document.getElementById('sending-status').keptWhilePolled = true; }")
    with live_server.app.app_context():
        outbox.deliver(worker="browser-test")
    expect(status).to_contain_text("Sendt 1 av 1", timeout=10_000)
    assert page.evaluate("() => document.getElementById('sending-status').keptWhilePolled") is True
    assert page.locator("#sending-status").count() == 1
    assert [m["Subject"] for m in mail_outbox] == ["Nytt om fokus"]


def test_the_registration_check_as_you_type_is_read_from_a_live_region_that_stays(page, live_server):
    page.goto("/register/")
    live = page.locator(".field-error-live").filter(has=page.locator("#email-error"))
    expect(live).to_have_attribute("aria-live", "polite")
    page.evaluate("() => { document.getElementById('email-error').parentElement.keptAcrossChecks = true; }")
    page.get_by_label("E-postadresse på jobben").press_sequentially("kari@", delay=20)
    page.get_by_label("E-postadresse på jobben").blur()
    expect(page.locator("#email-error")).not_to_be_empty()
    settled(page)
    assert page.evaluate("() => document.getElementById('email-error').parentElement.keptAcrossChecks")
    assert page.locator("#email-error").get_attribute("aria-live") is None  # no live region swapped in
