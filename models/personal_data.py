"""The personal-data guard of free text that must not carry data about residents or patients
(a signal from the listening post): what looks like a Norwegian national identity number – eleven
digits whose two check digits are valid (fødselsnummer, D-number, H-number alike) – or a Norwegian
phone number is refused, with a message that says what to remove and repeats none of it.

Eleven digits whose check digits do not add up are not an identity number (a case number, an
account) and pass.  A phone number is eight digits beginning with 2–9, written together or in the
usual groups (``40012345``, ``400 12 345``, ``40 01 23 45``), with or without ``+47``/``0047``; a
date such as ``24.03.2025`` or an amount such as ``2500 3000`` is not one.
"""

import re

from flask_babel import lazy_gettext as _l

from models.errors import DomainError

_K1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_K2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
# Eleven digits, together or as the birth date and the personal number apart (``010190 12345``).
_ELEVEN = re.compile(r"(?<![\d])(\d{6})[ .-]?(\d{5})(?![\d])")
_PHONE = re.compile(
    r"(?<![\d+])(?:(?:\+|00)47[ ]?)?"
    r"(?:[2-9]\d{7}|[2-9]\d{2} \d{2} \d{3}|[2-9]\d \d{2} \d{2} \d{2})"
    r"(?![\d])"
)


def _check_digit(digits: list[int], weights: tuple[int, ...]) -> int | None:
    rest = 11 - sum(d * w for d, w in zip(digits, weights, strict=False)) % 11
    if rest == 11:
        return 0
    return None if rest == 10 else rest


def is_identity_number(number: str) -> bool:
    """Eleven digits whose two mod-11 check digits are valid."""
    if len(number) != 11 or not number.isdigit():
        return False
    digits = [int(c) for c in number]
    return _check_digit(digits[:9], _K1) == digits[9] and _check_digit(digits[:10], _K2) == digits[10]


def identity_numbers_in(text: str) -> bool:
    return any(is_identity_number(a + b) for a, b in _ELEVEN.findall(text or ""))


def phone_numbers_in(text: str) -> bool:
    return _PHONE.search(text or "") is not None


class PersonalData(DomainError):
    """Free text that looks as if it carries a resident's or patient's personal data."""


def refuse_personal_data(text: str) -> str:
    """``text`` unchanged, or refused (``PersonalData``) if it carries what looks like a national
    identity number or a phone number."""
    if identity_numbers_in(text):
        raise PersonalData(
            _l(
                "The text contains what looks like a national identity number. Remove it: a signal must "
                "not carry personal data about residents or patients."
            )
        )
    if phone_numbers_in(text):
        raise PersonalData(
            _l(
                "The text contains what looks like a phone number. Remove it: a signal must not carry "
                "personal data about residents or patients."
            )
        )
    return text
