"""Reflow (WCAG 1.4.10) in real Chromium: at 320 CSS px no page scrolls sideways, for any role.

The pages are the authorisation matrix's, as test_accessibility.py walks them (every GET route of
the URL map as each role of the matrix gets it, the error pages once per role).  A table that cannot
reflow scrolls inside its own region, which does not widen the page.  And the main menu: a
disclosure («Meny») on a narrow screen that the keyboard opens, a row on a wide one.  And text
spacing (WCAG 1.4.12) at 320 px: the coordinator's pages neither widen nor cut text off.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_accessibility import pages_for
from tests.helpers import sign_in_as
from tests.matrix import ROLES

pytestmark = pytest.mark.browser

NARROW = {"width": 320, "height": 640}
WIDE = {"width": 1280, "height": 900}
WIDTHS = "() => [document.documentElement.scrollWidth, window.innerWidth]"
# What sticks out, to say in the failure: the first elements that reach past the screen's edge.
WIDEST = """() => { const w = window.innerWidth, out = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.right <= w + 0.5 || !r.width) continue;
    out.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${el.classList.length ? "." + [...el.classList].join(".") : ""} (${Math.round(r.right)} px)`);
  }
  return out.slice(0, 3);
}"""


@pytest.mark.rendering
@pytest.mark.timeout(900)  # every page for every role: minutes on a loaded machine
def test_no_page_scrolls_sideways_at_320_px_for_any_role(new_context, world):
    people, ids = world
    checked, failures = set(), []
    for role in ROLES:
        context = new_context(viewport=NARROW, allow=("status of 4",))
        page = context.new_page()
        if role != "anonymous":
            sign_in_as(page, people[role].email)
        error_pages = set()
        for endpoint, url, _expected in pages_for(role, ids):
            response = page.goto(url)
            if "text/html" not in response.headers["content-type"]:
                continue
            if response.status >= 400:
                if response.status in error_pages:
                    continue
                error_pages.add(response.status)
            checked.add(endpoint)
            scroll_width, inner_width = page.evaluate(WIDTHS)
            if scroll_width > inner_width:
                failures.append(
                    f"{role} {url}: {scroll_width} px wide at {inner_width} px – {', '.join(page.evaluate(WIDEST))}"
                )
        context.close()
    assert len(checked) >= 40, "fewer pages than the matrix lists"
    assert failures == [], "Pages wider than the screen:\n" + "\n".join(failures)


# WCAG 1.4.12's spacing, as a reader's own style sheet sets it (the CSP is bypassed for it).
TEXT_SPACING = (
    "* { line-height: 1.5 !important; letter-spacing: .12em !important; word-spacing: .16em !important; }"
    " p { margin-bottom: 2em !important; }"
)
CLIPPED = """() => [...document.querySelectorAll("body *")].filter((e) => {
  const s = getComputedStyle(e);
  return (s.overflowY === "hidden" || s.overflowY === "clip") && e.clientHeight > 2 && e.scrollHeight > e.clientHeight + 1
    && !e.classList.contains("visually-hidden") && !e.classList.contains("ds-sr-only");
}).map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")).slice(0, 3)"""


@pytest.mark.rendering
def test_with_wider_text_spacing_at_320_px_nothing_is_cut_off_or_wider_than_the_screen(new_context, world):
    people, ids = world
    context = new_context(viewport=NARROW, bypass_csp=True, allow=("status of 4",))
    page = context.new_page()
    sign_in_as(page, people["coordinator"].email)
    failures, checked = [], 0
    for _endpoint, url, _expected in pages_for("coordinator", ids):
        response = page.goto(url)
        if "text/html" not in response.headers["content-type"] or response.status >= 400:
            continue
        page.add_style_tag(content=TEXT_SPACING)
        assert page.evaluate("getComputedStyle(document.body).letterSpacing") != "normal", url
        checked += 1
        scroll_width, inner_width = page.evaluate(WIDTHS)
        clipped = page.evaluate(CLIPPED)
        if scroll_width > inner_width or clipped:
            failures.append(f"{url}: {scroll_width} px wide at {inner_width} px; cut off: {clipped}")
    assert checked >= 30
    assert failures == [], "With WCAG 1.4.12's text spacing:\n" + "\n".join(failures)


def test_at_320_px_the_menu_is_closed_and_the_keyboard_opens_it(new_context, world):
    people, _ids = world
    page = new_context(viewport=NARROW).new_page()
    sign_in_as(page, people["coordinator"].email)
    menu = page.get_by_role("navigation", name="Hovedmeny")
    toggle = page.locator("summary", has_text="Meny")
    expect(toggle).to_be_visible()
    expect(menu.get_by_role("link", name="Min side")).to_be_hidden()

    # From the skip link, Tab reaches the summary before anything in the menu; Enter opens it.
    page.keyboard.press("Tab")  # the skip link
    for _ in range(3):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") == "SUMMARY":
            break
    expect(toggle).to_be_focused()
    page.keyboard.press("Enter")
    links = menu.get_by_role("link")
    expect(links.first).to_be_visible()
    names = [links.nth(i).inner_text() for i in range(links.count())]
    assert {"Forside", "Min side", "Koordinator"} <= set(names), names
    for i in range(links.count()):
        expect(links.nth(i)).to_be_visible()
        page.keyboard.press("Tab")
        expect(links.nth(i)).to_be_focused()
    assert page.evaluate(WIDTHS)[0] <= NARROW["width"], "the open menu widens the page"

    # Enter on the summary again closes it.
    toggle.focus()
    page.keyboard.press("Enter")
    expect(menu.get_by_role("link", name="Min side")).to_be_hidden()


def test_at_1280_px_the_menu_is_a_row_shown_without_a_click(new_context, world):
    people, _ids = world
    page = new_context(viewport=WIDE).new_page()
    sign_in_as(page, people["coordinator"].email)
    expect(page.locator("summary", has_text="Meny")).to_be_hidden()
    links = page.get_by_role("navigation", name="Hovedmeny").get_by_role("link")
    tops = set()
    for i in range(links.count()):
        expect(links.nth(i)).to_be_visible()
        tops.add(round(links.nth(i).bounding_box()["y"]))
    assert len(tops) == 1, f"the menu's links are not in one row: {tops}"
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Min side").click()
    expect(page).to_have_url(re.compile(r"/me/$"))
