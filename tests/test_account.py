"""My page: details, memberships and anchoring, leaving, data export and deletion."""

import json
import re
from datetime import timedelta

import time_machine
from sqlalchemy import select

from extensions import db
from models import AnchoringStatus, AuditEntry, Member, MembershipStatus
from models.types import utcnow
from tests.conftest import links_in, post, sign_in, table_snapshot
from tests.helpers import path_of


def anchored_member(create_member, municipality):
    """An active member whose anchoring is on record."""
    member = create_member(municipality("4601"), status="pending_anchoring")
    member.request_anchoring().confirm("Leder Lie")
    db.session.commit()
    return member


def test_my_page_shows_status_and_who_anchored(client, create_member, municipality):
    member = anchored_member(create_member, municipality)
    sign_in(client, member.email)
    page = client.get("/me/").get_data(as_text=True)
    assert member.email in page and "Aktiv" in page and "Forankret av Leder Lie" in page


def test_a_new_line_manager_means_anchoring_again_while_the_old_one_stands(
    client, create_member, municipality, deliver, mail_outbox
):
    member = anchored_member(create_member, municipality)
    old = member.memberships[0].anchoring
    sign_in(client, member.email)
    data = {
        "name": member.name,
        "job_title": "Rådgiver",
        "unit": "Flyktningtjenesten",
        "manager_name": "Ny Leder",
        "manager_email": "ny.leder@bergen.kommune.example",
    }
    response = post(client, "/me/edit", data, page="/me/edit")
    assert response.status_code == 303
    db.session.expire_all()
    membership = member.memberships[0]
    assert membership.status == MembershipStatus.ACTIVE and membership.anchoring == old  # still stands
    assert member.pending_anchoring.manager_email == "ny.leder@bergen.kommune.example"
    page = client.get("/me/").get_data(as_text=True)
    assert "forankring endres" in page.lower()
    deliver()
    assert mail_outbox[0]["To"] == "ny.leder@bergen.kommune.example"
    url = path_of(links_in(mail_outbox[0])[0])
    assert (
        post(
            client.application.test_client(), url, {"name": "Ny Leder", "decision": "confirm"}, page=url
        ).status_code
        == 200
    )
    db.session.expire_all()
    assert membership.anchoring.decided_by_name == "Ny Leder"
    assert old.status == AnchoringStatus.CONFIRMED
    changed = db.session.scalar(select(AuditEntry).filter_by(action="member.manager_changed"))
    assert (
        changed.before["manager_name"] == old.manager_name
        and changed.after["manager_email"] == "ny.leder@bergen.kommune.example"
    )
    assert changed.actor_label == member.name


