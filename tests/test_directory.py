"""The member directory and the public network pages."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from extensions import db
from models import Network
from models import meeting as meetings
from models import review as reviews
from tests.conftest import post, sign_in
from tests.helpers import says


@pytest.fixture
def people(create_member, create_coordinator, municipality):
    bergen, oslo, alver = municipality("4601"), municipality("0301"), municipality("4631")
    found = {
        "kari": create_member(
            bergen, name="Kari Østensen", unit="Helsestasjonen", job_title="Helsesykepleier"
        ),
        "ola": create_member(oslo, name="Ola Nordmann"),
        "alver": create_member(alver, name="Aud Alversen"),
        "lapsed": create_member(bergen, name="Lars Lapset", status="lapsed"),
        "pending": create_member(bergen, name="Pia Venter", status="pending_anchoring"),
        "coordinator": create_coordinator("NIK"),
    }
    found["kari"].memberships[0].make_main_contact()
    db.session.commit()
    return found


def search(client, text, fragment=True):
    headers = {"HX-Request": "true", "HX-Target": "directory-results"} if fragment else {}
    return client.get("/directory/", query_string={"q": text}, headers=headers).get_data(as_text=True)


def test_the_search_finds_a_member_by_part_of_the_name_by_municipality_and_by_county(client, people):
    sign_in(client, people["ola"].email)
    result = search(client, "østen")  # folded: "Østen" and "østen" are the same search
    assert "<html" not in result and says(result, "1 deltaker funnet")
    assert "Kari Østensen" in result and "Helsesykepleier" in result and "NIK (hovedkontakt)" in result
    assert people["kari"].email in result

    result = search(client, "bergen")
    assert "Kari Østensen" in result and "Ola Nordmann" not in result
    result = search(client, "vestland")  # the county Bergen and Alver lie in
    assert "Kari Østensen" in result and "Aud Alversen" in result and "Ola Nordmann" not in result
    # Only active members: not the lapsed, not those waiting for their manager.
    everyone = search(client, "", fragment=False)
    assert (
        "Lars Lapset" not in everyone
        and "Pia Venter" not in everyone
        and says(everyone, "3 deltakere funnet")
    )
    assert says(search(client, "%_"), "0 deltakere funnet")  # LIKE's wildcards are searched as written


def test_a_hidden_member_appears_only_to_coordinators(app, client, people):
    kari = app.test_client()
    sign_in(kari, people["kari"].email)
    response = post(kari, "/directory/visibility", {"hidden": "yes"}, page="/directory/")
    assert response.status_code == 303
    assert "Du er skjult i deltakeroversikten" in kari.get("/me/").get_data(as_text=True)

    sign_in(client, people["ola"].email)
    assert "Kari Østensen" not in search(client, "kari")
    coordinator = app.test_client()
    sign_in(coordinator, people["coordinator"].email)
    result = search(coordinator, "kari")
    assert "Kari Østensen" in result and "skjult for medlemmene" in result

    assert post(kari, "/directory/visibility", {"hidden": "no"}, page="/directory/").status_code == 303
    assert "Kari Østensen" in search(client, "kari")


def test_only_active_members_and_coordinators_open_the_directory(app, client, people):
    sign_in(client, people["pending"].email)
    assert client.get("/directory/").status_code == 403
    assert app.test_client().get("/directory/").status_code == 302


def test_the_directory_is_paginated(app, client, people, create_member, municipality):
    app.config["DIRECTORY_PER_PAGE"] = 2
    sign_in(client, people["ola"].email)
    first = search(client, "", fragment=False)
    assert says(first, "Side 1 av 2") and 'rel="next"' in first
    second = client.get("/directory/?page=2").get_data(as_text=True)
    assert says(second, "Side 2 av 2") and "Ola Nordmann" in second


def test_a_network_page_shows_mandate_purposes_joining_and_meetings_without_personal_data(client, people):
    nik = db.session.scalar(select(Network).filter_by(code="NIK"))
    reviews.record_mandate(
        nik, "Nettverket skal styrke kompetansen.", datetime.now(UTC).date() - timedelta(days=1)
    )
    now = datetime.now(UTC)
    meetings.plan(
        [nik],
        kind="network_meeting",
        title="Vårmøtet",
        format="digital",
        starts_at=now + timedelta(days=2),
        ends_at=now + timedelta(days=2, hours=2),
    )
    meetings.plan(
        [nik],
        kind="emergency",
        title="Hastemøte om en hendelse",
        format="digital",
        starts_at=now + timedelta(hours=2),
        ends_at=now + timedelta(hours=3),
    )
    db.session.commit()

    page = client.get("/networks/NIK").get_data(as_text=True)
    assert "Norsk nettverk for innvandrerhelse i kommuner" in page
    assert "Nettverket skal styrke kompetansen." in page
    assert "Styrke medlemmenes kompetanse og samarbeid om migrasjonshelse" in page
    assert 'href="/register/"' in page and "Vårmøtet" in page
    assert "Hastemøte" not in page
    for person in people.values():
        assert person.name not in page and person.email not in page
    assert client.get("/networks/XYZ").status_code == 404
    assert 'href="/networks/NIK"' in client.get("/").get_data(as_text=True)


def test_a_broad_search_says_more_than_the_cap_and_asks_for_more_letters(client, people, monkeypatch):
    from models import directory

    monkeypatch.setattr(directory, "COUNT_CAP", 2)
    sign_in(client, people["ola"].email)
    broad = search(client, "")  # Kari, Ola and Aud are active: more than two
    assert "Over 2 deltakere funnet: skriv mer" in broad and "deltakere funnet</p>" not in broad
    narrow = search(client, "østen")
    assert says(narrow, "1 deltaker funnet") and "Over" not in narrow
