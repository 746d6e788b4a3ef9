"""Passwords: at least 12 characters and hard to guess – checked against the common-password lists
and a strength estimate (zxcvbn) – with the reason next to the field, wherever a password is set
(registration, the reset link, the live check as one types)."""

import re

import pytest

from extensions import db
from models import Member, tokens
from tests.conftest import PASSWORD, post
from tests.helpers import register

COMMON = "vanligste passordene"
GUESSABLE = "bygd av vanlige ord"


def field_error(response, field="password"):
    match = re.search(
        rf'<p class="ds-validation-message field-error" id="{field}-error"[^>]*>(.*?)</p>',
        response.get_data(as_text=True),
        re.S,
    )
    return match.group(1) if match else ""


def reset(client, member, password):
    url = f"/reset-password/{tokens.make('reset_password', member=member.id, version=member.auth_version)}"
    return post(client, url, {"password": password}, page=url)


@pytest.mark.parametrize(
    "password, reason",
    [
        # On the leaked-password lists (none was on the 24 words refused before).
        ("password1234", COMMON),
        ("qwertyuiop123", COMMON),
        ("iloveyou2024", COMMON),
        ("monkey123456", COMMON),
        ("superman2020!", COMMON),
        ("trustno1trustno1", GUESSABLE),
        # Built from a Norwegian word, a place, a year or a keyboard pattern.
        ("Bergen2026Oslo", GUESSABLE),
        ("hemmelighet123", GUESSABLE),
        ("Velkommen2025", GUESSABLE),
        ("Passord2024!!", GUESSABLE),
        ("abcdefghijkl", GUESSABLE),
        ("Sommer2027!!", GUESSABLE),
    ],
)
def test_an_easily_guessed_password_is_refused_with_the_reason_and_nothing_changes(
    client, create_member, municipality, password, reason
):
    member = create_member(municipality("4601"))
    hash_before, version = member.password_hash, member.auth_version
    response = reset(client, member, password)
    assert response.status_code == 422 and reason in field_error(response), field_error(response)
    db.session.expire_all()
    member = db.session.get(Member, member.id)
    assert (member.password_hash, member.auth_version) == (hash_before, version)


@pytest.mark.parametrize(
    "password",
    [
        "korrekt hest batteri stift",
        "kaffe og kanelbolle på fredag",
        "Tr0ub4dor&3xx!",
        "ikke passordet mitt",
    ],
)
def test_a_passphrase_or_a_random_password_is_taken(client, create_member, municipality, password):
    member = create_member(municipality("4601"))
    assert reset(client, member, password).status_code == 303
    db.session.expire_all()
    assert db.session.get(Member, member.id).check_password(password)


def test_a_long_password_is_judged_by_its_first_72_characters_not_a_500(client, create_member, municipality):
    """The estimator refuses more than 72 characters; a longer password is judged by its start."""
    member = create_member(municipality("4601"))
    refused = reset(client, member, "å" * 528)
    assert refused.status_code == 422 and GUESSABLE in field_error(refused)
    taken = "kaffe og kanelbolle på fredag " * 4 + "og en tur i skogen etterpå"
    assert reset(client, member, taken).status_code == 303
    db.session.expire_all()
    assert db.session.get(Member, member.id).check_password(taken)


def test_a_short_password_is_refused_for_its_length(client, create_member, municipality):
    member = create_member(municipality("4601"))
    response = reset(client, member, "Xk7#pL2mQ9w")  # 11 characters
    assert response.status_code == 422 and "minst 12 tegn" in field_error(response)
    db.session.expire_all()
    assert member.check_password(PASSWORD) and not member.check_password("Xk7#pL2mQ9w")


def test_registration_uses_the_same_rule_with_the_name_and_address_as_words(client, municipality):
    common = register(client, municipality("4601"), password="password1234")
    assert common.status_code == 422 and COMMON in field_error(common)
    named = register(client, municipality("4601"), password="Nordmann2024!")  # the surname and a year
    assert named.status_code == 422 and GUESSABLE in field_error(named)
    assert db.session.scalar(db.select(db.func.count()).select_from(Member)) == 0


def test_the_live_check_says_the_same_as_the_form(client, municipality):
    from tests.conftest import csrf_token_from
    from tests.helpers import HTMX, registration_data

    token = csrf_token_from(client.get("/register/"))
    data = {**registration_data(municipality("4601"), password="iloveyou2024"), "csrf_token": token}
    response = client.post("/register/check/password", data=data, headers=HTMX)
    assert COMMON in response.get_data(as_text=True)
