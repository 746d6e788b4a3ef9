"""Fuzzed input (hypothesis) to every form and htmx endpoint: never a 500, a refusal says why,
and a refused request stores nothing.

The endpoints are every route of the URL map that takes a POST, and the search forms read from
the query string, at the authorisation matrix's URLs (`tests/test_authorisation.py`), each as the
role that gets furthest into it.  The fields are every field name of every form in the app, sent
in any subset (missing fields), with any value: arbitrary and very long text, Sami letters,
right-to-left text, emoji, NUL and other control characters, numbers out of range, impossible
dates, markup and SQL, repeated fields where one is expected.
"""

import importlib
import os
import pkgutil
import re

import pytest
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from wtforms.fields.core import UnboundField

import blueprints
from app import create_app
from extensions import db
from tests.conftest import csrf_token_from
from tests.test_authorisation import ROLES, TABLE, signed_in, world  # noqa: F401 (world is a fixture)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))  # per endpoint; FUZZ_EXAMPLES=200 to dig deeper
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
NASTY = [
    "", " ", "\t\n", "Áigi Čáhppes Đuoddar Ŋuolga Šaddu Ŧeahkki Žiŋŋa", "مرحبا بالعالم", "שלום עולם",
    "\u202eevil\u202c", "👩🏽‍⚕️🏥🇳🇴", "a\x00b", "\x00", "\x07\x1b[31m", "\ufffd",
    "-1", "0", "99999999999999999999999", "1e309", "NaN", "2027-02-30", "0000-00-00", "25:61", "9999-12-31",
    "<script>alert(1)</script>", "' OR 1=1 --", "\"; DROP TABLE members; --", "../../etc/passwd",
    "%s%n%x", "{{ 7*7 }}", "javascript:alert(1)", "https://", "mailto:", "@", "a@b", "x" * 300,
    "NIK", "NIFS", "NONEMI", "stay", "leave", "confirm", "decline", "digital", "hybrid", "emergency",
]
VALUE = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=60),
    st.integers(min_value=1, max_value=200_000).map(lambda n: "å" * n),  # very long
    st.integers().map(str),
)


def form_fields():
    """Every field name of every form of the app, and what Flask-WTF and htmx add."""
    names = {"csrf_token", "page", "q", "next", "locale", "search"}
    for module in pkgutil.iter_modules(blueprints.__path__):
        try:
            forms = importlib.import_module(f"blueprints.{module.name}.forms")
        except ModuleNotFoundError:
            continue
        for form in vars(forms).values():
            if isinstance(form, type) and issubclass(form, FlaskForm):
                names.update(name for name in dir(form) if isinstance(getattr(form, name), UnboundField))
    return sorted(names)


def posting_endpoints():
    """Every endpoint of the URL map that takes a POST."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x", "BASE_URL": "http://x"})
    return sorted({rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods})


FIELDS, POSTING = form_fields(), posting_endpoints()
DATA = st.dictionaries(st.sampled_from(FIELDS), st.one_of(VALUE, st.lists(VALUE, max_size=3)), max_size=10)


def deepest_role(endpoint):
    """The role that gets furthest into an endpoint: one the matrix does not turn away."""
    _method, _url, expectations, default = TABLE[endpoint]
    for role in ("coordinator", "main_contact", "member", "anonymous", *ROLES):
        if expectations.get(role, default) not in ("login", 403, 404):
            return role
    return "coordinator"


SEARCHES = ["directory.index", "coordinator.overview", "organisations.index", "organisations.manage",
            "registration.organisation_choices", "coordinator.audit_log", "coordinator.outbox", "reviews.cycle"]


SAID = re.compile(r'class="field-error"[^>]*>\s*[^<\s]|role="alert"')


def row_count():
    """All the rows of all the tables, in one statement: a refused request may not change it."""
    counts = [select(func.count()).select_from(t).scalar_subquery() for t in db.metadata.sorted_tables]
    return db.session.scalar(select(sum(counts[1:], counts[0])))


def check(response, before):
    status, body = response.status_code, response.get_data(as_text=True)
    assert status < 500, body[:2000]
    if status == 422:  # a form answered with its errors: a message next to a field, or an alert
        assert SAID.search(body), body[:2000]
    if status >= 400:
        db.session.expire_all()
        assert row_count() == before, f"a refused request ({status}) stored something"


def test_every_form_is_fuzzed():
    assert len(POSTING) >= 40 and set(POSTING) <= set(TABLE) and len(FIELDS) >= 60


@pytest.mark.parametrize("endpoint", POSTING)
def test_no_form_breaks_on_any_input(app, world, endpoint):  # noqa: F811
    people, ids = world
    url = TABLE[endpoint][1].format(**ids)
    client = signed_in(app, people, deepest_role(endpoint))
    token = csrf_token_from(client.get("/"))

    @SETTINGS
    @given(data=DATA)
    def post(data):
        before = row_count()
        data = {**data, "csrf_token": token} if "csrf_token" not in data else data
        check(client.post(url, data=data), before)

    post()


@pytest.mark.parametrize("endpoint", SEARCHES)
def test_no_search_breaks_on_any_query(app, world, endpoint):  # noqa: F811
    people, ids = world
    url = TABLE[endpoint][1].format(**ids).split("?")[0]
    client = signed_in(app, people, deepest_role(endpoint))

    @SETTINGS
    @given(data=DATA, htmx=st.booleans())
    def get(data, htmx):
        before = row_count()
        headers = {"HX-Request": "true", "HX-Target": "directory-results"} if htmx else {}
        check(client.get(url, query_string=data, headers=headers), before)

    get()
