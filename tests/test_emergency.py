"""Emergency call-in: every active member of the chosen networks, ahead of other mail, with a receipt."""

from datetime import UTC, datetime

from sqlalchemy import func, select

from extensions import db
from models import Acknowledgement, Organisation, outbox
from tests.conftest import links_in, post, sign_in, table_snapshot
from tests.helpers import form, path_of, says


def test_a_call_in_reaches_every_active_member_once_and_counts_the_receipts(
    app, client, create_member, create_coordinator, municipality, deliver, mail_outbox
):
    trust = db.session.scalar(select(Organisation).filter_by(name="Helse Bergen HF"))
    fhi = db.session.scalar(select(Organisation).filter_by(short_name="FHI"))
    kari = create_member(municipality("4601"), name="Kari")
    ola = create_member(trust, networks=("NONEMI",), name="Ola")
    both = create_member(fhi, networks=("NIK", "NONEMI"), name="Observatør")  # in two networks: one mail
    create_member(municipality("0301"), status="pending_anchoring", name="Ikke aktiv")
    create_member(
        db.session.scalar(select(Organisation).filter_by(kind="voluntary_organisation")) or fhi,
        networks=("NIFS",),
        name="Ikke innkalt",
    )
    outbox.queue(
        "nyhetsbrev@kommune.example", "Nyhetsbrev", "reset_password", member=kari, url="http://localhost/"
    )
    db.session.commit()

    coordinator = create_coordinator("NIK", "NONEMI")
    sign_in(client, coordinator.email)
    response = post(
        client,
        "/meetings/new",
        form(
            kind="emergency",
            networks=("NIK", "NONEMI"),
            title="Smitteutbrudd",
            date=f"{datetime.now(UTC).year + 1}-01-20",
        ),
        page="/meetings/new",
    )
    assert response.status_code == 303
    deliver()
    call_ins = [m for m in mail_outbox if "Smitteutbrudd" in m["Subject"]]
    assert sorted(m["To"] for m in call_ins) == sorted([kari.email, ola.email, both.email])
    assert mail_outbox[0]["Subject"].startswith("Innkalling")  # ahead of the newsletter queued before it

    meeting_id = int(response.headers["Location"].rsplit("/", 1)[1])
    kari_mail = next(m for m in call_ins if m["To"] == kari.email)
    receipt = path_of(next(u for u in links_in(kari_mail) if "/received/" in u))
    anyone = app.test_client()
    assert "Jeg har mottatt innkallingen" in anyone.get(receipt).get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Acknowledgement)) == 0  # a GET records nothing
    first, second = post(anyone, receipt, page=receipt), post(anyone, receipt, page=receipt)
    assert first.status_code == second.status_code == 200
    assert "Takk, Kari" in first.get_data(as_text=True) and "allerede bekreftet" in second.get_data(
        as_text=True
    )
    assert db.session.scalar(select(func.count()).select_from(Acknowledgement)) == 1

    status = client.get(
        f"/meetings/{meeting_id}/acknowledgements",
        headers={"HX-Request": "true", "HX-Target": "acknowledgements"},
    ).get_data(as_text=True)
    assert says(status, "1 av 3 har bekreftet") and "<html" not in status
    # The count goes out of band into the live region that stays above the polled lists (WCAG 4.1.3).
    assert '<p id="acknowledged-count" hx-swap-oob="innerHTML">1 av 3 har bekreftet</p>' in status
    # Ola is still waiting: listed on the page (the poll brings the counts only, not the list).
    assert "Ola" not in status
    waiting = client.get(f"/meetings/{meeting_id}/acknowledgements").get_data(as_text=True)
    waiting = waiting.split('id="receipt-results"')[1]
    assert "Ola" in waiting and "Kari" not in waiting

    mail_outbox.clear()
    assert (
        post(
            client, f"/meetings/{meeting_id}/acknowledgements/remind", page=f"/meetings/{meeting_id}"
        ).status_code
        == 303
    )
    deliver()
    assert sorted(m["To"] for m in mail_outbox) == sorted([ola.email, both.email])


def test_a_tampered_receipt_link_changes_nothing(client):
    before = table_snapshot()
    response = client.get("/meetings/received/not-a-token")
    assert response.status_code == 400 and "ikke gyldig" in response.get_data(as_text=True)
    assert table_snapshot() == before


# -- receipts and the reminder: once, however often pressed --------------------------------------