def test_the_profile_form_shows_errors_next_to_the_fields(client, create_member, municipality):
    member = create_member(municipality("4601"))
    sign_in(client, member.email)
    response = post(
        client,
        "/me/edit",
        {"name": "", "job_title": "x", "unit": "y", "manager_name": "z", "manager_email": member.email},
        page="/me/edit",
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="manager_email-error"' in page and "ikke din egen" in page


def test_leaving_a_network(client, create_member, municipality):
    member = create_member(municipality("4601"), networks=("NIK",))
    sign_in(client, member.email)
    membership = member.memberships[0]
    assert (
        post(client, f"/me/memberships/{membership.id}/leave", {"reason": "Ny jobb"}, page="/me/").status_code
        == 303
    )
    db.session.expire_all()
    assert membership.status == MembershipStatus.LEFT and membership.end_reason == "Ny jobb"


def test_the_data_export_holds_everything_about_the_member(client, create_member, municipality):
    member = anchored_member(create_member, municipality)
    sign_in(client, member.email)
    response = client.get("/me/export.json")
    assert response.headers["Content-Disposition"].startswith("attachment")
    data = json.loads(response.get_data(as_text=True))
    assert data["email"] == member.email and data["organisation"] == "Bergen"
    assert data["memberships"][0]["network"] == "NIK" and data["anchorings"][0]["decided_by"] == "Leder Lie"


def test_the_data_export_says_how_the_member_signs_in_and_holds_no_secret(
    client, create_member, municipality
):
    from models import ProviderIdentity, RecoveryCode, sign_in_link
    from models.types import utcnow

    member = anchored_member(create_member, municipality)
    sign_in_link.request_link(member.email, browser="0" * 64)
    db.session.add(ProviderIdentity(member_id=member.id, provider="entra", subject="00000000-kari"))
    member.totp_secret, member.totp_confirmed_at = "JBSWY3DPEHPK3PXP", utcnow()
    db.session.add_all([RecoveryCode(member_id=member.id, code_hash="0" * 64) for _ in range(2)])
    db.session.commit()
    sign_in(client, member.email)
    text = client.get("/me/export.json").get_data(as_text=True)
    data = json.loads(text)
    assert [(a["provider"], a["subject"]) for a in data["accounts_with_providers"]] == [
        ("entra", "00000000-kari")
    ]
    assert data["second_factor"]["set_up_at"] and data["second_factor"]["recovery_codes_unused"] == 2
    assert len(data["sign_in_links"]) == 1 and data["sign_in_links"][0]["used_at"] is None
    assert "JBSWY3DPEHPK3PXP" not in text and "0" * 64 not in text


def test_deleting_the_account_erases_the_person_and_keeps_the_history(client, create_member, municipality):
    member = anchored_member(create_member, municipality)
    email, member_id = member.email, member.id
    sign_in(client, member.email)
    with time_machine.travel(utcnow() + timedelta(minutes=16), tick=True):  # past a fresh sign-in
        wrong = post(client, "/me/delete", {"password": "ikke riktig passord"}, page="/me/delete")
        assert wrong.status_code == 422
        assert (
            post(
                client, "/me/delete", {"password": "korrekt hest batteri stift"}, page="/me/delete"
            ).status_code
            == 303
        )
    db.session.expire_all()
    erased = db.session.get(Member, member_id)
    assert erased.name == "Slettet deltaker" and erased.email != email and erased.manager_email is None
    assert erased.memberships[0].status == MembershipStatus.LEFT  # the history stays
    assert erased.anchorings[0].decided_by_name is None
    assert Member.by_email(email) is None
    assert client.get("/me/").status_code == 302
    assert sign_in(client, email).status_code == 422


def test_a_fresh_sign_in_confirms_a_deletion_without_the_password(
    client, create_member, municipality, deliver, mail_outbox
):
    """A member who never uses a password signs in by a link; for a quarter of an hour after, the
    deletion asks for no password.  Later it does, and without the right one nothing changes – until
    they sign in again."""
    member = create_member(municipality("4601"))
    member.password_hash = None  # never had one, or cannot remember it: the same here
    db.session.commit()

    def sign_in_by_link():
        mail_outbox.clear()
        page = client.get("/sign-in").get_data(as_text=True)
        token = re.search(r'name="link-csrf_token"[^>]*value="([^"]+)"', page).group(1)
        client.post("/sign-in/link", data={"link-email": member.email, "link-csrf_token": token})
        deliver()
        (url,) = [u for u in links_in(mail_outbox[0]) if "/sign-in/link/" in u]
        assert client.get(url.replace("http://localhost", "")).status_code == 303

    sign_in_by_link()
    assert 'name="password"' not in client.get("/me/delete").get_data(as_text=True)
    with time_machine.travel(utcnow() + timedelta(minutes=16), tick=True):
        page = client.get("/me/delete").get_data(as_text=True)
        assert 'name="password"' in page and "Vet du ikke passordet ditt?" in page
        before = table_snapshot()
        assert post(client, "/me/delete", {}, page="/me/delete").status_code == 422
        assert table_snapshot() == before

        assert post(client, "/sign-out", page="/me/").status_code == 303
        sign_in_by_link()
        assert post(client, "/me/delete", {}, page="/me/delete").status_code == 303
    db.session.expire_all()
    assert db.session.get(Member, member.id).deleted_at is not None


def test_a_member_cannot_leave_for_someone_else(client, create_member, municipality):
    member, other = create_member(municipality("4601")), create_member(municipality("4601"))
    sign_in(client, member.email)
    response = post(client, f"/me/memberships/{other.memberships[0].id}/leave", page="/me/")
    assert response.status_code == 403
    db.session.expire_all()
    assert other.memberships[0].status == MembershipStatus.ACTIVE
