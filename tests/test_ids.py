"""Ids in addresses are bounded by what the id columns hold (``INTEGER``: at most 2**31 − 1): a
larger number is no route – 404 for every rule with an ``<int:…>``, whatever the method, the
role or the database – never a 500 from a query the database cannot run."""

import re

import pytest
from werkzeug.routing import IntegerConverter

from tests.conftest import csrf_token_from, post, sign_in

INT_MAX = 2**31 - 1  # PostgreSQL int4: every id column is INTEGER
TOO_LARGE = ["2147483648", "9999999999", "99999999999999999999999", "9" * 5000]


def int_rules(app):
    return [
        rule
        for rule in app.url_map.iter_rules()
        if any(isinstance(c, IntegerConverter) for c in rule._converters.values())
    ]


def path_of(rule, number):
    """The rule's address with ``number`` for every int and a plausible value for the rest."""

    def fill(match):
        converter, arguments, name = match.group("converter"), match.group("arguments"), match.group("name")
        if converter == "int":
            return number
        if converter == "any":
            return arguments.split(",")[0].strip()
        return "NIK" if name == "code" else "x"

    return re.sub(r"<(?:(?P<converter>\w+)(?:\((?P<arguments>[^)]*)\))?:)?(?P<name>\w+)>", fill, rule.rule)


@pytest.mark.parametrize("number", TOO_LARGE, ids=["int4-max+1", "10-digits", "23-digits", "5000-digits"])
def test_every_id_beyond_the_columns_range_is_not_found(app, client, create_coordinator, number):
    rules = int_rules(app)
    assert len(rules) > 30
    sign_in(client, create_coordinator("NIK", "NIFS").email)  # past every "sign in first"
    csrf = csrf_token_from(client.get("/meetings/new"))
    for rule in rules:
        path = path_of(rule, number)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(
                path, method=method, data={"csrf_token": csrf} if method == "POST" else None
            )
            assert response.status_code == 404, (method, path, response.status_code)


def test_the_largest_id_the_columns_hold_is_an_id_not_found(app, client, create_coordinator):
    sign_in(client, create_coordinator("NIK").email)
    for path in (f"/municipality/{INT_MAX}", f"/meetings/{INT_MAX}", f"/newsletter/{INT_MAX}"):
        response = client.get(path)
        assert response.status_code == 404 and "<main" in response.get_data(as_text=True), path
    # Within the range the routes answer as before (the view decides).
    assert client.get("/meetings/1").status_code == 404
    assert app.url_map.bind("localhost").match(f"/meetings/{INT_MAX}")[1] == {"meeting_id": INT_MAX}


@pytest.mark.parametrize("page", ["2147483648", "99999999999999999999999", "0", "-1"])
def test_a_page_number_out_of_range_shows_the_first_page(client, create_coordinator, page):
    sign_in(client, create_coordinator("NIK").email)
    for path in ("/coordinator/outbox", "/coordinator/audit", "/coordinator/overview"):
        assert client.get(f"{path}?page={page}").status_code == 200, path


def test_an_id_out_of_range_in_a_form_names_nothing(client, create_member, create_coordinator, municipality):
    """Ids sent in a form's fields (marking Teams invitations) past the column's range are ignored."""
    from extensions import db

    member = create_member(municipality("4601"))
    sign_in(client, create_coordinator("NIK").email)
    membership = member.memberships[0]
    response = post(
        client,
        "/coordinator/teams/NIK/invited",
        {"membership": [str(membership.id), "99999999999999999999999"]},
        page="/coordinator/teams/NIK",
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert membership.teams_invited_at is not None
