"""Accounts: sign-in, sign-out, password reset, rate limits, and tokens that cannot be misused."""

import time

import itsdangerous
import pytest
from sqlalchemy import select

from extensions import db
from models import Member, MembershipStatus, tokens
from models.accounts import verification_token
from tests.conftest import PASSWORD, links_in, post, sign_in, table_snapshot
from tests.helpers import path_of, register


def test_sign_in_and_out(client, create_member, municipality):
    member = create_member(municipality("4601"))
    response = sign_in(client, member.email.upper())
    assert response.status_code == 303 and response.headers["Location"] == "/"  # the home: what waits
    assert member.name in client.get("/me/").get_data(as_text=True)
    # Signing out is a POST (a link or an image on another site cannot sign anyone out).
    assert client.get("/sign-out").status_code == 405
    assert member.name in client.get("/me/").get_data(as_text=True)
    assert post(client, "/sign-out", page="/me/").status_code == 303
    response = client.get("/me/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")


def test_passwords_are_stored_with_scrypt_in_production(app_factory, municipality, create_member):
    from models import Member

    with app_factory(PASSWORD_HASH_METHOD="scrypt").app_context():
        member = Member(name="X", email="x@kommune.example", organisation_id=municipality("4601").id)
        member.set_password(PASSWORD)
        assert member.password_hash.startswith("scrypt:32768:8:1$") and member.check_password(PASSWORD)
        assert not member.check_password(PASSWORD + "x")


def test_a_wrong_password_gets_one_message_that_reveals_nothing(client, create_member, municipality):
    member = create_member(municipality("4601"))
    wrong = sign_in(client, member.email, "feil passord her")
    unknown = sign_in(client, "ingen@kommune.example", "feil passord her")
    assert wrong.status_code == unknown.status_code == 422
    message = "E-postadressen eller passordet er feil."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)


def test_an_unverified_account_cannot_sign_in_and_is_told_why(client, create_member, municipality):
    member = create_member(municipality("4601"), status="pending_email")
    response = sign_in(client, member.email)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "ikke bekreftet e-postadressen" in page and 'href="/verify"' in page
    assert member.email in client.get("/verify").get_data(
        as_text=True
    )  # prefilled from the session, not the URL
    assert client.get("/me/").status_code == 302


def test_next_is_followed_only_within_the_site(client, create_member, municipality):
    member = create_member(municipality("4601"))
    page = client.get("/sign-in?next=https://evil.example/")
    token = page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post(
        "/sign-in",
        data={
            "email": member.email,
            "password": PASSWORD,
            "next": "https://evil.example/",
            "csrf_token": token,
        },
    )
    assert response.headers["Location"] == "/"


def test_remember_me_sets_a_lasting_cookie(client, create_member, municipality):
    member = create_member(municipality("4601"))
    token = (
        client.get("/sign-in")
        .get_data(as_text=True)
        .split('name="csrf_token" type="hidden" value="')[1]
        .split('"')[0]
    )
    response = client.post(
        "/sign-in", data={"email": member.email, "password": PASSWORD, "remember": "y", "csrf_token": token}
    )
    cookies = " ".join(response.headers.getlist("Set-Cookie"))
    assert response.status_code == 303 and "remember_token=" in cookies and "HttpOnly" in cookies


def test_sign_in_is_rate_limited_per_account(app_factory, create_member, municipality):
    member = create_member(municipality("4601"))
    client = app_factory(RATELIMIT_ENABLED=True).test_client()
    codes = [sign_in(client, member.email, "feil passord her").status_code for _ in range(11)]
    assert codes[:10] == [422] * 10 and codes[10] == 429
    assert "For mange forsøk" in sign_in(client, member.email).get_data(as_text=True)


