"""Anchoring: reminders, the coordinator's view, and recording an anchoring done another way."""

from datetime import timedelta

from sqlalchemy import select, update

from extensions import db
from models import Anchoring, AnchoringMethod, AuditEntry, MembershipStatus
from models.types import utcnow
from tests.conftest import post, sign_in
from tests.helpers import figure


def waiting(create_member, municipality, number="4601", networks=("NIK",)):
    member = create_member(municipality(number), status="pending_anchoring", networks=networks)
    member.request_anchoring()
    db.session.commit()
    return member


def test_one_reminder_after_seven_days_and_only_one(
    runner, create_member, municipality, deliver, mail_outbox
):
    member = waiting(create_member, municipality)
    assert figure(runner.invoke(args=["anchorings", "remind"]).output, "Reminders written to the outbox") == 0
    db.session.execute(update(Anchoring).values(requested_at=utcnow() - timedelta(days=7, minutes=1)))
    db.session.commit()
    assert figure(runner.invoke(args=["anchorings", "remind"]).output, "Reminders written to the outbox") == 1
    assert figure(runner.invoke(args=["anchorings", "remind"]).output, "Reminders written to the outbox") == 0
    deliver()
    assert len(mail_outbox) == 1
    assert mail_outbox[0]["To"] == member.manager_email and "Påminnelse" in mail_outbox[0]["Subject"]


def test_the_coordinator_sees_pending_anchorings_of_their_networks_only(
    client, create_member, create_coordinator, municipality
):
    nik = waiting(create_member, municipality, "4601", ("NIK",))
    from models import Organisation

    trust = db.session.scalar(select(Organisation).filter_by(name="Helse Bergen HF"))
    nonemi = create_member(trust, status="pending_anchoring", networks=("NONEMI",))
    nonemi.request_anchoring()
    db.session.commit()
    sign_in(client, create_coordinator("NIK").email)
    page = client.get("/anchoring/pending").get_data(as_text=True)
    assert nik.name in page and nonemi.name not in page
    response = post(
        client,
        f"/anchoring/{nonemi.pending_anchoring.id}/record",
        {"reason": "telefon"},
        page="/anchoring/pending",
    )
    assert response.status_code == 403


def test_the_coordinator_records_an_anchoring_with_a_reason(
    client, create_member, create_coordinator, municipality, deliver, mail_outbox
):
    member = waiting(create_member, municipality)
    coordinator = create_coordinator("NIK", name="Koordinator Kari")
    sign_in(client, coordinator.email)
    anchoring = member.pending_anchoring
    empty = post(client, f"/anchoring/{anchoring.id}/record", {"reason": "  "}, page="/anchoring/pending")
    assert empty.status_code == 422 and "Si hvordan" in empty.get_data(as_text=True)
    refused = empty.get_data(as_text=True)  # said in the title; the focus starts in the field to fix
    assert "<title>Feil: " in refused and 'aria-invalid="true" autofocus' in refused
    response = post(
        client,
        f"/anchoring/{anchoring.id}/record",
        {"reason": "Bekreftet på telefon 20. november"},
        page="/anchoring/pending",
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert member.memberships[0].status == MembershipStatus.ACTIVE
    assert anchoring.method == AnchoringMethod.COORDINATOR and anchoring.recorded_by_id == coordinator.id
    entry = db.session.scalar(select(AuditEntry).filter_by(action="anchoring.confirmed"))
    assert entry.actor_label == "Koordinator Kari" and entry.reason == "Bekreftet på telefon 20. november"
    deliver()
    assert mail_outbox[0]["To"] == member.email
    page = client.get("/coordinator/audit?action=anchoring.confirmed").get_data(as_text=True)
    assert "Bekreftet på telefon 20. november" in page


def test_a_new_request_supersedes_the_unanswered_one(create_member, municipality, client):
    member = waiting(create_member, municipality)
    first = member.pending_anchoring
    from models.accounts import request_anchoring

    request_anchoring(member)
    db.session.commit()
    assert first.status == "superseded" and member.pending_anchoring is not first
    from models import tokens

    response = client.get(f"/anchoring/{tokens.make('anchoring', anchoring=first.id)}")
    assert response.status_code == 400


def test_create_coordinator_command(runner, app, deliver, mail_outbox):
    result = runner.invoke(
        args=[
            "create-coordinator",
            "ny.koordinator@helsedir.example",
            "--network",
            "NIK",
            "--network",
            "NIFS",
            "--name",
            "Nora Koordinator",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "coordinates NIK, NIFS" in result.output and "/welcome/" in result.output
    from models import Member

    member = Member.by_email("ny.koordinator@helsedir.example")
    assert {r.network.code for r in member.coordinator_roles} == {"NIK", "NIFS"}
    assert member.organisation.name == "Helsedirektoratet"
    deliver()
    assert [m["To"] for m in mail_outbox] == ["ny.koordinator@helsedir.example"]
    again = runner.invoke(args=["create-coordinator", "ny.koordinator@helsedir.example", "--network", "NIK"])
    assert again.exit_code == 1 and "Nora Koordinator" in again.output and "NIK" in again.output
