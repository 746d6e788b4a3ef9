"""Tokens carry ids only: a link in a mail (and so in access logs and browser history) holds no
address or name, still works once, expires, and stops working when the address changes."""

import re

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from extensions import db
from models import Member, OutboxMessage, tokens
from models.accounts import send_password_reset, verification_token
from tests.conftest import post
from tests.helpers import path_of, register


def readable_payload(token):
    """What anyone holding the link can read without the secret key."""
    _valid, payload = URLSafeTimedSerializer("not-the-key").loads_unsafe(token)
    return payload


def links_in_outbox():
    bodies = db.session.scalars(select(OutboxMessage.body_text)).all()
    return [link for body in bodies for link in re.findall(r"https?://\S+", body)]


def test_no_mailed_link_carries_an_address_or_a_name(client, municipality):
    response = register(client, municipality("4601"))
    assert response.status_code == 303
    member = db.session.scalar(select(Member))
    send_password_reset(member)
    db.session.commit()
    links = links_in_outbox()
    assert any("/verify/" in link for link in links) and any("/reset-password/" in link for link in links)
    for link in links:
        assert "@" not in link and "kari" not in link.lower()
        token = link.rstrip("/").rsplit("/", 1)[-1]
        payload = readable_payload(token) if "." in token else None
        if payload is not None:
            assert all(isinstance(v, int) or re.fullmatch(r"[0-9a-f]{20}", v) for v in payload.values()), (
                payload
            )
            assert member.email not in str(payload) and "Kari" not in str(payload)


def test_a_token_refuses_to_carry_anything_but_ids_and_fingerprints(app):
    for value in ("kari@kommune.example", "Kari Nordmann", True, 1.5, None):
        with pytest.raises(ValueError):
            tokens.make("verify_email", member=1, email=value)
    assert tokens.make(
        "verify_email", member=1, address=tokens.fingerprint("verify_email", "kari@kommune.example")
    )


def test_the_fingerprint_cannot_be_checked_without_the_key(app):
    import hashlib

    address = "kari@kommune.example"
    carried = tokens.fingerprint("verify_email", address)
    assert carried not in (
        hashlib.sha256(address.encode()).hexdigest()[:20],
        hashlib.md5(address.encode()).hexdigest()[:20],
    )
    assert (
        carried
        != tokens.fingerprint("change_email", address)
        != tokens.fingerprint("verify_email", "ola@x.no")
    )


def test_the_verification_link_works_once_and_not_after_the_address_changed(
    client, create_member, municipality
):
    member = create_member(municipality("4601"), status="pending_email")
    path = f"/verify/{verification_token(member)}"
    member.email = "ny.adresse@kommune.example"
    db.session.commit()
    refused = client.get(path)
    assert refused.status_code == 400 and 'href="/verify"' in refused.get_data(
        as_text=True
    )  # ask for a new one
    path = f"/verify/{verification_token(member)}"
    assert post(client, path, page=path).status_code == 200
    db.session.expire_all()
    assert db.session.get(Member, member.id).email_verified_at is not None
    again = client.get(path)
    assert again.status_code == 400 and "allerede bekreftet" in again.get_data(as_text=True)


def test_a_link_mailed_before_the_change_says_ask_for_a_new_one(client, create_member, municipality):
    """A verification link of the old form (with the address in it) no longer works: its page
    says so and links to a new one; nothing changes."""
    member = create_member(municipality("4601"), status="pending_email")
    old = URLSafeTimedSerializer("test-secret", salt="nettverk-tracker/verify_email").dumps(
        {"member": member.id, "email": member.email}
    )
    response = client.get(f"/verify/{old}")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "eldre versjon" in page and 'href="/verify"' in page
    assert post(client, f"/verify/{old}", page=f"/verify/{old}").status_code == 400
    db.session.expire_all()
    assert db.session.get(Member, member.id).email_verified_at is None


def test_the_registration_and_its_pages_keep_the_address_out_of_urls(client, municipality):
    response = register(client, municipality("4601"))
    assert "@" not in response.headers["Location"]
    page = client.get(path_of(response.headers["Location"])).get_data(as_text=True)
    assert not re.search(r'(href|action|hx-get)="(?!mailto:)[^"]*@', page)