from datetime import timedelta  # noqa: E402

from models import AuditEntry, Meeting  # noqa: E402
from models import meeting as meetings  # noqa: E402
from tests.conftest import postgres_only, twice_at_once  # noqa: E402
from tests.helpers import answered, audited, tabs  # noqa: E402


def called_in(create_member, municipality, networks, n=3):
    people = [create_member(municipality("4601"), name=f"Innkalt {i}") for i in range(n)]
    start = datetime.now(UTC) + timedelta(hours=2)
    meeting = meetings.plan(
        [networks["NIK"]],
        kind="emergency",
        title="Smitteutbrudd",
        format="digital",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
    )
    db.session.commit()
    return meeting, people


def receipt_of(mail_outbox, person):
    mail = next(m for m in mail_outbox if m["To"] == person.email)
    return path_of(next(u for u in links_in(mail) if "/received/" in u))


def test_a_receipt_confirmed_twice_at_once_is_stored_once(
    app, create_member, municipality, networks, deliver, mail_outbox
):
    postgres_only(app)
    _meeting, (kari, *_rest) = called_in(create_member, municipality, networks)
    deliver()
    receipt = receipt_of(mail_outbox, kari)
    statuses = answered(twice_at_once([app.test_client(), app.test_client()], receipt, page=receipt))
    assert statuses == [200, 200]
    assert db.session.scalar(select(func.count()).select_from(Acknowledgement)) == 1


def test_the_reminder_pressed_twice_at_once_goes_once_with_its_own_subject(
    app, create_member, create_coordinator, municipality, networks, deliver, mail_outbox
):
    postgres_only(app)
    meeting, (kari, ola, per) = called_in(create_member, municipality, networks)
    coordinator = create_coordinator("NIK")
    deliver()
    assert (
        post(app.test_client(), receipt_of(mail_outbox, kari), page=receipt_of(mail_outbox, kari)).status_code
        == 200
    )
    mail_outbox.clear()
    url = f"/meetings/{meeting.id}/acknowledgements/remind"
    statuses = answered(
        twice_at_once(tabs(app, coordinator.email), url, page=f"/meetings/{meeting.id}/acknowledgements")
    )
    assert statuses == [303, 303]
    deliver()
    assert sorted(m["To"] for m in mail_outbox) == sorted([ola.email, per.email])  # once each, not Kari
    assert {m["Subject"] for m in mail_outbox} == {
        "Påminnelse: Innkalling ved beredskapshendelse: Smitteutbrudd"
    }
    assert audited("meeting.call_in_reminded") == 1


def test_the_reminder_goes_once_per_call_in_and_the_page_says_so(
    app, client, create_member, create_coordinator, municipality, networks, deliver, mail_outbox
):
    meeting, people = called_in(create_member, municipality, networks, n=2)
    sign_in(client, create_coordinator("NIK").email)
    page = client.get(f"/meetings/{meeting.id}/acknowledgements").get_data(as_text=True)
    assert "Påminnelsen sendes én gang per innkalling" in page and "«Påminnelse: …»" in page
    deliver()
    mail_outbox.clear()
    for _press in range(3):  # pressed again and again (each a fresh form: a new submission key)
        assert (
            post(
                client,
                f"/meetings/{meeting.id}/acknowledgements/remind",
                page=f"/meetings/{meeting.id}/acknowledgements",
            ).status_code
            == 303
        )
    deliver()
    assert sorted(m["To"] for m in mail_outbox) == sorted(p.email for p in people)
    page = client.get(f"/meetings/{meeting.id}/acknowledgements").get_data(as_text=True)
    assert "kan ikke sendes igjen" in page and "/acknowledgements/remind" not in page
    assert db.session.get(Meeting, meeting.id).call_in_reminded_at is not None
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "meeting.call_in_reminded")
        )
        == 1
    )


def test_a_meeting_that_is_not_a_call_in_has_no_reminder_on_a_direct_post(
    app, client, create_member, create_coordinator, municipality, networks
):
    create_member(municipality("4601"))
    start = datetime.now(UTC) + timedelta(days=3)
    meeting = meetings.plan(
        [networks["NIK"]],
        kind="professional_meeting",
        title="Fagmøte",
        format="digital",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
    )
    db.session.commit()
    sign_in(client, create_coordinator("NIK").email)
    response = post(client, f"/meetings/{meeting.id}/acknowledgements/remind", page="/")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).call_in_reminded_at is None
    assert db.session.scalar(select(func.count()).select_from(outbox.OutboxMessage)) == 0


