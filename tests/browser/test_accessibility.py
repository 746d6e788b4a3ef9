"""WCAG 2.1 AA in real Chromium: axe-core on every page, for every role.

The pages are the authorisation matrix's: every GET route of the URL map, as each role of the
matrix gets it (`tests/test_authorisation.py`, one world with every kind of record), so a new
page is checked here as soon as it is in the matrix.  A page is any HTML answer – the 200s, and
the error pages (400, 403, 404) once per role – in bokmål, and for three roles in nynorsk and
English too (``?lang=``; the page's ``lang`` is checked).  No serious or critical violation may remain.
"""

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers import sign_in_as
from tests.matrix import ROLES, TABLE

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DOWNLOADS = (".csv", ".xlsx", ".ics", ".json", ".txt")  # files, not pages
FRAGMENTS = {"registration.organisation_choices"}  # answers htmx only: part of the registration page
PROBES = {"ops.healthz", "ops.readyz"}  # JSON for a load balancer, not pages
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return result.violations.filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({rule: v.id, impact: v.impact, help: v.help, where: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
}"""


def pages_for(role, ids):
    """The URLs of the GET routes that answer ``role`` with a page (not a redirect)."""
    for endpoint, (method, url, expectations, default) in sorted(TABLE.items()):
        expected = expectations.get(role, default)
        url = url.format(**ids)
        if (
            method == "GET"
            and endpoint not in FRAGMENTS | PROBES
            and expected != "login"
            and expected not in (302, 303)
            and not urlsplit(url).path.endswith(DOWNLOADS)
        ):
            yield endpoint, url, expected


# Every role in bokmål; nynorsk and English for the roles that see the most pages between them (a
# role costs a minute in a browser): the texts differ in length and the lang attributes must hold.
ROLES_AND_LANGUAGES = [(role, "nb") for role in ROLES] + [
    (role, locale) for locale in ("nn", "en") for role in ("anonymous", "main_contact", "coordinator")
]


def in_language(url, locale):
    return url if locale == "nb" else url + ("&" if "?" in url else "?") + f"lang={locale}"


@pytest.mark.rendering
@pytest.mark.timeout(900)  # one test walks every page for nine role-language pairs: minutes, not seconds
def test_no_page_has_a_serious_or_critical_violation_for_any_role(new_context, world):
    if not AXE.exists():
        pytest.fail(f"axe-core not found at {AXE}: `make test` installs it (npm install axe-core)")
    people, ids = world
    checked, violations = [], []
    for role, locale in ROLES_AND_LANGUAGES:
        # axe is injected as a script of its own; the app's CSP (script-src 'self') would refuse it.
        # The error pages (400, 403, 404) are visited on purpose: their status is no console error.
        context = new_context(bypass_csp=True, allow=("status of 4",))
        page = context.new_page()
        if role != "anonymous":
            sign_in_as(page, people[role].email)
        error_pages = set()
        for endpoint, url, _expected in pages_for(role, ids):
            response = page.goto(in_language(url, locale))
            assert "text/html" in response.headers["content-type"], url
            if locale == "nb" or f"lang={locale}" in page.url:  # not redirected (/sign-in when signed in)
                assert page.evaluate("document.documentElement.lang") == locale, url
            if response.status >= 400:
                if response.status in error_pages:
                    continue
                error_pages.add(response.status)
            page.add_script_tag(path=str(AXE))
            checked.append((role, endpoint))
            for violation in page.evaluate(RUN_AXE, WCAG_21_AA):
                violations.append({"role": role, "language": locale, "page": url, **violation})
        context.close()
    assert len({endpoint for _role, endpoint in checked}) >= 40, "fewer pages than the matrix lists"
    assert violations == [], "\n".join(str(v) for v in violations)