def test_password_reset_does_not_reveal_who_is_registered(
    client, create_member, municipality, deliver, mail_outbox
):
    member = create_member(municipality("4601"))
    known = post(client, "/reset-password", {"email": member.email}, page="/reset-password")
    unknown = post(client, "/reset-password", {"email": "ingen@kommune.example"}, page="/reset-password")
    strip = lambda r, e: r.get_data(as_text=True).replace(e, "")  # noqa: E731
    assert known.status_code == unknown.status_code == 200
    assert (
        strip(known, member.email).split("<main")[1].split("</main>")[0].replace(" ", "")[:400]
        == strip(unknown, "ingen@kommune.example")
        .split("<main")[1]
        .split("</main>")[0]
        .replace(" ", "")[:400]
    )
    deliver()
    assert [m["To"] for m in mail_outbox] == [member.email]


def test_a_reset_link_works_once_and_ends_old_sessions(
    client, app, create_member, municipality, deliver, mail_outbox
):
    member = create_member(municipality("4601"))
    other_device = app.test_client()
    sign_in(other_device, member.email)
    assert post(client, "/reset-password", {"email": member.email}, page="/reset-password").status_code == 200
    deliver()
    url = path_of(links_in(mail_outbox[0])[0])
    weak = post(client, url, {"password": "kort"}, page=url)
    assert weak.status_code == 422 and "minst 12 tegn" in weak.get_data(as_text=True)
    response = post(client, url, {"password": "en helt ny og lang frase"}, page=url)
    assert response.status_code == 303
    assert client.get(url).status_code == 400  # used
    assert "allerede brukt" in client.get(url).get_data(as_text=True)
    assert other_device.get("/me/").status_code == 302  # the old session ended with the old password
    assert client.get("/me/").status_code == 200  # the link signed its user in, on a new session
    assert sign_in(app.test_client(), member.email, "en helt ny og lang frase").status_code == 303


@pytest.fixture
def unverified(client, municipality, deliver, mail_outbox):
    assert register(client, municipality("4601")).status_code == 303
    deliver()
    return path_of(links_in(mail_outbox[0])[0])


def test_a_verification_link_works_once(client, unverified):
    assert post(client, unverified, page=unverified).status_code == 200
    again = client.get(unverified)
    assert again.status_code == 400 and "allerede bekreftet" in again.get_data(as_text=True)


def test_a_tampered_link_is_refused_and_changes_nothing(client, unverified):
    tampered = unverified[:-3] + ("abc" if not unverified.endswith("abc") else "xyz")
    response = client.get(tampered)
    assert response.status_code == 400 and "ikke gyldig" in response.get_data(as_text=True)
    assert "Ingenting ble endret." in response.get_data(as_text=True)
    member = db.session.scalar(select(Member))
    assert member.email_verified_at is None


def test_an_expired_link_is_refused_and_changes_nothing(
    client, app, monkeypatch, create_member, municipality
):
    member = create_member(municipality("4601"), status="pending_email", email="x@kommune.example")
    member_id = member.id
    before = table_snapshot()
    real = time.time
    monkeypatch.setattr(
        itsdangerous.timed, "time", type("T", (), {"time": staticmethod(lambda: real() - 49 * 3600)})
    )
    token = tokens.make(
        "verify_email", member=member_id, address=tokens.fingerprint("verify_email", "x@kommune.example")
    )
    monkeypatch.undo()
    response = client.get(f"/verify/{token}")
    assert response.status_code == 400 and "utløpt" in response.get_data(as_text=True)
    assert table_snapshot() == before
    db.session.expire_all()
    assert member.email_verified_at is None


def test_a_token_for_one_purpose_does_not_work_for_another(client, app, create_member, municipality):
    member = create_member(municipality("4601"))
    verify_token = verification_token(member)
    assert client.get(f"/reset-password/{verify_token}").status_code == 400
    assert client.get(f"/anchoring/{verify_token}").status_code == 400


def test_resending_the_verification_link(client, unverified, deliver, mail_outbox):
    member = db.session.scalar(select(Member))
    response = post(client, "/verify", {"email": member.email}, page="/verify")
    assert response.status_code == 200
    deliver()
    assert len(mail_outbox) == 2 and mail_outbox[1]["To"] == member.email
    assert member.memberships[0].status == MembershipStatus.PENDING_EMAIL
