"""A form is done once however often it is sent (its submission key), and the error pages hold when
the database does not: a failed flush, a refused constraint, a lost connection."""

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from extensions import db
from models import Member, OutboxMessage
from models.submissions import FormSubmission
from models.types import utcnow
from tests.conftest import csrf_token_from, postgres_only, twice_at_once
from tests.helpers import figure, registration_data


def count(model, *where):
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def form(client, org, key=None, **changes):
    page = client.get("/register/")
    return {
        **registration_data(org, **changes),
        "csrf_token": csrf_token_from(page),
        "submission": key or uuid.uuid4().hex,
    }


def test_every_form_carries_a_fresh_submission_key(client, municipality):
    keys = [
        client.get("/register/").get_data(as_text=True).split('name="submission" value="')[1][:32]
        for _ in range(2)
    ]
    assert len(set(keys)) == 2 and all(len(k) == 32 for k in keys)


def test_a_form_sent_again_with_its_key_is_done_once_and_says_so(client, municipality):
    data = form(client, municipality("4601"))
    first = client.post("/register/", data=data, headers={"Referer": "http://localhost/register/"})
    assert first.status_code == 303 and first.location.endswith("/register/sent")
    # The answer was lost; the browser sends the same form again.
    again = client.post("/register/", data=data, headers={"Referer": "http://localhost/register/"})
    assert again.status_code == 303 and again.location == "/register/"
    page = client.get("/register/").get_data(as_text=True)
    assert "Skjemaet var allerede sendt" in page
    assert count(Member, Member.email == data["email"].lower()) == 1
    assert count(OutboxMessage) == 1  # one verification mail, no "someone tried to register" mail
    assert count(FormSubmission) == 1


def test_a_refused_form_does_not_spend_its_key(client, municipality):
    data = form(client, municipality("4601"))
    refused = client.post("/register/", data={**data, "consent": ""})
    assert refused.status_code == 422
    assert count(FormSubmission) == 0
    assert client.post("/register/", data=data).status_code == 303
    assert count(Member, Member.email == data["email"].lower()) == 1


def test_an_htmx_form_sent_again_is_sent_to_the_page_it_came_from(client, municipality):
    data = form(client, municipality("4601"))
    assert client.post("/register/", data=data).status_code == 303
    again = client.post(
        "/register/", data=data, headers={"HX-Request": "true", "Referer": "http://localhost/register/"}
    )
    assert again.status_code == 200 and again.headers["HX-Redirect"] == "/register/"


def test_the_same_form_twice_at_the_same_moment_is_done_once(app, municipality):
    postgres_only(app)
    org = municipality("4601")
    clients = [app.test_client(), app.test_client()]
    data = registration_data(org, email="dobbeltklikk@kommune.example")
    responses = twice_at_once(clients, "/register/", data, page="/register/", same_key=True)
    assert sorted(r.status_code for r in responses) == [303, 303]
    assert count(Member, Member.email == "dobbeltklikk@kommune.example") == 1
    assert count(OutboxMessage) == 1
    assert count(FormSubmission) == 1


def test_keys_are_forgotten_after_a_day(app, runner):
    db.session.add_all(
        [
            FormSubmission(key="a" * 32, at=utcnow() - timedelta(days=2)),
            FormSubmission(key="b" * 32, at=utcnow()),
        ]
    )
    db.session.commit()
    result = runner.invoke(args=["privacy", "purge"])
    assert figure(result.output, "Submission keys forgotten (older than a day)") == 1
    assert list(db.session.scalars(select(FormSubmission.key))) == ["b" * 32]


def test_a_refused_constraint_is_a_409_page_and_stores_nothing(app, client, municipality, create_member):
    """The database's last word (here: the unique e-mail index, reached past the model's check by
    changing the address to a colleague's between the check and the flush) is a 409, not a 500 –
    and the page, menu and all, is drawn for the signed-in user after the failed flush."""
    from flask import Blueprint

    from tests.conftest import sign_in

    taken, other = create_member(municipality("4601")).email, create_member(municipality("4601")).id
    probe = Blueprint("probe", __name__)

    @probe.post("/probe")
    def clash():
        member = db.session.get(Member, other)
        member.email = taken
        db.session.flush()
        return "stored"

    app.register_blueprint(probe)
    sign_in(client, taken)
    app.config["WTF_CSRF_ENABLED"] = False
    response = client.post("/probe")
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Noen andre kom først" in page and "Logg ut" in page
    assert count(Member, Member.email == taken) == 1


def test_the_error_page_is_drawn_when_the_database_cannot_be_reached(
    app, client, create_member, municipality
):
    """A signed-in user's menu needs the database; when it is gone, the 503 page is drawn anyway."""
    from flask import Blueprint
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    from tests.conftest import sign_in

    member = create_member(municipality("4601"))
    member_id, address = member.id, member.email

    def refuse(*args):  # every statement fails from here on, as on a cut connection
        raise OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))

    probe = Blueprint("probe", __name__)

    @probe.get("/probe")
    def gone():
        event.listen(db.engine, "before_cursor_execute", refuse)
        db.session.expire_all()
        return db.session.get(Member, member_id).name

    app.register_blueprint(probe)
    sign_in(client, address)
    try:
        response = client.get("/probe")
    finally:
        if event.contains(db.engine, "before_cursor_execute", refuse):
            event.remove(db.engine, "before_cursor_execute", refuse)
    assert response.status_code == 503
    assert "Tjenesten er midlertidig utilgjengelig" in response.get_data(as_text=True)
