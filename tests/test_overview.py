"""The coordinator's overview: per organisation, per county, filterable with htmx, and exports."""

import csv
import io

from openpyxl import load_workbook

from extensions import db
from tests.conftest import sign_in
from tests.helpers import says

HTMX = {"HX-Request": "true", "HX-Target": "overview-results"}


def nik(member):
    return next(m for m in member.memberships if m.network.code == "NIK")


def test_the_overview_shows_counts_main_contacts_and_the_county_summary(
    client, create_member, create_coordinator, municipality
):
    bergen, voss = municipality("4601"), municipality("4621")
    kari = create_member(bergen, name="Kari Nordmann")
    create_member(bergen, name="Ola Nordmann")
    create_member(bergen, status="pending_anchoring")
    create_member(voss)
    nik(kari).make_main_contact()
    db.session.commit()
    sign_in(client, create_coordinator("NIK").email)
    page = client.get("/coordinator/overview?network=NIK&county=46").get_data(as_text=True)
    assert says(page, "2 av 43")  # Vestland: Bergen and Voss represented
    bergen_row = page.split(">Bergen</a>")[1].split("</tr>")[0]
    assert (
        '<td class="num">2</td>' in bergen_row
        and '<td class="num">1</td>' in bergen_row
        and "Kari Nordmann" in bergen_row
    )
    assert "Oslo" not in page.split('id="overview-results"')[1].split("</table>")[0]


def test_sorting_and_searching_as_an_htmx_fragment(client, create_member, create_coordinator, municipality):
    for number, n in (("4601", 3), ("0301", 1), ("5001", 2)):
        for _ in range(n):
            create_member(municipality(number))
    sign_in(client, create_coordinator("NIK").email)
    fragment = client.get("/coordinator/overview?network=NIK&sort=members&desc=1", headers=HTMX).get_data(
        as_text=True
    )
    assert "<html" not in fragment
    names = [part.split("</a>")[0].split(">")[-1] for part in fragment.split('<th scope="row">')[1:4]]
    assert names == ["Bergen", "Trondheim - Tråante", "Oslo - Oslove"]
    found = client.get("/coordinator/overview?network=NIK&q=trondheim", headers=HTMX).get_data(as_text=True)
    assert says(found, "1 organisasjon")
    bad = client.get("/coordinator/overview?network=NIK&sort=nonsense&county=99", headers=HTMX)
    assert bad.status_code == 200 and "field-error" in bad.get_data(as_text=True)


def test_a_coordinator_sees_only_their_own_networks(client, create_coordinator):
    sign_in(client, create_coordinator("NIFS").email)
    page = client.get("/coordinator/overview?network=NIK").get_data(as_text=True)
    assert "Oversikt over NIFS" in page
    assert 'value="NIK"' not in page


def test_the_xlsx_export_holds_the_same_rows_as_the_csv(
    client, create_member, create_coordinator, municipality
):
    create_member(municipality("4601"), name="Kari Nordmann", unit="Helsestasjonen")
    create_member(municipality("0301"), name="Åse Ødegård", job_title='=HYPERLINK("x")')
    create_member(municipality("0301"), status="pending_email", name="Ikke Bekreftet")
    sign_in(client, create_coordinator("NIK").email)
    csv_response = client.get("/coordinator/overview/members.csv?network=NIK")
    assert csv_response.headers["Content-Disposition"] == 'attachment; filename="nik-deltakere.csv"'
    text = csv_response.get_data().decode("utf-8-sig")
    csv_rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    workbook = load_workbook(
        io.BytesIO(client.get("/coordinator/overview/members.xlsx?network=NIK").get_data())
    )
    xlsx_rows = [
        ["" if v is None else str(v) for v in row] for row in workbook.active.iter_rows(values_only=True)
    ]
    # The same text, except that CSV guards a formula with a leading ' (XLSX stores it as text).
    assert xlsx_rows == [[v[1:] if v.startswith("'=") else v for v in row] for row in csv_rows]
    assert [r[0] for r in csv_rows[1:]] == ["Kari Nordmann", "Åse Ødegård"]  # not the unverified one
    emails = client.get("/coordinator/overview/emails.csv?network=NIK").get_data().decode("utf-8-sig")
    assert emails.splitlines()[0] == "E-post;Navn;Organisasjon" and len(emails.splitlines()) == 3


def test_the_email_line_is_ready_to_paste(client, create_member, create_coordinator, municipality):
    a = create_member(municipality("4601"), name="A")
    b = create_member(municipality("0301"), name="B")
    sign_in(client, create_coordinator("NIK").email)
    page = client.get("/coordinator/overview?network=NIK").get_data(as_text=True)
    assert a.email not in page  # thousands of addresses come only when asked for
    assert 'href="/coordinator/overview?network=NIK&amp;addresses=1#email-line"' in page
    # Without JavaScript, the link; with htmx, the same line as a fragment in place.
    assert f"{a.email}; {b.email}" in client.get("/coordinator/overview?network=NIK&addresses=1").get_data(
        as_text=True
    )
    fragment = client.get(
        "/coordinator/overview?network=NIK&addresses=1",
        headers={"HX-Request": "true", "HX-Target": "email-line-area"},
    ).get_data(as_text=True)
    assert "<html" not in fragment and f"{a.email}; {b.email}" in fragment and 'id="email-line"' in fragment


def test_the_query_count_of_the_overview_does_not_grow(
    client, create_member, create_coordinator, municipality, count_queries
):
    sign_in(client, create_coordinator("NIK").email)

    def add(numbers):
        for number in numbers:
            for _ in range(3):
                create_member(municipality(number))

    add(("4601", "0301"))
    with count_queries() as before:
        client.get("/coordinator/overview?network=NIK")
    add(("1103", "5001", "3403", "1508", "4621"))
    with count_queries() as after:
        client.get("/coordinator/overview?network=NIK")
    assert len(after) == len(before) <= 15
