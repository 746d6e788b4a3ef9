"""The organisation register: coordinators keep the unofficial part; official data comes by list."""

import csv

from sqlalchemy import select

from extensions import db
from models import Membership, Organisation, OrganisationKind, reference
from tests.conftest import post, sign_in, table_snapshot
from tests.helpers import figure


def test_a_coordinator_adds_edits_and_deactivates_an_observer(client, create_coordinator, create_member):
    sign_in(client, create_coordinator("NIK").email)
    response = post(
        client,
        "/organisations/manage",
        {"kind": "observer", "name": "Statens helsetilsyn", "short_name": "Htil"},
        page="/organisations/manage",
    )
    assert response.status_code == 303
    htil = db.session.scalar(select(Organisation).filter_by(short_name="Htil"))
    assert htil.kind == OrganisationKind.OBSERVER and htil.active
    assert (
        post(
            client,
            f"/organisations/{htil.id}/edit",
            {"kind": "observer", "name": "Helsetilsynet", "short_name": "Htil"},
            page="/organisations/manage",
        ).status_code
        == 303
    )
    db.session.expire_all()
    assert htil.name == "Helsetilsynet"
    create_member(htil)
    assert (
        post(client, f"/organisations/{htil.id}/deactivate", page="/organisations/manage").status_code == 303
    )
    db.session.expire_all()
    assert htil.active  # still has an active member
    assert "har fortsatt aktive deltakere" in client.get("/organisations/manage").get_data(as_text=True)


def test_municipalities_are_not_edited_by_hand(client, create_coordinator, municipality):
    sign_in(client, create_coordinator("NIK").email)
    bergen = municipality("4601")
    assert client.get(f"/organisations/{bergen.id}/edit").status_code == 403
    assert (
        post(client, f"/organisations/{bergen.id}/deactivate", page="/organisations/manage").status_code
        == 403
    )


def test_the_form_shows_errors_next_to_the_fields(client, create_coordinator):
    sign_in(client, create_coordinator("NIK").email)
    response = post(
        client, "/organisations/manage", {"kind": "municipality", "name": ""}, page="/organisations/manage"
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="kind-error"' in page and 'id="name-error"' in page and "Skriv navnet." in page


def write(path, rows, header=("number", "name", "county_number")):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def test_a_merger_moves_members_to_the_successor_after_a_dry_run(
    runner, tmp_path, create_member, municipality
):
    rows = [(r["number"], r["name"], r["county_number"]) for r in reference.read_csv("kommuner.csv")]
    new_list = tmp_path / "kommuner-2027.csv"
    write(new_list, [("4601", "Bergen", "46") if r[0] == "4601" else r for r in rows if r[0] != "4602"])
    kinn = create_member(municipality("4602"), name="Kari i Kinn")
    kinn.memberships[0].make_main_contact()
    db.session.commit()

    dry = runner.invoke(
        args=["reference", "load", "--municipalities", str(new_list), "--merge", "4602:4601", "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    assert (
        "dry run" in dry.output
        and figure(dry.output, "members moved") == 1
        and figure(dry.output, "deactivated") == 1
    )
    db.session.expire_all()
    assert municipality("4602").active and kinn.organisation_id == municipality("4602").id

    real = runner.invoke(
        args=["reference", "load", "--municipalities", str(new_list), "--merge", "4602:4601"]
    )
    assert real.exit_code == 0, real.output
    db.session.expire_all()
    assert not municipality("4602").active  # kept, not deleted
    assert kinn.organisation_id == municipality("4601").id
    membership = db.session.scalar(select(Membership).filter_by(member_id=kinn.id))
    assert membership.organisation_id == municipality("4601").id and not membership.is_main_contact
    again = runner.invoke(
        args=["reference", "load", "--municipalities", str(new_list), "--merge", "4602:4601"]
    )
    assert "nothing changed" in again.output


def test_a_bad_list_is_refused_with_a_message(runner, tmp_path):
    bad = tmp_path / "bad.csv"
    write(bad, [("1", "x")], header=("nummer", "navn"))
    before = table_snapshot()
    result = runner.invoke(args=["reference", "load", "--municipalities", str(bad)])
    assert result.exit_code == 1 and "columns must include" in result.output
    assert table_snapshot() == before
