"""In real Chromium: the organisation search works as you type, and without JavaScript."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_search_finds_bergen_by_name_and_by_number_as_you_type(page):
    page.goto("/organisations/")
    search = page.get_by_label("Navn eller nummer")
    search.press_sequentially("Bergen", delay=40)
    results = page.locator("#organisation-results")
    # The count is a live region that stays above the results (updated out of band), so it is read out.
    expect(page.locator("#organisation-count")).to_have_text(re.compile("2 organisasjoner funnet"))
    expect(results.get_by_role("rowheader")).to_have_text(["Bergen", "Helse Bergen HF"])
    expect(page).to_have_url(re.compile(r"q=Bergen"))

    search.fill("")
    search.press_sequentially("4601", delay=40)
    expect(page).to_have_url(re.compile(r"q=4601"))
    expect(results.get_by_role("rowheader")).to_have_text(["Bergen"])
    expect(results.get_by_role("row").filter(has_text="Bergen")).to_contain_text("Vestland")


def test_search_works_as_a_plain_form_without_javascript(new_context):
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto("/organisations/")
    page.get_by_label("Navn eller nummer").fill("4601")
    page.get_by_role("button", name="Søk", exact=True).click()
    expect(page).to_have_url(re.compile(r"/organisations/\?q=4601"))
    expect(page.locator("#organisation-results").get_by_role("rowheader")).to_have_text(["Bergen"])
    context.close()


def test_the_keyboard_reaches_the_skip_link_first_and_the_language_switch(page):
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Hopp til hovedinnholdet")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Norway's networks for migration health")
