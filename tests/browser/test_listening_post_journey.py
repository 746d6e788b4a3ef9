"""In real Chromium, the listening post (issue 21's acceptance): a coordinator opens an emergency
with a call-in; three members of different municipalities report what they hear from a phone; the
situation board, opened before, shows their signals within seconds without a reload; one is followed
up and answered, and the reply reaches its reporter by mail; the situation report counts them and
names no one who reported."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.conftest import links_in
from tests.helpers import path_of, sign_in_as

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
LIVE = 15_000  # ms: the board polls every 5 s


def test_members_report_the_board_shows_it_live_and_the_report_names_no_one(
    page, new_context, live_server, create_member, create_coordinator, municipality, mail_outbox
):
    from models import outbox

    coordinator = create_coordinator("NIK")
    reporters = [
        create_member(municipality("4601"), name="Kari Bergensen"),
        create_member(municipality("5501"), name="Ola Tromsøværing"),
        create_member(municipality("0301"), name="Aisha Osloborger"),
    ]
    people = [(m.name, m.email) for m in reporters]
    day = (datetime.now(UTC) + timedelta(days=1)).date()

    # 1. The coordinator plans an emergency call-in that opens the emergency.
    sign_in_as(page, coordinator.email)
    page.goto("/meetings/new")
    page.get_by_label("Type møte").select_option(label="Innkalling ved beredskapshendelse")
    page.get_by_label("NIK – Norsk nettverk for innvandrerhelse i kommuner").check()
    page.get_by_label("Beredskapshendelse (for en innkalling)").select_option(
        label="Opprett en ny beredskapshendelse med innkallingens tittel"
    )
    page.get_by_label("Tittel").fill("Utbrudd av meslinger")
    page.get_by_label("Dato").fill(day.isoformat())
    page.get_by_label("Begynner").fill("09:00")
    page.get_by_label("Slutter").fill("10:00")
    page.get_by_role("button", name="Planlegg møtet").click()
    expect(page.get_by_text("Utbrudd av meslinger er planlagt.")).to_be_visible()
    # The call-in's page names the emergency it opened, and leads to it.
    page.locator(".facts-list").get_by_role("link", name="Utbrudd av meslinger").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Utbrudd av meslinger")
    expect(page.locator("#call-ins-heading + ul")).to_contain_text("Utbrudd av meslinger")
    emergency_url = page.url

    # 3 (opened first). The situation board, not reloaded from here on.
    page.get_by_role("link", name="Situasjonsbilde").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Situasjonsbilde")
    count = page.locator("#board-count")
    expect(count).to_have_text("0 signaler i alt")
    board_url = page.url
    page.evaluate("window.notReloaded = true")  # gone if the page were loaded again

    # 2. Three members report from their phones.
    reports = [
        (
            "Rykte eller feilinformasjon",
            "somali",
            "Haster: i dag",
            "Det går rykter om at vaksinen gir autisme.",
        ),
        (
            "Behov for tolking eller oversettelse",
            "arabisk",
            "I løpet av noen dager",
            "Legevakten mangler tolk på arabisk om kveldene.",
        ),
        ("Informasjonsbehov", "ukrainsk", "Kan vente", "Foreldre spør hvor barna kan vaksineres."),
    ]
    phones = []
    for i, ((_name, email), (kind, language, urgency, text)) in enumerate(zip(people, reports, strict=True)):
        phone = new_context(**PHONE).new_page()
        phones.append(phone)
        sign_in_as(phone, email)
        if i == 1:  # from the list of emergencies
            phone.goto("/emergencies/")
            phone.get_by_role("link", name="Utbrudd av meslinger").click()
        else:  # from the home page's item
            phone.get_by_role("link", name="En beredskapshendelse pågår: «Utbrudd av meslinger».").click()
        expect(phone.get_by_role("heading", level=1)).to_have_text("Utbrudd av meslinger")
        phone.get_by_role("link", name="Meld fra om det du hører").click()
        expect(phone.get_by_role("heading", level=1)).to_have_text("Meld fra om det du hører")
        phone.get_by_role("group", name="Hva gjelder det?").get_by_label(kind).check()
        phone.get_by_role("group", name="Språkgrupper").get_by_label(language, exact=True).check()
        phone.get_by_role("group", name="Hvor mye haster det?").get_by_label(urgency).check()
        text_field = phone.get_by_label("Hva har du hørt eller sett?")
        if i == 0:  # a resident's identity number: refused beside the field, the rest kept
            text_field.fill(f"{text} Gjelder pasient 01019000083.")
            phone.get_by_role("button", name="Send signalet").click()
            expect(phone.locator("#text-error")).to_contain_text(
                "Teksten inneholder noe som ser ut som et fødselsnummer."
            )
            expect(phone.get_by_label(kind)).to_be_checked()
        text_field.fill(text)
        phone.get_by_role("button", name="Send signalet").click()
        expect(phone.get_by_text("Takk! Signalet ditt er kommet fram til koordinatorene.")).to_be_visible()
        expect(phone.locator("#my-signals-heading + ul")).to_contain_text(kind)

    # 3. The board shows them within seconds, without a reload: newest first.
    expect(count).to_have_text("3 signaler i alt", timeout=LIVE)
    newest = page.locator("#board-live ol.board-signals > li .signal-text")
    expect(newest).to_have_text([text for *_, text in reversed(reports)], timeout=LIVE)
    # by kind: a rumour, an information need, a need for interpretation – 3 in all
    expect(page.locator("#county-table tfoot td")).to_have_text(["1", "1", "1", "0", "0", "0", "3"])
    assert page.url == board_url and page.evaluate("window.notReloaded === true")

    # 4. The coordinator follows one up and replies; the reporter gets it by mail, in bokmål.
    page.locator("#board-live").get_by_role("link", name=re.compile("Behov for tolking")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Behov for tolking eller oversettelse")
    page.get_by_role("group", name="Marker signalet").get_by_label("Fulgt opp").check()
    page.get_by_label("Notat (valgfritt)").fill("Tolketjenesten er varslet.")
    page.get_by_role("button", name="Lagre oppfølgingen").click()
    expect(page.get_by_text("Signalet er markert «Fulgt opp».")).to_be_visible()
    page.get_by_role("textbox", name="Svar til den som meldte").fill(
        "Takk! Legevakten får tolk på telefon fra i kveld."
    )
    page.get_by_role("button", name="Send svaret").click()
    expect(page.get_by_text("Svaret er på vei til den som meldte, på e-post.")).to_be_visible()

    with live_server.app.app_context():
        outbox.deliver(worker="browser-test")
    subject = "Svar på signalet ditt i beredskapshendelsen «Utbrudd av meslinger»"
    (reply,) = [m for m in mail_outbox if m["Subject"] == subject]
    assert reply["To"] == people[1][1]
    assert "Takk! Legevakten får tolk på telefon fra i kveld." in reply.get_body(("plain",)).get_content()
    (link,) = [u for u in links_in(reply) if "/emergencies/signals/" in u]
    reporter = phones[1]
    reporter.goto(path_of(link))
    expect(reporter.get_by_role("heading", level=1)).to_have_text(
        "Signalet ditt: Behov for tolking eller oversettelse"
    )
    expect(reporter.locator(".signal-replies")).to_contain_text("Legevakten får tolk på telefon fra i kveld.")
    expect(reporter.get_by_text("Fulgt opp")).to_be_visible()

    # 5. The situation report counts them and names no one who reported – page, CSV and summary.
    page.goto(emergency_url)
    page.get_by_role("link", name="Situasjonsrapport").click()
    expect(page.locator("p.big").first).to_contain_text("3 signaler")
    county_table = page.locator("section[aria-labelledby=by-county-heading] table")
    for county in ("Vestland", "Troms - Romsa - Tromssa", "Oslo"):
        expect(county_table).to_contain_text(county)
    for kind, *_rest in reports:  # the kinds reported, one each (the report leaves out the others)
        expect(county_table.locator("thead")).to_contain_text(kind)
    expect(county_table.locator("tfoot td")).to_have_text(["1", "1", "1", "3"])
    body = page.locator("body").inner_text()
    export = page.request.get(page.get_by_role("link", name="Last ned som CSV").get_attribute("href"))
    summary = page.request.get(page.get_by_role("link", name="Sammendrag som tekst").get_attribute("href"))
    assert export.ok and summary.ok
    csv, text = export.text(), summary.text()
    assert len([line for line in csv.splitlines()[1:] if line.strip()]) == 3
    for _kind, _language, _urgency, said in reports:
        assert said in csv
    for name, email in people:
        for where, content in (("page", body), ("CSV", csv), ("summary", text)):
            assert name not in content, f"{name} in the report's {where}"
            assert email not in content, f"{email} in the report's {where}"
            assert email.split("@")[0] not in content, f"{email} in the report's {where}"
