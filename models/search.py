"""Forgiving search: the one way names are folded for search, and the one way a search matches.

A name's *search key* is kept beside it (``members.search_key``, ``organisations.search_key``,
set with the name): lower case, accents dropped, letters that do not decompose spelt out in
ASCII (æ → ae, ø → o, ŋ → n, đ → d …), every run of characters that is not a letter or a digit
made one space, and a space in front.  "Áile Ŋuolja" is kept as " aile nuolja", "Kárášjohka -
Karasjok" as " karasjohka karasjok".

What people type on foreign keyboards meets it because the key and the query are folded alike,
and both spell "oe" as "o" and "aa" as "a" ("tromsoe", "tromso" and "Tromsø" are all " tromso";
"aasen" and "Åsen" both " asen").

A query matches a key when every word of it begins a word of the key, in any order:
``key LIKE '% word%'`` per word, ANDed.  On PostgreSQL a ``pg_trgm`` GIN index serves it (see
migration c9a5e3f7b214); SQLite scans the column.
"""

import re
import unicodedata
from typing import TYPE_CHECKING

from sqlalchemy import and_, false, or_

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import QueryableAttribute

    Column = ColumnElement[str] | QueryableAttribute[str]

# Letters that NFKD does not take apart into a base letter and a mark.
LETTERS = str.maketrans(
    {
        "æ": "ae",
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "ŋ": "n",
        "ŧ": "t",
        "ß": "ss",
        "œ": "oe",
        "ł": "l",
        "þ": "th",
        "ʒ": "z",
        "ǯ": "z",
        "ı": "i",
        "ĸ": "q",
        "ħ": "h",
        "ŀ": "l",
        "ƒ": "f",
        "ɨ": "i",
        "ʉ": "u",
    }
)
# What a foreign keyboard types for ø and å: spelt the same way in the key and in the query.
SPELLINGS = (("aa", "a"), ("oe", "o"))
_BREAKS = re.compile(r"[\W_]+")
# The column's length: room for a 200-character name spelt out (æ → ae); a longer key is cut.
KEY_LENGTH = 400
# No name is longer than 200 characters: a longer query matches nothing, without asking the database.
LONGEST = 200
# A query's words beyond these are ignored (nobody types a dozen words to find one person).
MOST_WORDS = 8


def words(text: str | None) -> list[str]:
    """``text``'s words, folded: lower case, no accents, ASCII for the letters in ``LETTERS``."""
    text = unicodedata.normalize("NFKD", (text or "").casefold().translate(LETTERS))
    text = "".join(c for c in text if not unicodedata.combining(c)).translate(LETTERS)
    for typed, kept in SPELLINGS:
        text = text.replace(typed, kept)
    return [word for word in _BREAKS.split(text) if word]


def key(text: str | None) -> str:
    """The search key kept for a name: its words with a space before each (" aile nuolja")."""
    return "".join(f" {word}" for word in words(text))[:KEY_LENGTH]


def terms(text: str | None) -> list[str] | None:
    """The words a search for ``text`` looks for, or None where there is no search (``text`` is
    blank).  Empty where nothing can match: a query longer than any name, or one of punctuation
    only ("%_" finds nobody rather than everybody)."""
    if not (text or "").strip():
        return None
    if len(text or "") > LONGEST:
        return []
    return list(dict.fromkeys(words(text)))[:MOST_WORDS]


def begins_a_word(column: "Column", word: str) -> "ColumnElement[bool]":
    """``column`` (a search key) has a word that begins with ``word``."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"% {escaped}%", escape="\\")


def begins(key_: str | None, word: str) -> bool:
    """What ``begins_a_word`` asks the database, asked of a key in hand."""
    return f" {word}" in (key_ or "")


def matches(column: "Column", found: list[str]) -> "ColumnElement[bool]":
    """Every word of ``found`` begins a word of ``column``; nothing matches no words."""
    if not found:
        return false()
    return and_(*(begins_a_word(column, word) for word in found))


def any_matches(columns: "list[Column]", word: str) -> "ColumnElement[bool]":
    """``word`` begins a word of one of ``columns``."""
    return or_(*(begins_a_word(column, word) for column in columns))
