"""The organisation register: coordinators keep the unofficial part; official data comes by list."""

import csv

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import Membership, Organisation, OrganisationKind, reference
from tests.conftest import at_once, csrf_token_from, post, postgres_only, sign_in, table_snapshot
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


# -- one organisation per name and kind ---------------------------------------------------------


def trust(name="Helse Bergen HF"):
    return db.session.scalar(select(Organisation).filter_by(kind=OrganisationKind.HOSPITAL_TRUST, name=name))


def test_a_name_the_reference_list_has_is_refused_by_the_database_too(app):
    """The register's rule is the database's: a hospital trust named like the list's own (which
    carries a reference key) is refused even when the model's check is bypassed."""
    assert trust().reference_key is not None
    db.session.add(Organisation(kind=OrganisationKind.HOSPITAL_TRUST, name="helse  BERGEN hf"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    # Municipalities are told apart by number: a renumbered one keeps its name beside the old row.
    db.session.add(
        Organisation(kind=OrganisationKind.MUNICIPALITY, number="4699", county_number="46", name="Bergen")
    )
    db.session.flush()
    db.session.rollback()


def test_adding_or_renaming_to_a_taken_name_is_refused_naming_the_one_there(client, create_coordinator):
    sign_in(client, create_coordinator("NONEMI").email)
    own = Organisation.add_by_coordinator(OrganisationKind.HOSPITAL_TRUST, "Privatsykehuset Bergen")
    db.session.commit()
    before = table_snapshot()
    added = post(
        client,
        "/organisations/manage",
        {"kind": "hospital_trust", "name": "Helse Bergen  hf"},
        page="/organisations/manage",
    )
    assert added.status_code == 422
    assert "Helse Bergen HF finnes allerede i registeret (Helseforetak)." in added.get_data(as_text=True)
    renamed = post(
        client,
        f"/organisations/{own.id}/edit",
        {"kind": "hospital_trust", "name": "HELSE BERGEN HF"},
        page="/organisations/manage",
    )
    assert renamed.status_code == 422
    assert "Helse Bergen HF finnes allerede i registeret (Helseforetak)." in renamed.get_data(as_text=True)
    assert table_snapshot() == before


def test_a_deactivated_organisation_still_holds_its_name_and_the_message_says_so(client, create_coordinator):
    sign_in(client, create_coordinator("NIFS").email)
    gone = Organisation.add_by_coordinator(OrganisationKind.VOLUNTARY_ORGANISATION, "Bergen Røde Kors")
    db.session.commit()
    gone.deactivate_by_coordinator()
    db.session.commit()
    before = table_snapshot()
    response = post(
        client,
        "/organisations/manage",
        {"kind": "voluntary_organisation", "name": "bergen røde kors"},
        page="/organisations/manage",
    )
    assert response.status_code == 422
    assert (
        "Bergen Røde Kors finnes allerede i registeret (Frivillig organisasjon, deaktivert)."
        in response.get_data(as_text=True)
    )
    assert table_snapshot() == before


def test_two_renamed_to_one_name_at_once_keep_one_and_the_other_is_told(app, create_coordinator):
    postgres_only(app)
    coordinator = create_coordinator("NONEMI")
    first = Organisation.add_by_coordinator(OrganisationKind.HOSPITAL_TRUST, "Sykehus A")
    second = Organisation.add_by_coordinator(OrganisationKind.HOSPITAL_TRUST, "Sykehus B")
    db.session.commit()
    clients = [app.test_client(), app.test_client()]
    for c in clients:
        sign_in(c, coordinator.email)
    tokens = [csrf_token_from(c.get("/organisations/manage")) for c in clients]
    urls = [f"/organisations/{first.id}/edit", f"/organisations/{second.id}/edit"]

    def rename(wait, client, url, token):
        wait()
        return client.post(
            url, data={"kind": "hospital_trust", "name": "Sykehuset i Vest", "csrf_token": token}
        )

    responses = at_once(rename, list(zip(clients, urls, tokens, strict=True)))
    assert sorted(r.status_code for r in responses) == [303, 422]
    refused = next(r for r in responses if r.status_code == 422)
    assert "Sykehuset i Vest finnes allerede i registeret (Helseforetak)." in refused.get_data(as_text=True)
    db.session.expire_all()
    assert sorted(o.name for o in (first, second)).count("Sykehuset i Vest") == 1


# -- the merge dry run names what it would do ----------------------------------------------------


def new_classification(tmp_path, drop=(), rename=None):
    """The municipality list with ``drop`` (numbers) gone and ``rename`` ({number: name}) applied."""
    rename = rename or {}
    rows = [
        (r["number"], rename.get(r["number"], r["name"]), r["county_number"])
        for r in reference.read_csv("kommuner.csv")
        if r["number"] not in drop
    ]
    path = tmp_path / "kommuner-2027.csv"
    write(path, rows)
    return path


def test_the_merge_dry_run_lists_each_municipality_and_member_by_name_and_keeps_nothing(
    runner, tmp_path, create_member, municipality
):
    kinn = municipality("4602")
    kari = create_member(kinn, name="Kari i Kinn")
    create_member(kinn, name="Anders Andersen")
    gone = create_member(kinn, name="Tidligere Deltaker", status="left")
    path = new_classification(tmp_path, drop=("4602",), rename={"4601": "Bergen – Bjørgvin"})
    before = table_snapshot()
    dry = runner.invoke(
        args=["reference", "load", "--municipalities", str(path), "--merge", "4602:4601", "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    lines = dry.stdout.splitlines()
    merged = next(line for line in lines if "Kinn (4602)" in line)
    assert merged.startswith("Would: Merged: Kinn (4602) into Bergen – Bjørgvin (4601); 3 member(s) move:")
    assert f"Anders Andersen (#{kari.id + 1})" in merged and f"Kari i Kinn (#{kari.id})" in merged
    assert f"Tidligere Deltaker (#{gone.id})" in merged
    assert "Would: Renamed: Bergen → Bergen – Bjørgvin (4601)" in lines
    assert figure(dry.output, "members moved") == 3 and figure(dry.output, "deactivated") == 1
    assert not dry.stderr  # nobody is left behind
    assert table_snapshot() == before


def test_the_dry_run_warns_about_members_left_on_a_municipality_being_deactivated(
    runner, tmp_path, create_member, municipality
):
    kinn, askoy = municipality("4602"), municipality("4627")
    siri = create_member(askoy, name="Siri på Askøy")
    create_member(askoy, name="Borte Fra Før", status="left")  # ended: not left behind
    create_member(kinn, name="Kari i Kinn")
    path = new_classification(tmp_path, drop=("4602", "4627"))
    before = table_snapshot()
    dry = runner.invoke(
        args=["reference", "load", "--municipalities", str(path), "--merge", "4602:4601", "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    assert "Would: Deactivated: Askøy (4627) (no longer listed)" in dry.stdout.splitlines()
    (warning,) = dry.stderr.splitlines()
    assert warning == (
        "Warning: 1 member(s) would stay on Askøy (4627), which is deactivated and merged into no other: "
        f"Siri på Askøy (#{siri.id}). To move them, give --merge 4627:<successor's number>."
    )
    assert "Kinn" not in warning  # Kinn's members move with the merger
    assert table_snapshot() == before
    # The real run says the same, and does it.
    real = runner.invoke(args=["reference", "load", "--municipalities", str(path), "--merge", "4602:4601"])
    assert real.exit_code == 0 and real.stderr.strip() == warning
    assert "Deactivated: Askøy (4627) (no longer listed)" in real.stdout.splitlines()
    db.session.expire_all()
    assert not municipality("4627").active and siri.organisation_id == municipality("4627").id


def test_a_county_no_longer_listed_warns_about_its_members_without_offering_a_merge(
    runner, tmp_path, create_member
):
    vestland = db.session.scalar(
        select(Organisation).filter_by(kind=OrganisationKind.COUNTY_MUNICIPALITY, number="46")
    )
    create_member(vestland, name="Fylkes Deltaker")
    counties = tmp_path / "fylker-2027.csv"
    write(
        counties,
        [(r["number"], r["name"]) for r in reference.read_csv("fylker.csv") if r["number"] != "46"],
        header=("number", "name"),
    )
    dry = runner.invoke(args=["reference", "load", "--counties", str(counties), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    (warning,) = dry.stderr.splitlines()
    assert warning.startswith("Warning: 1 member(s) would stay on Vestland (46), which is deactivated")
    assert "Fylkes Deltaker" in warning and "--merge 46:" not in warning
