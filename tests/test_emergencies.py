"""Emergencies: opened and closed by coordinators of their networks, once."""

from sqlalchemy import select

from extensions import db
from models import Emergency, EmergencyStatus, Network
from tests.conftest import post, postgres_only, sign_in, table_snapshot, twice_at_once


def open_one(client, **data):
    return post(
        client,
        "/emergencies/new",
        {"title": "Meslingutbrudd", "description": "Utbrudd i Vestland", "networks": ["NIK"], **data},
        page="/emergencies/new",
    )


def test_a_coordinator_opens_an_emergency_and_members_of_the_network_see_it(client, app, world):
    people, _ids = world
    sign_in(client, people["coordinator"].email)
    response = open_one(client)
    assert response.status_code == 303
    emergency = db.session.scalar(select(Emergency).filter_by(title="Meslingutbrudd"))
    assert emergency.title == "Meslingutbrudd" and emergency.status == EmergencyStatus.OPEN
    assert [n.code for n in emergency.networks] == ["NIK"]
    member = app.test_client()
    sign_in(member, people["member"].email)
    page = member.get("/emergencies/").get_data(as_text=True)
    assert "Meslingutbrudd" in page


def test_an_emergency_without_a_title_is_refused_next_to_the_field_and_nothing_is_stored(client, world):
    people, _ids = world
    sign_in(client, people["coordinator"].email)
    before = table_snapshot()
    response = open_one(client, title="  ")
    assert response.status_code == 422
    assert 'id="title-error"' in response.get_data(as_text=True)
    assert table_snapshot() == before


def test_closing_twice_at_the_same_moment_closes_once_and_audits_once(app, world):
    postgres_only(app)
    people, _ids = world
    from models import AuditEntry
    from models import emergency as emergencies

    emergency = emergencies.open_emergency(
        [db.session.scalar(select(Network).filter_by(code="NIK"))], "Flom", by=people["coordinator"]
    )
    db.session.commit()
    clients = []
    for _ in range(2):
        c = app.test_client()
        sign_in(c, people["coordinator"].email)
        clients.append(c)
    responses = twice_at_once(
        clients, f"/emergencies/{emergency.id}/close", page=f"/emergencies/{emergency.id}"
    )
    assert sorted(r.status_code for r in responses) == [303, 303]
    db.session.expire_all()
    assert db.session.get(Emergency, emergency.id).status == EmergencyStatus.CLOSED
    closed = db.session.scalars(select(AuditEntry).filter_by(action="emergency.closed")).all()
    assert len(closed) == 1


def error_of(response, field):
    """The message shown next to ``field`` (empty if none)."""
    import re

    found = re.search(rf'id="{field}-error">(.*?)</p>', response.get_data(as_text=True), re.S)
    return found.group(1).strip() if found else ""


def call_in_form(**changes):
    from tests.helpers import form

    return form(**{"kind": "emergency", **changes})


def test_a_call_in_can_open_an_emergency_with_its_title_and_is_listed_on_it(client, world, mail_outbox):
    from models import Meeting

    people, _ids = world
    sign_in(client, people["coordinator"].email)
    response = post(
        client, "/meetings/new", call_in_form(title="Flom i Bergen", emergency="new"), page="/meetings/new"
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    meeting = db.session.scalar(select(Meeting).filter_by(title="Flom i Bergen"))
    emergency = db.session.get(Emergency, meeting.emergency_id)
    assert emergency.title == "Flom i Bergen" and emergency.is_open
    assert [n.code for n in emergency.networks] == ["NIK"]
    page = client.get(f"/emergencies/{emergency.id}").get_data(as_text=True)
    assert "Flom i Bergen" in page and f"/meetings/{meeting.id}" in page


def test_a_call_in_is_sent_within_an_open_emergency_of_its_networks_only(client, world, mail_outbox):
    from models import Meeting

    people, ids = world
    sign_in(client, people["coordinator"].email)
    page = client.get(f"/meetings/new?emergency={ids['emergency']}").get_data(as_text=True)
    assert (
        f'<option selected value="{ids["emergency"]}">' in page
        or f'value="{ids["emergency"]}" selected' in page
    )
    response = post(
        client,
        "/meetings/new",
        call_in_form(title="Ny innkalling", emergency=str(ids["emergency"])),
        page="/meetings/new",
    )
    assert response.status_code == 303
    assert (
        db.session.scalar(select(Meeting).filter_by(title="Ny innkalling")).emergency_id == ids["emergency"]
    )


def test_a_professional_meeting_or_a_closed_emergency_is_refused_beside_the_field_and_nothing_is_stored(
    client, world
):
    from models import emergency as emergencies

    people, ids = world
    sign_in(client, people["coordinator"].email)
    before = table_snapshot()
    response = post(
        client,
        "/meetings/new",
        call_in_form(kind="professional_meeting", title="Fagmøte", emergency=str(ids["emergency"])),
        page="/meetings/new",
    )
    assert response.status_code == 422
    assert error_of(response, "emergency")
    assert table_snapshot() == before
    emergencies.close(db.session.get(Emergency, ids["emergency"]))
    db.session.commit()
    before = table_snapshot()
    # A closed emergency is no longer offered: the form refuses the choice.
    response = post(
        client,
        "/meetings/new",
        call_in_form(title="Sent", emergency=str(ids["emergency"])),
        page="/meetings/new",
    )
    assert response.status_code == 422
    assert error_of(response, "emergency")
    assert table_snapshot() == before
