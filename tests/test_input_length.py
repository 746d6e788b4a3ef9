"""Long input: every text field's limit is shown beside it (part of its description), and a text
past it is refused with a message that names the limit – never cut short by the browser's
``maxlength`` without a word."""

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import validators as wtforms_validators
from wtforms.fields.core import UnboundField

import blueprints.validators
from extensions import db
from models import AdviceRequest, Meeting, Member, Newsletter
from tests.conftest import csrf_token_from, post, sign_in
from tests.helpers import HTMX, registration_data
from tests.helpers import form as meeting_form

TOO_LONG = "Kari " * 73  # 365 characters


def field_html(page, field_id):
    """The field's control, its description and its error, as the page has them."""
    control = re.search(rf'<(?:input|textarea)[^>]*\bid="{field_id}"[^>]*>', page).group(0)
    hint = re.search(rf'<p class="hint"[^>]*id="{field_id}-hint"[^>]*>(.*?)</p>', page, re.S)
    error = re.search(
        rf'<p class="ds-validation-message field-error" id="{field_id}-error">(.*?)</p>', page, re.S
    )

    def text(match):
        if match is None:
            return None
        return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).replace("\xa0", " ").strip()

    return control, text(hint), text(error)


def registration(client, org):
    return "/register/", "name", lambda value: registration_data(org, name=value), Member


def issue(client, org):
    return (
        "/newsletter/new",
        "title",
        lambda value: {"title": value, "body": "Tekst", "networks": ["NIK"]},
        Newsletter,
    )


def meeting(client, org):
    return "/meetings/new", "title", lambda value: meeting_form(title=value), Meeting


def advice(client, org):
    today = datetime.now(UTC).date()
    return (
        "/advice/new",
        "title",
        lambda value: {
            "title": value,
            "body": "Les utkastet.",
            "networks": ["NIK"],
            "deadline": (today + timedelta(days=14)).isoformat(),
            "remind_on": (today + timedelta(days=7)).isoformat(),
        },
        AdviceRequest,
    )


@pytest.fixture
def signed_in_coordinator(client, create_coordinator):
    sign_in(client, create_coordinator("NIK", "NIFS", "NONEMI").email)


@pytest.mark.parametrize("form", [registration, issue, meeting, advice])
def test_a_too_long_text_is_refused_next_to_the_field_and_nothing_is_stored(
    app, client, municipality, create_coordinator, form
):
    if form is not registration:
        sign_in(client, create_coordinator("NIK").email)
    url, field, data, model = form(client, municipality("4601"))
    before = db.session.scalar(select(func.count()).select_from(model))

    page = client.get(url).get_data(as_text=True)
    control, hint, _error = field_html(page, field)
    assert "maxlength" not in control  # the browser cuts nothing
    assert hint.endswith("Høyst 200 tegn.") and f"{field}-hint" in control  # shown, and read with the field

    response = post(client, url, data(TOO_LONG), page=url)
    assert response.status_code == 422
    _control, _hint, error = field_html(response.get_data(as_text=True), field)
    assert error == "Skriv høyst 200 tegn – her er det 365."
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(model)) == before

    # At the limit it is taken.
    assert post(client, url, data("K" * 200), page=url).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(model)) == before + 1


def test_a_text_area_shows_its_limit_and_counts_a_line_break_once(client, create_coordinator):
    sign_in(client, create_coordinator("NIK").email)
    page = client.get("/meetings/new").get_data(as_text=True)
    control, hint, _error = field_html(page, "description")
    assert control.startswith("<textarea") and "maxlength" not in control
    assert hint == "Høyst 5 000 tegn."
    # A browser sends each line break as CR LF; the writer typed one character.
    text = "Linje\r\n" * 700 + "x" * 100  # 4 300 typed, 5 000 sent
    response = post(client, "/meetings/new", meeting_form(description=text), page="/meetings/new")
    assert response.status_code == 303, field_html(response.get_data(as_text=True), "description")


def test_the_message_and_the_limit_are_in_the_readers_language(client, municipality):
    data = registration_data(municipality("4601"), name=TOO_LONG)
    for lang, limit, message in (
        ("nn", "Høgst 200 teikn.", "Skriv høgst 200 teikn – her er det 365."),
        ("en", "At most 200 characters.", "Write at most 200 characters – this is 365."),
    ):
        page = client.get(f"/register/?lang={lang}").get_data(as_text=True)
        assert field_html(page, "name")[1] == limit
        response = post(client, f"/register/?lang={lang}", data, page="/register/")
        assert field_html(response.get_data(as_text=True), "name")[2] == message


def test_the_check_as_you_type_says_the_same(client):
    token = csrf_token_from(client.get("/register/"))
    response = client.post("/register/check/name", data={"name": TOO_LONG, "csrf_token": token}, headers=HTMX)
    assert "Skriv høyst 200 tegn – her er det 365." in response.get_data(as_text=True)


def _forms():
    import blueprints  # noqa: F401 – every form class is defined once the app is made

    seen, todo = [], list(FlaskForm.__subclasses__())
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo += cls.__subclasses__()
    return seen


def test_every_form_uses_the_length_rule_that_shows_and_names_its_limit(app):
    """A form written with WTForms' own ``Length`` would get ``maxlength`` back (and a message in
    no written form of ours)."""
    plain = []
    for cls in _forms():
        for name in dir(cls):
            unbound = getattr(cls, name, None)
            if not isinstance(unbound, UnboundField):
                continue
            for rule in unbound.kwargs.get("validators") or []:
                if type(rule) is wtforms_validators.Length:
                    plain.append(f"{cls.__module__}.{cls.__name__}.{name}")
                elif isinstance(rule, blueprints.validators.Length):
                    assert "maxlength" not in rule.field_flags
    assert _forms() and plain == []
