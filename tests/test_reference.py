"""Reference data: complete, consistent, and loaded idempotently."""

from sqlalchemy import func, select

from extensions import db
from models import Network, Organisation, OrganisationKind, reference


def count(kind):
    return db.session.scalar(select(func.count()).select_from(Organisation).filter_by(kind=kind, active=True))


def snapshot():
    return sorted(
        (o.kind, o.number, o.name, o.county_number, o.parent_id, o.active, o.short_name)
        for o in db.session.scalars(select(Organisation))
    )


def test_the_register_holds_the_official_lists(app):
    assert count(OrganisationKind.MUNICIPALITY) == 357
    assert count(OrganisationKind.COUNTY_MUNICIPALITY) == 15
    assert sorted(db.session.scalars(select(Network.code))) == ["NIFS", "NIK", "NONEMI"]
    observers = db.session.scalars(select(Organisation.short_name).filter_by(kind=OrganisationKind.OBSERVER))
    assert sorted(observers) == ["FHI", "IMDi"]
    assert count(OrganisationKind.HOSPITAL_TRUST) == 34  # 4 regional authorities and 30 trusts


def test_every_municipality_lies_in_a_listed_county(app):
    counties = set(
        db.session.scalars(select(Organisation.number).filter_by(kind=OrganisationKind.COUNTY_MUNICIPALITY))
    )
    per_county = dict(
        db.session.execute(
            select(Organisation.county_number, func.count())
            .filter_by(kind=OrganisationKind.MUNICIPALITY)
            .group_by(Organisation.county_number)
        ).all()
    )
    assert set(per_county) == counties
    assert per_county["46"] == 43 and per_county["03"] == 1 and per_county["34"] == 46


def test_loading_twice_changes_nothing(app):
    before = snapshot()
    assert reference.load() == {}
    assert snapshot() == before


def test_a_renamed_municipality_is_renamed_and_a_merged_one_deactivated(app, monkeypatch):
    rows = reference.read_csv("kommuner.csv")
    renamed = [dict(r, name="Bjørgvin") if r["number"] == "4601" else r for r in rows]
    merged_away = [r for r in renamed if r["number"] != "1101"]
    original = reference.read_csv
    monkeypatch.setattr(
        reference, "read_csv", lambda name: merged_away if name == "kommuner.csv" else original(name)
    )
    assert reference.load() == {"renamed": 1, "deactivated": 1}
    eigersund = db.session.scalar(
        select(Organisation).filter_by(number="1101", kind=OrganisationKind.MUNICIPALITY)
    )
    assert eigersund is not None and not eigersund.active
    assert db.session.scalar(select(Organisation.name).filter_by(number="4601")) == "Bjørgvin"
    monkeypatch.setattr(reference, "read_csv", original)
    assert reference.load() == {"renamed": 1, "reactivated": 1}


def test_local_edits_to_unofficial_organisations_survive_a_reload(app):
    trust = db.session.scalar(select(Organisation).filter_by(name="Helse Førde HF"))
    trust.name = "Helse Førde HF (Førde sentralsjukehus)"
    db.session.commit()
    assert reference.load() == {}
    assert trust.name == "Helse Førde HF (Førde sentralsjukehus)"


def test_the_hospital_list_keeps_regions_and_drops_companies_that_are_not_trusts():
    pairs = dict(reference.hospital_trusts())
    assert pairs["Helse Bergen HF"] == "Helse Vest RHF"
    assert pairs["Sykehusinnkjøp HF"] is None
    assert "Helse Vest IKT AS" not in pairs and "Sjukehusapoteka Vest HF" in pairs


def test_the_cli_command_reports_what_it_did(runner):
    result = runner.invoke(args=["reference", "load"])
    assert result.exit_code == 0
    assert "nothing changed" in result.output
