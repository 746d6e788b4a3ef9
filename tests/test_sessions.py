"""Sessions that end: signing out, a new password (reset on another device) and deleting the
account end every session of the account on every device – a copied cookie, "keep me signed in"
included – and signing in starts a new session that keeps nothing of the one before."""

from extensions import db
from models import Member, tokens
from tests.conftest import PASSWORD, post, sign_in

NEW_PASSWORD = "en helt ny og lang frase"


def copy_of(app, client, name="session"):
    """Another browser holding a copy of ``client``'s cookie (as someone who stole it would)."""
    thief = app.test_client()
    thief.set_cookie(name, client.get_cookie(name).value)
    return thief


def signed_in(client):
    return client.get("/me/").status_code == 200


def test_signing_out_ends_a_copied_session(app, client, create_member, municipality):
    member = create_member(municipality("4601"))
    sign_in(client, member.email)
    thief = copy_of(app, client)
    assert signed_in(thief)  # the copy works while the session lives
    assert post(client, "/sign-out", page="/me/").status_code == 303
    assert not signed_in(client) and not signed_in(thief)


def test_signing_out_on_one_device_ends_the_sessions_on_every_device(
    app, client, create_member, municipality
):
    member = create_member(municipality("4601"))
    laptop, phone = client, app.test_client()
    sign_in(laptop, member.email), sign_in(phone, member.email)
    assert signed_in(laptop) and signed_in(phone)  # signing in on the phone did not end the laptop's
    assert post(phone, "/sign-out", page="/me/").status_code == 303
    assert not signed_in(laptop) and not signed_in(phone)
    assert sign_in(laptop, member.email).status_code == 303 and signed_in(laptop)  # a new session works


def test_signing_out_ends_a_copied_keep_me_signed_in_cookie(app, client, create_member, municipality):
    member = create_member(municipality("4601"))
    page = client.get("/sign-in")
    token = page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert (
        client.post(
            "/sign-in",
            data={"email": member.email, "password": PASSWORD, "remember": "y", "csrf_token": token},
        ).status_code
        == 303
    )
    thief = copy_of(app, client, "remember_token")  # the long-lived cookie alone, no session
    assert signed_in(thief)
    assert post(client, "/sign-out", page="/me/").status_code == 303
    assert not signed_in(thief)


def test_a_new_password_set_on_another_device_ends_every_session(app, client, create_member, municipality):
    member = create_member(municipality("4601"))
    sign_in(client, member.email)
    thief = copy_of(app, client)
    other_device = app.test_client()
    url = f"/reset-password/{tokens.make('reset_password', member=member.id, version=member.auth_version)}"
    assert post(other_device, url, {"password": NEW_PASSWORD}, page=url).status_code == 303
    assert not signed_in(client) and not signed_in(thief)
    assert signed_in(other_device)  # the reset link signed its user in, on a session of its own


def test_deleting_the_account_ends_every_session(app, client, create_member, municipality):
    member = create_member(municipality("4601"))
    sign_in(client, member.email)
    thief, phone = copy_of(app, client), app.test_client()
    sign_in(phone, member.email)
    assert post(client, "/me/delete", {"password": PASSWORD}, page="/me/delete").status_code == 303
    assert not signed_in(client) and not signed_in(thief) and not signed_in(phone)


def test_signing_in_starts_a_new_session(app, client, create_member, municipality):
    """Nothing of the session before sign-in survives it (a session someone planted in the browser
    included): its CSRF secret is new, what it held is gone, only the chosen language stays."""
    member = create_member(municipality("4601"))
    client.get("/sign-in")
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
        session["locale"] = "en"
        before = dict(session)
    cookie_before = client.get_cookie("session").value
    assert sign_in(client, member.email).status_code == 303
    with client.session_transaction() as session:
        after = dict(session)
    assert "planted" not in after and after["locale"] == "en"
    assert after.get("csrf_token") != before["csrf_token"]  # a form from before sign-in is refused
    assert client.get_cookie("session").value != cookie_before
    planted = app.test_client()
    planted.set_cookie("session", cookie_before)
    assert not signed_in(planted)


def test_a_session_cookie_names_the_account_by_id_password_generation_and_key(
    app, create_member, municipality
):
    member = create_member(municipality("4601"))
    member_id, version, key = member.get_id().split(":")
    assert (int(member_id), int(version)) == (member.id, member.auth_version) and len(key) >= 20
    assert Member.for_session(member.get_id()) == member
    assert Member.for_session(f"{member.id}:{member.auth_version}") is None  # the form before keys
    assert Member.for_session(f"{member.id}:{member.auth_version}:{key}x") is None
    member.end_sessions()
    db.session.commit()
    assert Member.for_session(f"{member_id}:{version}:{key}") is None
    assert Member.for_session(member.get_id()) == member
