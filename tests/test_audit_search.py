"""The audit log is searched by a member's name or address without either standing in a URL:
the search is POSTed, and the member found is shown by id."""

import re

from extensions import db
from models import audit
from tests.conftest import post, sign_in


def entries_for(*members, network):
    with audit.acting_as(label="test"):
        for member in members:
            audit.record(
                "membership.status",
                member=member,
                network=network,
                subject=f"member:{member.id}",
                before={"status": "pending_anchoring"},
                after={"status": "active"},
            )
    db.session.commit()


def test_a_search_by_address_leads_to_the_member_by_id(
    client, create_member, create_coordinator, municipality, networks
):
    bergen = municipality("4601")
    kari = create_member(bergen, name="Kari Nordmann", email="kari.nordmann@bergen.kommune.example")
    ola = create_member(bergen, name="Ola Nordmann", email="ola.nordmann@bergen.kommune.example")
    entries_for(kari, ola, network=networks["NIK"])
    sign_in(client, create_coordinator("NIK").email)

    page = client.get("/coordinator/audit").get_data(as_text=True)
    search_form = re.search(
        r'<form method="(\w+)"[^>]*>\s*<input[^>]*csrf_token[^>]*>\s*<div class="[^"]*\bfield\b[^"]*">\s*'
        r'<label [^>]*for="q"',
        page,
    )
    assert search_form and search_form.group(1) == "post"  # what is typed is not put in the URL
    assert 'name="q"' not in "".join(re.findall(r'<form method="get".*?</form>', page, re.S))

    found = post(
        client,
        "/coordinator/audit?action=membership.status",
        {"q": "KARI.nordmann@bergen"},
        page="/coordinator/audit",
    )
    assert found.status_code == 303
    location = found.headers["Location"]
    assert "@" not in location and "kari" not in location.lower() and f"member={kari.id}" in location
    assert "action=membership.status" in location
    shown = client.get(location).get_data(as_text=True)
    assert "Oppføringer om Kari Nordmann." in shown and "Ola Nordmann" not in shown


def test_several_matches_are_listed_by_id_and_none_is_said_next_to_the_field(
    client, create_member, create_coordinator, municipality, networks
):
    bergen = municipality("4601")
    kari = create_member(bergen, name="Kari Nordmann")
    ola = create_member(bergen, name="Ola Nordmann")
    entries_for(kari, ola, network=networks["NIK"])
    sign_in(client, create_coordinator("NIK").email)

    several = post(client, "/coordinator/audit", {"q": "nordmann"}, page="/coordinator/audit")
    page = several.get_data(as_text=True)
    assert several.status_code == 200 and "Velg deltakeren" in page
    links = re.findall(r'href="(/coordinator/audit\?[^"]*)"', page)
    assert f"/coordinator/audit?member={kari.id}" in links and f"/coordinator/audit?member={ola.id}" in links
    assert not [link for link in links if "nordmann" in link.lower() or "@" in link]

    none = post(client, "/coordinator/audit", {"q": "Ingen Slik"}, page="/coordinator/audit")
    assert none.status_code == 422
    assert re.search(r'id="q-error"[^>]*>Ingen deltaker i endringsloggen passer', none.get_data(as_text=True))
    assert "<title>Feil: " in none.get_data(as_text=True)  # and the focus starts in the field
    assert re.search(
        r'<input[^>]*\bautofocus\b[^>]*id="q"|<input[^>]*id="q"[^>]*\bautofocus\b',
        none.get_data(as_text=True),
    )
    # A name in the query string of old links does nothing.
    assert "Ola Nordmann" in client.get("/coordinator/audit?q=Kari").get_data(as_text=True)
