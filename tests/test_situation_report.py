"""The situation report (issue 21, item 4): its counts are the rows, a day restricts them, and it
names no reporter – on the page, in the CSV and in the summary; and the yearly evaluation's fourth
purpose lists the year's emergencies with their counts (item 6)."""

import csv
import io
import re
from collections import Counter
from datetime import UTC, datetime, time, timedelta

import openpyxl
from sqlalchemy import select, update

from extensions import db
from models import Emergency, Signal, situation
from models import signal as signals
from models.meeting import OSLO, Meeting
from models.organisation import Organisation, OrganisationKind
from models.package import PackageShare
from models.review import ReviewCycle
from tests.conftest import sign_in

FORMULA = '=HYPERLINK("https://evil.example/x","Les mer")'


def at(day, hour):
    return datetime.combine(day, time(hour), OSLO).astimezone(UTC)


def world_signals(world):
    """The signals the world's emergency counts before these tests add theirs (none merged)."""
    return len(
        db.session.scalars(
            select(Signal.id).where(
                Signal.emergency_id == world[1]["emergency"], Signal.duplicate_of_id.is_(None)
            )
        ).all()
    )


def build(world, municipality):
    """The world's emergency, opened two days ago, with signals across Vestland and Oslo, in several
    language groups, reported yesterday and today; one merged duplicate (not counted)."""
    people, ids = world
    emergency = db.session.get(Emergency, ids["emergency"])
    bergen, oslo = municipality("4601"), municipality("0301")
    today = datetime.now(OSLO).date()
    yesterday = today - timedelta(days=1)
    db.session.execute(
        update(Emergency)
        .where(Emergency.id == emergency.id)
        .values(opened_at=at(today - timedelta(days=2), 9))
    )
    made = [
        (
            people["member"],
            "information_need",
            "urgent",
            "Mange spør om vaksinen på somali",
            ["so", "ar"],
            oslo,
            yesterday,
        ),
        (
            people["member_elsewhere"],
            "interpretation",
            "can_wait",
            "Tolk mangler på legevakten",
            ["pl"],
            oslo,
            today,
        ),
        (people["main_contact"], "rumour", "soon", "Et rykte går i foreldregruppa", [], None, yesterday),
        (people["observer"], "barrier", "soon", FORMULA, ["ar"], bergen, today),
        (people["member"], "rumour", "soon", "Samme rykte en gang til", ["ar"], bergen, today),
    ]
    created = []
    for reporter, kind, urgency, text, languages, organisation, day in made:
        signal = signals.report(emergency, reporter, kind, urgency, text, languages, organisation)
        signal.created_at = at(day, 12)
        created.append(signal)
    created[-1].duplicate_of_id = ids["signal"]  # merged into the world's signal: counts as that one
    created[0].status, created[0].note = signals.SignalStatus.PASSED_ON, "Sendt videre til FHI"
    db.session.commit()
    reporters = [people[p] for p in ("owner", "member", "member_elsewhere", "main_contact", "observer")]
    return emergency, reporters, yesterday


def expected_counts(emergency, day=None):
    """The counts read straight from the rows, in Python."""
    query = select(Signal).where(Signal.emergency_id == emergency.id, Signal.duplicate_of_id.is_(None))
    rows = [
        s for s in db.session.scalars(query) if day is None or s.created_at.astimezone(OSLO).date() == day
    ]
    by_county = Counter(
        (s.kind.value, s.organisation.county_number if s.organisation else None) for s in rows
    )
    by_language = Counter((s.kind.value, language.code) for s in rows for language in s.languages)
    return rows, dict(by_county), dict(by_language)


def read_csv(response):
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def test_the_reports_counts_equal_the_rows_and_a_day_restricts_them(app, client, world, municipality):
    before = world_signals(world)
    emergency, _reporters, yesterday = build(world, municipality)
    people, _ids = world
    sign_in(client, people["coordinator"].email)

    rows, by_county, by_language = expected_counts(emergency)
    assert len(rows) == before + 4  # the world's own, and four of the five here (one merged)
    report = situation.report(emergency)
    assert report.total == len(rows)
    assert report.by_county == by_county
    assert report.by_language == by_language
    assert sum(n for _status, n in report.statuses) == len(rows)
    assert report.by_status[signals.SignalStatus.PASSED_ON] == 1
    assert report.urgent == sum(s.urgency == signals.Urgency.URGENT for s in rows) >= 1
    assert len(read_csv(client.get(f"/emergencies/{emergency.id}/report.csv"))) == 1 + len(rows)

    day_rows, day_county, day_language = expected_counts(emergency, yesterday)
    assert len(day_rows) == 2
    one_day = situation.report(emergency, yesterday)
    assert (one_day.total, one_day.by_county, one_day.by_language) == (2, day_county, day_language)
    exported = read_csv(client.get(f"/emergencies/{emergency.id}/report.csv?day={yesterday.isoformat()}"))
    assert sorted(row[-1] for row in exported[1:]) == sorted(s.text for s in day_rows)

    page = client.get(f"/emergencies/{emergency.id}/report?day={yesterday.isoformat()}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Mange spør om vaksinen på somali" in html and "Sendt videre til FHI" in html
    assert "Tolk mangler på legevakten" not in html  # today's, not yesterday's
    whole = client.get(f"/emergencies/{emergency.id}/report").get_data(as_text=True)
    assert "Tolk mangler på legevakten" in whole and "Samme rykte en gang til" not in whole  # merged

    # A day that is not one of the emergency's: said next to the field; no file for it.
    refused = client.get(f"/emergencies/{emergency.id}/report?day=2001-01-01")
    assert refused.status_code == 422 and 'id="day-error"' in refused.get_data(as_text=True)
    assert client.get(f"/emergencies/{emergency.id}/report.csv?day=2001-01-01").status_code == 404


def test_no_reporters_name_or_address_in_the_page_the_files_or_the_summary(app, client, world, municipality):
    emergency, reporters, _yesterday = build(world, municipality)
    people, _ids = world
    sign_in(client, people["coordinator"].email)
    base = f"/emergencies/{emergency.id}/report"
    page = client.get(base).get_data(as_text=True)
    exported = client.get(f"{base}.csv").get_data(as_text=True)
    summary = client.get(f"{base}.txt")
    assert summary.headers["Content-Type"] == "text/plain; charset=utf-8"
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(f"{base}.xlsx").data))
    cells = " ".join(str(c.value) for row in workbook.active.iter_rows() for c in row if c.value is not None)
    assert "Tolk mangler på legevakten" in exported and "Tolk mangler på legevakten" in cells
    counted = len(expected_counts(emergency)[0])
    assert re.search(rf"\b{counted}\b", summary.get_data(as_text=True))  # the count is in the summary
    for reporter in reporters:
        for text in (page, exported, summary.get_data(as_text=True), cells):
            assert reporter.name not in text and reporter.email not in text, reporter.name
    # The summary on the page is the text one, in a labelled read-only box.
    assert re.search(r'<label[^>]*for="summary"', page) and re.search(r"<textarea[^>]*readonly", page)


