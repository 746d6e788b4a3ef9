"""Bokmål is complete: every text in the code has a translation, and the compiled catalogue is current."""

import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "translations" / "nb" / "LC_MESSAGES"


def as_key(text):
    return text if isinstance(text, str) else tuple(text)


def test_every_message_has_a_bokmal_translation(tmp_path):
    pot = tmp_path / "messages.pot"
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
        extracted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    with open(CATALOGUE / "messages.po", "rb") as f:
        translated = {
            (m.id if isinstance(m.id, str) else m.id[0])
            for m in read_po(f)
            if m.id and (m.string if isinstance(m.string, str) else all(m.string)) and "fuzzy" not in m.flags
        }
    assert extracted - translated == set(), "run: pybabel update -i … -d translations, then translate"


def test_the_compiled_catalogue_matches_the_po_file():
    with open(CATALOGUE / "messages.po", "rb") as f:
        po = {as_key(m.id): as_key(m.string) for m in read_po(f) if m.id}
    with open(CATALOGUE / "messages.mo", "rb") as f:
        mo = {as_key(m.id): as_key(m.string) for m in read_mo(f) if m.id}
    assert mo == po, "run: pybabel compile -d translations"
