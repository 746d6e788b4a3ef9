"""In real Chromium, against the real test provider (tests/oidc_provider.py): the sign-in page's
button, the provider's login page, and back here signed in – linked by the verified address the
first time, by the stored subject the next."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_accessibility import AXE, RUN_AXE, WCAG_21_AA
from tests.oidc_provider import oidc_provider, settings_for  # noqa: F401  (a fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def provider(live_server, oidc_provider):  # noqa: F811
    oidc_provider.reset()
    oidc_provider.allow_redirect(live_server.url)
    live_server.app.config["OIDC_PROVIDERS"] = settings_for(oidc_provider)
    return oidc_provider


def no_serious_violation(page):
    """axe-core on the page now (WCAG 2.1 AA): no serious or critical violation."""
    page.add_script_tag(path=str(AXE))
    assert page.evaluate(RUN_AXE, WCAG_21_AA) == []


def sign_in_at_provider(page, user):
    """The provider's own login page: type the user, press its button (by keyboard)."""
    expect(page.get_by_role("heading", name="Test provider")).to_be_visible()
    page.get_by_label("User name").fill(user)
    page.get_by_role("button", name="Sign in at the test provider").focus()
    page.keyboard.press("Enter")


def test_sign_in_with_the_provider_links_then_signs_in_directly(
    new_context, live_server, provider, create_member, municipality
):
    page = new_context(bypass_csp=True).new_page()  # axe is injected as a script of its own
    kari = create_member(municipality("4601"), name="Kari Nordmann", email="kari@bergen.kommune.example")
    provider.add_user("kari-sub", email=kari.email, amr=["pwd", "mfa"])

    page.goto("/sign-in?next=/me/")
    page.get_by_role("button", name="Logg inn med Testleverandøren").click()
    expect(page).to_have_url(re.compile(re.escape(provider.url) + r"/authorize\?"))  # the provider's page
    sign_in_at_provider(page, "kari-sub")

    expect(page).to_have_url(live_server.url + "/me/")
    expect(
        page.get_by_text("Kontoen din hos Testleverandøren er nå koblet til medlemskapet ditt")
    ).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Min side")
    expect(page.get_by_text("Testleverandøren: koblet til")).to_be_visible()
    no_serious_violation(page)

    # Signed out, and in again: the stored subject knows her, no link to make.
    page.get_by_role("button", name="Logg ut").click()
    page.goto("/sign-in")
    page.get_by_role("button", name="Logg inn med Testleverandøren").click()
    sign_in_at_provider(page, "kari-sub")
    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_role("button", name="Logg ut")).to_be_visible()


def test_a_cancelled_sign_in_comes_back_to_a_clear_page(new_context, live_server, provider):
    page = new_context(bypass_csp=True, allow=("status of 400",)).new_page()  # the refusal's page is a 400
    page.goto("/sign-in")
    page.get_by_role("button", name="Logg inn med Testleverandøren").click()
    expect(page.get_by_role("heading", name="Test provider")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Innloggingen virket ikke")
    expect(page.get_by_role("alert")).to_have_text("Du avbrøt innloggingen. Ingenting ble endret.")
    no_serious_violation(page)
    page.get_by_role("link", name="Tilbake til innloggingssiden").click()
    expect(page).to_have_url(live_server.url + "/sign-in")