def test_a_formula_in_a_signal_text_comes_out_inert(app, client, world, municipality):
    emergency, _reporters, _yesterday = build(world, municipality)
    people, _ids = world
    sign_in(client, people["coordinator"].email)
    rows = read_csv(client.get(f"/emergencies/{emergency.id}/report.csv"))
    texts = [row[-1] for row in rows[1:]]
    assert "'" + FORMULA in texts and FORMULA not in texts
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(f"/emergencies/{emergency.id}/report.xlsx").data))
    cell = next(c for row in workbook.active.iter_rows() for c in row if c.value == FORMULA)
    assert cell.data_type == "s"


def test_observers_see_the_report_members_and_other_coordinators_do_not(app, world, municipality):
    emergency, _reporters, _yesterday = build(world, municipality)
    people, _ids = world
    for persona, status in (
        ("observer", 200),
        ("coordinator", 200),
        ("member", 403),
        ("coordinator_elsewhere", 403),
    ):
        client = app.test_client()
        sign_in(client, people[persona].email)
        for suffix in ("", ".csv", ".txt"):
            assert client.get(f"/emergencies/{emergency.id}/report{suffix}").status_code == status, persona
        show = client.get(f"/emergencies/{emergency.id}").get_data(as_text=True)
        assert (f"/emergencies/{emergency.id}/report" in show) == (persona in ("observer", "coordinator"))


def test_the_report_takes_the_same_number_of_queries_for_any_number_of_signals(
    app, client, world, municipality, count_queries
):
    emergency, _reporters, _yesterday = build(world, municipality)
    people, _ids = world
    sign_in(client, people["coordinator"].email)
    url = f"/emergencies/{emergency.id}/report"

    def statements():
        with count_queries() as run:
            assert client.get(url).status_code == 200
            assert client.get(url + ".csv").status_code == 200
        return len(run)

    before = statements()
    for n in range(12):
        signals.report(
            emergency, people["owner"], "other", "soon", f"Nytt {n}", ["ur", "pl"], municipality("1103")
        )
    db.session.commit()
    assert statements() == before


def test_the_evaluation_lists_the_years_emergency_with_its_counts(app, client, world, municipality):
    emergency, _reporters, _yesterday = build(world, municipality)
    people, ids = world
    cycle = db.session.get(ReviewCycle, ids["review"])
    if cycle.year != datetime.now(OSLO).year:  # the world's review is of a year three days on
        db.session.execute(
            update(Emergency)
            .where(Emergency.id == emergency.id)
            .values(opened_at=at(datetime(cycle.year, 6, 1).date(), 9))
        )
    db.session.execute(update(Meeting).where(Meeting.id == ids["call_in"]).values(emergency_id=emergency.id))
    bergen = municipality("4601")
    fhi = db.session.scalar(select(Organisation).filter_by(short_name="FHI"))
    assert fhi.kind != OrganisationKind.MUNICIPALITY
    db.session.add_all(
        [
            PackageShare(package_id=ids["package"], member_id=people["member"].id, organisation_id=bergen.id),
            PackageShare(package_id=ids["package"], member_id=people["owner"].id, organisation_id=bergen.id),
            PackageShare(package_id=ids["package"], member_id=people["observer"].id, organisation_id=fhi.id),
        ]
    )
    db.session.commit()
    [row] = situation.year_summary(cycle.network, cycle.year)
    counted = len(expected_counts(emergency)[0])
    assert (row.emergency.id, row.signals, row.packages, row.municipalities, row.call_ins) == (
        emergency.id,
        counted,
        1,
        1,
        1,
    )
    assert situation.year_summary(cycle.network, cycle.year - 1) == []

    sign_in(client, people["coordinator"].email)
    for url in (f"/reviews/cycle/{cycle.id}", f"/reviews/cycle/{cycle.id}/report"):
        html = client.get(url).get_data(as_text=True)
        table = html[html.index('class="ds-table year-emergencies"') :]
        table = table[: table.index("</table>")]
        assert emergency.title in table
        assert re.findall(r'<td class="num">(\d+)</td>', table) == [str(counted), "1", "1", "1"]
