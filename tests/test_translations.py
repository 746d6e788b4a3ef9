"""Bokmål and nynorsk are complete: every text in the code – pages, forms, flashes, exports and
the mail templates – has a translation in each, none fuzzy, and each compiled catalogue is current.
English is the source language: its text is the message id itself."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("nb", "nn")
PLACEHOLDER = re.compile(r"%\(\w+\)s|%s|%d")


def catalogue(locale):
    return ROOT / "translations" / locale / "LC_MESSAGES"


def as_key(text):
    return text if isinstance(text, str) else tuple(text)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [
            Path(sys.executable).parent / "pybabel",
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
    )
    with open(pot, "rb") as f:
        return {m.id if isinstance(m.id, str) else m.id[0]: m for m in read_po(f) if m.id}


def test_the_mail_templates_are_in_the_catalogue(extracted):
    sources = {
        Path(location).as_posix() for message in extracted.values() for location, _line in message.locations
    }
    mails = {p.relative_to(ROOT).as_posix() for p in (ROOT / "templates" / "email").glob("*.html")}
    assert mails - sources <= {"templates/email/_macros.html"}, (
        "a mail template says nothing through the catalogue"
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_has_a_translation(extracted, locale):
    with open(catalogue(locale) / "messages.po", "rb") as f:
        entries = {(m.id if isinstance(m.id, str) else m.id[0]): m for m in read_po(f) if m.id}
    translated = {
        key
        for key, m in entries.items()
        if (m.string if isinstance(m.string, str) else all(m.string)) and "fuzzy" not in m.flags
    }
    assert sorted(set(extracted) - translated) == [], "run: make translations, then translate the empty ones"
    for key in set(extracted) & translated:  # the values a text names are the ones its translation names
        strings = entries[key].string
        for string in [strings] if isinstance(strings, str) else strings:
            assert sorted(PLACEHOLDER.findall(string)) == sorted(PLACEHOLDER.findall(key)), (locale, key)


def test_nynorsk_is_not_bokmal_with_another_label():
    """A rough check that the nynorsk catalogue is written in nynorsk: the words that only
    bokmål has are (nearly) absent, and most entries differ from the bokmål ones."""
    with open(catalogue("nb") / "messages.po", "rb") as f:
        bokmal = {as_key(m.id): as_key(m.string) for m in read_po(f) if m.id}
    with open(catalogue("nn") / "messages.po", "rb") as f:
        nynorsk = {as_key(m.id): as_key(m.string) for m in read_po(f) if m.id}
    text = " ".join(s if isinstance(s, str) else " ".join(s) for s in nynorsk.values())
    for word in ("ikke", "hvis", "hva", "hvordan", "enhet", "leder", "virksomhet", "bekreft"):
        assert len(re.findall(rf"\b{word}\b", text, re.I)) <= 2, word
    differ = sum(1 for key, value in nynorsk.items() if bokmal.get(key) != value)
    assert differ > 0.6 * len(nynorsk)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_compiled_catalogue_matches_the_po_file(locale):
    with open(catalogue(locale) / "messages.po", "rb") as f:
        po = {as_key(m.id): as_key(m.string) for m in read_po(f) if m.id}
    with open(catalogue(locale) / "messages.mo", "rb") as f:
        mo = {as_key(m.id): as_key(m.string) for m in read_mo(f) if m.id}
    assert mo == po, "run: pybabel compile -d translations"


@pytest.mark.parametrize("locale", LOCALES)
def test_no_message_is_in_the_catalogue_twice(locale):
    """Entries appended by hand must not repeat one that is there (``msgfmt -c`` refuses a
    catalogue with a message twice; pybabel keeps the last without a word)."""
    text = (catalogue(locale) / "messages.po").read_text(encoding="utf-8")
    keys = re.findall(r'^(?:msgctxt (".*")\n)?msgid ((?:".*"\n)+)', text, flags=re.M)
    twice = sorted({key for key in keys if keys.count(key) > 1 and key[1] != '""\n'})
    assert not twice, twice[:5]
