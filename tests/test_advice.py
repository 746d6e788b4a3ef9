"""Requests for advice: posted to networks, answered in the app, listed and exported, one reminder."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from extensions import db
from models import AdviceAnswer, AdviceRequest, Organisation
from models import advice as advices
from tests.conftest import post, sign_in
from tests.helpers import figure, says


@pytest.fixture
def people(create_member, create_coordinator, municipality):
    bergen = municipality("4601")
    fhi = db.session.scalar(select(Organisation).filter_by(short_name="FHI"))
    trust = db.session.scalar(select(Organisation).filter_by(name="Helse Bergen HF"))
    return {
        "kari": create_member(bergen, name="Kari Nordmann"),
        "ola": create_member(bergen, name="Ola Nordmann"),
        "both": create_member(fhi, networks=("NIK", "NIFS"), name="Berit Begge"),
        "lapsed": create_member(bergen, status="lapsed", name="Lars Lapset"),
        "nonemi": create_member(trust, networks=("NONEMI",), name="Nils NONEMI"),
        "coordinator": create_coordinator("NIK", "NIFS", name="Kora Koordinator"),
    }


def post_request(client, deadline_in_days=14, remind_in_days=10):
    today = datetime.now(UTC).date()
    response = post(
        client,
        "/advice/new",
        {
            "title": "Ny veileder om tolking",
            "body": "Les utkastet.\nHva mangler?",
            "document_url": "https://www.helsedirektoratet.no/utkast",
            "networks": ["NIK", "NIFS"],
            "deadline": (today + timedelta(days=deadline_in_days)).isoformat(),
            "remind_on": (today + timedelta(days=remind_in_days)).isoformat(),
        },
        page="/advice/new",
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return db.session.scalar(select(AdviceRequest).order_by(AdviceRequest.id.desc()))


def test_a_request_reaches_the_networks_members_who_answer_and_are_listed_and_exported(
    app, client, runner, people, deliver, mail_outbox
):
    sign_in(client, people["coordinator"].email)
    request = post_request(client)
    assert deliver()["sent"] == 3
    assert sorted(r for m in mail_outbox for r in m.envelope_recipients) == sorted(
        people[k].email for k in ("kari", "ola", "both")
    )
    message = mail_outbox[0]
    assert message["Subject"] == "Innspillsrunde: Ny veileder om tolking"
    assert "https://www.helsedirektoratet.no/utkast" in message.get_body(("plain",)).get_content()
    assert f"http://localhost/advice/{request.id}" in message.get_body(("plain",)).get_content()

    kari = app.test_client()
    sign_in(kari, people["kari"].email)
    assert "Ny veileder om tolking" in kari.get("/advice/").get_data(as_text=True)
    page = f"/advice/{request.id}"
    response = post(kari, page, {"body": ""}, page=page)
    assert response.status_code == 422 and "Skriv innspillet ditt før du sender det." in response.get_data(
        as_text=True
    )
    assert post(kari, page, {"body": "Mer om tolk på video; det brukes mye."}, page=page).status_code == 303
    assert (
        post(kari, page, {"body": "Mer om tolk på video, og om barn som tolk."}, page=page).status_code == 303
    )  # changed, not added
    assert db.session.scalar(select(AdviceAnswer.body)) == "Mer om tolk på video, og om barn som tolk."
    assert "Du har svart" in kari.get("/advice/").get_data(as_text=True)

    # A member of a network not asked, and a lapsed member, cannot answer.
    for who in ("nonemi", "lapsed"):
        other = app.test_client()
        sign_in(other, people[who].email)
        assert other.get(page).status_code == 403
    assert db.session.scalar(select(db.func.count()).select_from(AdviceAnswer)) == 1

    listing = client.get(f"/advice/{request.id}/answers").get_data(as_text=True)
    assert says(listing, "1 av 3 aktive medlemmer har svart") and "Kari Nordmann" in listing
    assert "barn som tolk" in listing
    export = client.get(f"/advice/{request.id}/answers.csv")
    body = export.get_data(as_text=True)
    assert export.mimetype == "text/csv" and body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:3] == ["Navn", "E-post", "Organisasjon"]
    assert rows[1][0] == "Kari Nordmann" and rows[1][-1] == "Mer om tolk på video, og om barn som tolk."
    assert len(rows) == 2


def test_the_reminder_goes_once_and_only_to_those_who_have_not_answered(
    app, client, runner, people, deliver, mail_outbox
):
    sign_in(client, people["coordinator"].email)
    request = post_request(client)
    advices.answer(request, people["kari"], "Svar")
    db.session.commit()
    deliver()
    mail_outbox.clear()

    before = (request.remind_at - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert (
        figure(
            runner.invoke(args=["advice", "remind", "--now", before]).output,
            "Reminders to requests for advice written to the outbox",
        )
        == 0
    )
    after = (request.remind_at + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert (
        figure(
            runner.invoke(args=["advice", "remind", "--now", after]).output,
            "Reminders to requests for advice written to the outbox",
        )
        == 2
    )
    assert (
        figure(
            runner.invoke(args=["advice", "remind", "--now", after]).output,
            "Reminders to requests for advice written to the outbox",
        )
        == 0
    )
    assert deliver()["sent"] == 2
    assert sorted(r for m in mail_outbox for r in m.envelope_recipients) == sorted(
        people[k].email for k in ("ola", "both")
    )
    assert all(m["Subject"] == "Påminnelse: innspillsrunde: Ny veileder om tolking" for m in mail_outbox)
    db.session.expire_all()
    assert request.reminded_at is not None


def test_after_the_deadline_answers_are_closed(app, client, people, mail_outbox):
    request, _count = advices.post(
        "Spørsmål",
        "Tekst",
        None,
        [people["kari"].memberships[0].network],
        datetime.now(UTC) + timedelta(days=2),
        datetime.now(UTC) + timedelta(days=1),
        by=people["coordinator"],
    )
    request.deadline = datetime.now(UTC) - timedelta(minutes=1)
    request.remind_at = request.deadline - timedelta(days=1)
    db.session.commit()
    kari = app.test_client()
    sign_in(kari, people["kari"].email)
    page = f"/advice/{request.id}"
    assert "Fristen er ute" in kari.get(page).get_data(as_text=True)
    response = post(kari, page, {"body": "For sent"}, page=page)
    assert response.status_code == 422 and "Fristen er ute" in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(AdviceAnswer)) == 0
    assert "Spørsmål" not in kari.get("/advice/").get_data(as_text=True)


def test_dates_that_cannot_work_are_refused_next_to_the_field(client, people):
    sign_in(client, people["coordinator"].email)
    today = datetime.now(UTC).date()
    response = post(
        client,
        "/advice/new",
        {
            "title": "T",
            "body": "B",
            "networks": ["NIK"],
            "document_url": "javascript://x",
            "deadline": (today + timedelta(days=5)).isoformat(),
            "remind_on": (today + timedelta(days=6)).isoformat(),
        },
        page="/advice/new",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Påminnelsen må komme før fristen." in page and "Skriv en fullstendig adresse" in page
    assert db.session.scalar(select(db.func.count()).select_from(AdviceRequest)) == 0


# -- one effect, however often and however at once ---------------------------------------------------


def tabs_of(app, member, n=2):
    tabs = []
    for _ in range(n):
        tab = app.test_client()
        sign_in(tab, member.email)
        tabs.append(tab)
    return tabs


def audited(action):
    from models import AuditEntry

    db.session.expire_all()
    return db.session.scalar(
        select(db.func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
    )


def request_form(deadline_in_days=14, remind_in_days=10):
    today = datetime.now(UTC).date()
    return {
        "title": "Ny veileder om tolking",
        "body": "Les utkastet.",
        "networks": ["NIK", "NIFS"],
        "document_url": "",
        "deadline": (today + timedelta(days=deadline_in_days)).isoformat(),
        "remind_on": (today + timedelta(days=remind_in_days)).isoformat(),
    }


def test_a_request_posted_twice_at_once_is_posted_and_mailed_once(app, people, deliver, mail_outbox):
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    answers = twice_at_once(
        tabs_of(app, people["coordinator"]), "/advice/new", request_form(), page="/advice/new"
    )
    assert [r.status_code for r in answers] == [303, 303]
    assert len({r.headers["Location"] for r in answers}) == 1
    assert db.session.scalar(select(db.func.count()).select_from(AdviceRequest)) == 1
    assert audited("advice.posted") == 1
    deliver()
    assert sorted(r for m in mail_outbox for r in m.envelope_recipients) == sorted(
        people[k].email for k in ("kari", "ola", "both")
    )


def test_an_answer_sent_twice_at_once_is_one_answer(app, people, mail_outbox):
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    request, _count = advices.post(
        "Spørsmål",
        "Tekst",
        None,
        [people["kari"].memberships[0].network],
        datetime.now(UTC) + timedelta(days=5),
        datetime.now(UTC) + timedelta(days=2),
        by=people["coordinator"],
    )
    db.session.commit()
    page = f"/advice/{request.id}"
    answers = twice_at_once(tabs_of(app, people["kari"]), page, {"body": "Mer om tolk på video."}, page=page)
    assert [r.status_code for r in answers] == [303, 303]
    db.session.expire_all()
    (answer,) = db.session.scalars(select(AdviceAnswer)).all()
    assert (
        answer.body == "Mer om tolk på video." and answer.updated_at is None
    )  # the same text changed nothing


def test_two_reminder_runs_at_once_remind_once(app, app_factory, monkeypatch, people, deliver, mail_outbox):
    from tests.conftest import postgres_only
    from tests.helpers import run_commands_at_once

    postgres_only(app)
    request, _count = advices.post(
        "Spørsmål",
        "Tekst",
        None,
        [people["kari"].memberships[0].network],
        datetime.now(UTC) + timedelta(days=5),
        datetime.now(UTC) + timedelta(days=2),
        by=people["coordinator"],
    )
    advices.answer(request, people["kari"], "Svar")
    db.session.commit()
    deliver()
    mail_outbox.clear()
    moment = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    outputs = run_commands_at_once(
        monkeypatch, [app_factory(), app_factory()], ["advice", "remind", "--now", moment]
    )
    assert sorted(outputs) == [
        "Reminders to requests for advice written to the outbox: 0",
        "Reminders to requests for advice written to the outbox: 2",
    ], outputs
    assert audited("advice.reminded") == 1
    deliver()
    assert sorted(r for m in mail_outbox for r in m.envelope_recipients) == sorted(
        people[k].email for k in ("ola", "both")
    )


def test_the_operation_refuses_whom_the_page_does_not_ask(app, people, mail_outbox):
    """The view shows the form only to those asked, before the deadline; the operation holds the same rule."""
    request, _count = advices.post(
        "Spørsmål",
        "Tekst",
        None,
        [people["kari"].memberships[0].network],
        datetime.now(UTC) + timedelta(days=5),
        datetime.now(UTC) + timedelta(days=2),
        by=people["coordinator"],
    )
    db.session.commit()
    assert request.may_answer(people["kari"]) and not request.may_answer(people["lapsed"])
    with pytest.raises(advices.DomainError):
        advices.answer(request, people["lapsed"], "Svar")
    db.session.rollback()
    with pytest.raises(advices.DomainError):
        advices.answer(request, people["kari"], "For sent", now=request.deadline + timedelta(minutes=1))
    db.session.rollback()
    assert db.session.scalar(select(db.func.count()).select_from(AdviceAnswer)) == 0
