"""Emergency call-in: every active member of the chosen networks, ahead of other mail, with a receipt."""

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
        form(kind="emergency", networks=("NIK", "NONEMI"), title="Smitteutbrudd", date="2027-01-20"),
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
    assert status.index("Ola") < status.index("Bekreftet")  # Ola is still waiting

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

from datetime import UTC, datetime, timedelta  # noqa: E402

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