# -- the receipts page: counts first, then who has not confirmed, by organisation, searched, paged --

import re  # noqa: E402

from models import call_in as call_ins  # noqa: E402


def test_the_receipts_page_counts_first_then_groups_the_unconfirmed_by_organisation_searched_and_paged(
    app, client, create_member, create_coordinator, municipality, networks
):
    bergen, oslo, stavanger = municipality("4601"), municipality("0301"), municipality("1103")
    people = {
        name: create_member(organisation, name=name)
        for name, organisation in [
            ("Frode Fjell", stavanger),
            ("Anne Aas", bergen),
            ("David Dahl", oslo),
            ("Cecilie Berg", oslo),
            ("Bjørn Bø", bergen),
            ("Eva Eide", stavanger),
        ]
    }
    start = datetime.now(UTC) + timedelta(hours=2)
    meeting = meetings.plan(
        [networks["NIK"]],
        kind="emergency",
        title="Smitteutbrudd",
        format="digital",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
    )
    call_ins.acknowledge(meeting, people["David Dahl"])
    db.session.commit()
    app.config["RECEIPTS_PER_PAGE"] = 3
    sign_in(client, create_coordinator("NIK").email)
    url = f"/meetings/{meeting.id}/acknowledgements"

    page = client.get(url).get_data(as_text=True)
    # Counts first: confirmed, not yet, of how many – before any name.
    counts = re.sub(r"\s+", " ", page.split('class="facts-list receipt-counts">')[1].split("</dl>")[0])
    assert "<dt>Innkalt</dt><dd>6</dd>" in counts
    assert "<dt>Bekreftet</dt><dd>1</dd>" in counts and "<dt>Ikke bekreftet ennå</dt><dd>5</dd>" in counts
    assert says(page, "1 av 6 har bekreftet") and page.index("receipt-counts") < page.index("Anne Aas")
    assert "Minn dem som ikke har bekreftet" in page  # the reminder stays

    # Grouped by organisation (in name order), a page of three; the one who confirmed is not listed.
    results = page.split('id="receipt-results"')[1]
    headings = re.findall(r'<th scope="rowgroup"[^>]*>([^<]+)</th>', results)
    assert headings == [bergen.name, oslo.name]
    assert 'rowspan="2">' + bergen.name in results and 'rowspan="1">' + oslo.name in results
    assert results.index("Anne Aas") < results.index("Bjørn Bø") < results.index(oslo.name)
    assert results.index(oslo.name) < results.index("Cecilie Berg")
    assert "David Dahl" not in page and "Eva Eide" not in results and says(page, "Side 1 av 2")
    assert says(page, "5 personer har ikke bekreftet")

    # Paged: the second page holds the rest, under their organisation.
    second = client.get(f"{url}?page=2").get_data(as_text=True).split('id="receipt-results"')[1]
    assert re.findall(r'<th scope="rowgroup" rowspan="2">([^<]+)</th>', second) == [stavanger.name]
    assert "Eva Eide" in second and "Frode Fjell" in second and "Anne Aas" not in second

    # Searched as you type: a name (folded), a fragment with its count brought out of band.
    found = client.get(
        f"{url}?q=FRODE", headers={"HX-Request": "true", "HX-Target": "receipt-results"}
    ).get_data(as_text=True)
    assert "<html" not in found and "Frode Fjell" in found and "Eva Eide" not in found
    assert (
        says(found, "1 person som ikke har bekreftet, passer til søket")
        and 'hx-swap-oob="innerHTML"' in found
    )
    by_organisation = client.get(f"{url}?q=stavanger").get_data(as_text=True).split('id="receipt-results"')[1]
    assert (
        "Eva Eide" in by_organisation
        and "Frode Fjell" in by_organisation
        and "Anne Aas" not in by_organisation
    )
    assert "David Dahl" not in client.get(f"{url}?q=david").get_data(as_text=True)  # confirmed: not waiting

    # The poll carries the counts into the live region that stays, and no list.
    polled = client.get(url, headers={"HX-Request": "true", "HX-Target": "acknowledgements"}).get_data(
        as_text=True
    )
    assert '<p id="acknowledged-count" hx-swap-oob="innerHTML">1 av 6 har bekreftet</p>' in polled
    assert "Anne Aas" not in polled
