"""Every page in bokmål, nynorsk and English, for every persona of the authorisation matrix, with
no text missing from the language's catalogue (English is the source: its text is the id), and
no date printed the machine's way (YYYY-MM-DD) where people read it.

A page is asked for in a language by ``?lang=`` (what the alternates in its head link to); every
text the page looks up in the catalogue is recorded, and one without a translation fails the test.
"""

import re
from urllib.parse import urlsplit

import pytest
from flask_babel import Domain, get_locale

from tests.matrix import MATRIX, PERSONAS, client_of, expected

LOCALES = ("nb", "nn", "en")
DOWNLOADS = (".csv", ".xlsx", ".ics", ".json", ".txt")
TAG = re.compile(r"<[^>]*>")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


@pytest.fixture
def untranslated(monkeypatch):
    """The (locale, text) pairs looked up while a Norwegian page was drawn and not found."""
    missing = set()

    def recording(name):
        original = getattr(Domain, name)

        def lookup(self, *args, **kwargs):
            locale = str(get_locale())
            if locale != "en":
                catalog = getattr(self.get_translations(), "_catalog", {})
                text = args[1] if name in ("pgettext", "npgettext") else args[0]
                key = f"{args[0]}\x04{text}" if name in ("pgettext", "npgettext") else text
                if name in ("ngettext", "npgettext"):
                    key = (key, 0)
                if key not in catalog:
                    missing.add((locale, text))
            return original(self, *args, **kwargs)

        monkeypatch.setattr(Domain, name, lookup)

    for name in ("gettext", "ngettext", "pgettext", "npgettext"):
        recording(name)
    return missing


@pytest.mark.rendering
def test_every_page_for_every_persona_in_each_language_has_every_text_translated(app, world, untranslated):
    _people, ids = world
    seen, wrong_lang, iso_dates = set(), [], set()
    for persona in PERSONAS:
        client = client_of(app, persona)[0]
        for (endpoint, method), row in sorted(MATRIX.items()):
            url = row.url.format(**ids)
            if method != "GET" or expected(persona, row) != 200 or urlsplit(url).path.endswith(DOWNLOADS):
                continue
            for locale in LOCALES:
                response = client.get(url + ("&" if "?" in url else "?") + f"lang={locale}")
                if "text/html" not in response.content_type:
                    continue
                seen.add(endpoint)
                page = response.get_data(as_text=True)
                if "<html" in page and f'<html lang="{locale}"' not in page:  # not a fragment
                    wrong_lang.append((persona, url, locale))
                text = TAG.sub(" ", page.split("<body", 1)[-1])  # what is read: not attributes, not <head>
                iso_dates.update((url, found) for found in ISO_DATE.findall(text))
    assert len(seen) >= 40, "fewer pages than the matrix lists"
    assert wrong_lang == []
    assert sorted(iso_dates) == [], (
        "a date printed as YYYY-MM-DD: write it as the rest does (30. november 2026)"
    )
    assert sorted(untranslated) == [], "texts with no translation (run make translations and translate)"


def test_the_recorder_notices_a_text_with_no_translation(app, untranslated):
    from flask_babel import gettext, lazy_gettext

    with app.test_request_context("/?lang=nn"):
        assert gettext("Sign in") == "Logg inn"
        str(lazy_gettext("A text nobody translated"))
    assert untranslated == {("nn", "A text nobody translated")}
