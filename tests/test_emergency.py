"""Emergency call-in: every active member of the chosen networks, ahead of other mail, with a receipt."""

from sqlalchemy import func, select

from extensions import db
from models import Acknowledgement, Organisation, outbox
from tests.conftest import links_in, post, sign_in
from tests.test_meetings_http import form
from tests.test_registration import path_of


def test_a_call_in_reaches_every_active_member_once_and_counts_the_receipts(app, client, create_member, create_coordinator, municipality, deliver, mail_outbox):
    trust = db.session.scalar(select(Organisation).filter_by(name="Helse Bergen HF"))
    fhi = db.session.scalar(select(Organisation).filter_by(short_name="FHI"))
    kari = create_member(municipality("4601"), name="Kari")
    ola = create_member(trust, networks=("NONEMI",), name="Ola")
    both = create_member(fhi, networks=("NIK", "NONEMI"), name="Observatør")  # in two networks: one mail
    create_member(municipality("0301"), status="pending_anchoring", name="Ikke aktiv")
    create_member(db.session.scalar(select(Organisation).filter_by(kind="voluntary_organisation")) or fhi,
                  networks=("NIFS",), name="Ikke innkalt")
    outbox.queue("nyhetsbrev@kommune.example", "Nyhetsbrev", "reset_password", member=kari, url="http://localhost/")
    db.session.commit()

    coordinator = create_coordinator("NIK", "NONEMI")
    sign_in(client, coordinator.email)
    response = post(client, "/meetings/new", form(kind="emergency", networks=("NIK", "NONEMI"), title="Smitteutbrudd",
                                                  date="2027-01-20"), page="/meetings/new")
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
    first = post(anyone, receipt, page=receipt).get_data(as_text=True)
    second = post(anyone, receipt, page=receipt).get_data(as_text=True)
    assert "Takk, Kari" in first and "allerede bekreftet" in second
    assert db.session.scalar(select(func.count()).select_from(Acknowledgement)) == 1

    status = client.get(f"/meetings/{meeting_id}/acknowledgements",
                        headers={"HX-Request": "true", "HX-Target": "acknowledgements"}).get_data(as_text=True)
    assert "1 av 3 har bekreftet" in status and "<html" not in status
    assert status.index("Ola") < status.index("Bekreftet")  # Ola is still waiting

    mail_outbox.clear()
    post(client, f"/meetings/{meeting_id}/acknowledgements/remind", page=f"/meetings/{meeting_id}")
    deliver()
    assert sorted(m["To"] for m in mail_outbox) == sorted([ola.email, both.email])


def test_a_tampered_receipt_link_changes_nothing(client):
    response = client.get("/meetings/received/not-a-token")
    assert response.status_code == 400
