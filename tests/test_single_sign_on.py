"""Single sign-on with OpenID Connect (issue 23), against a real OpenID provider run in the test
session (tests/oidc_provider.py): the test client posts the sign-in page's form, follows the app's
way to the provider, signs in on the provider's login page over real HTTP, and comes back with the
provider's redirect; the app exchanges the code and reads the keys over real HTTP too."""

from datetime import timedelta

import pytest
import requests
import time_machine
from sqlalchemy import func, select

from blueprints.auth.sessions import BROWSER_COOKIE
from config import check_oidc_providers, oidc_providers
from extensions import db
from models import AuditEntry, ProviderIdentity, ProviderSignIn
from models.types import utcnow
from tests.conftest import at_once, csrf_token_from, postgres_only, sign_in, table_snapshot
from tests.oidc_provider import oidc_provider, settings_for  # noqa: F401  (a fixture)

CALLBACK = "/sign-in/with/test/callback"


@pytest.fixture
def provider(app, oidc_provider):  # noqa: F811
    """The test provider, emptied, with the app configured to use it (and the test client's
    address allowed as a redirect URI)."""
    oidc_provider.reset()
    oidc_provider.allow_redirect("http://localhost")
    app.config["OIDC_PROVIDERS"] = settings_for(oidc_provider)
    return oidc_provider


@pytest.fixture
def kari(app, create_member, municipality):
    return create_member(municipality("4601"), name="Kari Nordmann", email="kari@bergen.kommune.example")


def begin(client, next_url="/me/"):
    """Press the sign-in page's button: the app's answer (a page that moves on to the provider).
    The client reads English from here on (its browser's preference)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    token = csrf_token_from(client.get("/"))
    return client.post("/sign-in/with/test", data={"csrf_token": token, "next": next_url})


def to_provider(response):
    """The provider's address the app's page moves on to (its Refresh header, and its link)."""
    assert response.status_code == 200, response.status_code
    url = response.headers["Refresh"].split("url=", 1)[1]
    assert f'href="{url.replace("&", "&amp;")}"' in response.get_data(as_text=True)
    return url


def at_provider(url, user, decision="sign-in"):
    """Sign in on the provider's login page as ``user``: the callback path it sends the browser to."""
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "Test provider" in page.text
    answer = requests.post(url, data={"user": user, "decision": decision}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith("http://localhost" + CALLBACK + "?"), location
    return location[len("http://localhost") :]


def through_provider(client, user, next_url="/me/", decision="sign-in"):
    """The whole way to the provider and back: the callback's path (not followed yet)."""
    return at_provider(to_provider(begin(client, next_url)), user, decision)


def signed_in(client):
    with client.session_transaction() as session:
        return dict(session)


def identities():
    db.session.expire_all()
    return db.session.execute(select(ProviderIdentity.member_id, ProviderIdentity.subject)).all()


# -- the flow --------------------------------------------------------------------------------------


def test_a_verified_address_links_the_member_then_the_stored_subject_signs_in(client, app, provider, kari):
    provider.add_user("kari-sub", email="Kari@Bergen.kommune.example", email_verified=True)
    callback = through_provider(client, "kari-sub")

    response = client.get(callback)
    assert response.status_code == 303 and response.headers["Location"] == "/me/"
    session = signed_in(client)
    assert session["_user_id"].startswith(f"{kari.id}:") and session["signed_in_with"] == "provider"
    assert "second_factor" not in session  # amr "pwd" only
    assert client.get("/me/").status_code == 200
    assert identities() == [(kari.id, "kari-sub")]
    entry = db.session.scalar(select(AuditEntry).filter_by(action="member.provider_linked"))
    assert entry.member_id == kari.id and entry.after == {"provider": "test"}
    assert db.session.scalar(select(ProviderSignIn.used_at)) is not None

    # The address at the provider changes (or is no longer verified): the stored subject still knows her.
    provider.users["kari-sub"].email = "kari.nordmann@ny.example"
    provider.users["kari-sub"].email_verified = False
    other = app.test_client()
    response = other.get(through_provider(other, "kari-sub", next_url="/organisations/"))
    assert response.status_code == 303 and response.headers["Location"] == "/organisations/"
    assert signed_in(other)["_user_id"].startswith(f"{kari.id}:")
    assert identities() == [(kari.id, "kari-sub")]
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEntry).filter_by(action="member.provider_linked")
        )
        == 1
    )


def test_a_trusted_amr_counts_as_a_second_factor_and_an_untrusted_one_does_not(client, app, provider, kari):
    provider.add_user("kari-sub", email=kari.email, amr=["pwd", "mfa"])
    client.get(through_provider(client, "kari-sub"))
    assert signed_in(client)["second_factor"] is True

    app.config["OIDC_PROVIDERS"] = settings_for(provider, trust_amr=[])  # nothing trusted: the default
    other = app.test_client()
    other.get(through_provider(other, "kari-sub"))
    session = signed_in(other)
    assert session["_user_id"].startswith(f"{kari.id}:") and "second_factor" not in session


def test_a_coordinator_is_asked_for_the_apps_code_unless_the_provider_vouched_for_a_second_factor(
    client, app, provider, create_coordinator
):
    coordinator = create_coordinator("NIK")
    coordinator.totp_secret, coordinator.totp_confirmed_at = "JBSWY3DPEHPK3PXP", utcnow()
    db.session.commit()
    provider.add_user("koordinator-sub", email=coordinator.email, amr=["pwd"])
    response = client.get(through_provider(client, "koordinator-sub", next_url="/coordinator/"))
    assert response.status_code == 303 and response.headers["Location"].startswith("/sign-in/code?next=")
    gate = client.get("/coordinator/")  # the gate: the code first
    assert gate.status_code == 302 and gate.headers["Location"].startswith("/sign-in/code?next=")

    provider.users["koordinator-sub"].amr = ["pwd", "mfa"]  # trusted (settings_for: TRUST_AMR=mfa)
    other = app.test_client()
    response = other.get(through_provider(other, "koordinator-sub", next_url="/coordinator/"))
    assert response.status_code == 303 and response.headers["Location"] == "/coordinator/"
    assert other.get("/coordinator/").status_code == 200


def test_an_unknown_person_is_sent_to_registration_with_the_address_filled_in(client, provider):
    provider.add_user("ola-sub", email="ola@bergen.kommune.example")
    before = table_snapshot(ignore=("form_submissions", "provider_sign_ins"))

    response = client.get(through_provider(client, "ola-sub"))
    assert (
        response.status_code == 303 and response.headers["Location"] == "/register/"
    )  # no address in the URL
    page = client.get("/register/").get_data(as_text=True)
    assert 'value="ola@bergen.kommune.example"' in page
    assert "_user_id" not in signed_in(client)
    assert table_snapshot(ignore=("form_submissions", "provider_sign_ins")) == before


def test_a_newcomer_from_the_provider_registers_without_a_password_and_is_signed_in(
    client, app, provider, municipality, deliver, mail_outbox
):
    """The provider vouched for the address: no password to choose, no verification mail – the line
    manager is asked at once – and the provider's account is linked, so it signs them in next time.
    Changing the address on the form takes that away: then a password is needed as for anyone."""
    from models import Member
    from tests.helpers import register

    provider.add_user("ola-sub", email="ola@bergen.kommune.example")
    client.get(through_provider(client, "ola-sub"))
    page = client.get("/register/").get_data(as_text=True)
    assert 'name="password"' not in page and "Testleverandøren" in page
    bergen = municipality("4601")

    before = table_snapshot(ignore=("form_submissions",))
    another = register(client, bergen, email="ola.annen@bergen.kommune.example", password=None)
    assert another.status_code == 422 and 'name="password"' in another.get_data(as_text=True)
    assert table_snapshot(ignore=("form_submissions",)) == before

    response = register(
        client, bergen, name="Ola Nordmann", email="ola@bergen.kommune.example", password=None
    )
    assert response.status_code == 303 and response.headers["Location"] == "/me/"
    member = Member.by_email("ola@bergen.kommune.example")
    assert member.password_hash is None and member.email_verified_at is not None
    assert identities() == [(member.id, "ola-sub")]
    assert signed_in(client)["_user_id"].startswith(f"{member.id}:")
    assert "Ola Nordmann" in client.get("/me/").get_data(as_text=True)
    deliver()
    assert [m["To"] for m in mail_outbox] == ["per.leder@bergen.kommune.example"]  # the manager is asked

    other = app.test_client()  # next time: the stored subject signs them in
    assert other.get(through_provider(other, "ola-sub")).status_code == 303
    assert signed_in(other)["_user_id"].startswith(f"{member.id}:")


def test_an_address_the_provider_does_not_vouch_for_links_nobody(client, provider, kari):
    """``email_verified`` false: the address might be anyone's – no link, no sign-in."""
    provider.add_user("mallory", email=kari.email, email_verified=False)
    before = table_snapshot(ignore=("form_submissions", "provider_sign_ins"))

    response = client.get(through_provider(client, "mallory"))
    assert response.status_code == 403
    assert "gave us no e-mail address" in response.get_data(as_text=True).replace("\n", " ")
    assert "_user_id" not in signed_in(client) and identities() == []
    assert table_snapshot(ignore=("form_submissions", "provider_sign_ins")) == before


def test_entra_sends_no_email_verified_the_address_counts_only_when_configured(client, app, provider, kari):
    provider.add_user("entra-sub", email=kari.email, email_verified=None)
    response = client.get(through_provider(client, "entra-sub"))
    assert response.status_code == 403 and identities() == []

    app.config["OIDC_PROVIDERS"] = settings_for(provider, trust_email=True)
    other = app.test_client()
    assert other.get(through_provider(other, "entra-sub")).status_code == 303
    assert identities() == [(kari.id, "entra-sub")]


def test_entra_optional_claim_xms_edov_vouches_for_the_address(client, provider, kari):
    provider.add_user("entra-sub", email=kari.email, email_verified=None, extra={"xms_edov": True})
    assert client.get(through_provider(client, "entra-sub")).status_code == 303
    assert identities() == [(kari.id, "entra-sub")]


def test_a_signed_in_member_links_a_provider_that_gives_no_address(client, provider, kari):
    """ID-porten gives a national identity number and no address: sign in another way once, then
    with the provider – the account is linked to the member signed in."""
    provider.add_user("pid-01017012345", email=None)
    sign_in(client, kari.email)
    response = client.get(through_provider(client, "pid-01017012345"))
    assert response.status_code == 303
    assert identities() == [(kari.id, "pid-01017012345")]
    assert signed_in(client)["signed_in_with"] == "provider"


def test_a_signed_in_member_cannot_take_over_another_member_s_link(
    client, app, provider, kari, create_member, municipality
):
    provider.add_user("kari-sub", email=kari.email)
    other = app.test_client()
    other.get(through_provider(other, "kari-sub"))  # Kari's link
    ola = create_member(municipality("4601"), email="ola@bergen.kommune.example")
    sign_in(client, ola.email)
    before = table_snapshot(ignore=("form_submissions", "provider_sign_ins"))

    response = client.get(through_provider(client, "kari-sub"))
    assert response.status_code == 403 and "linked to another membership" in response.get_data(as_text=True)
    assert signed_in(client)["_user_id"].startswith(f"{ola.id}:")  # still Ola
    assert table_snapshot(ignore=("form_submissions", "provider_sign_ins")) == before


def test_a_member_linked_to_another_account_of_the_provider_is_refused(client, provider, kari):
    provider.add_user("first", email=kari.email)
    provider.add_user("second", email=kari.email)
    client.get(through_provider(client, "first"))
    other = client.application.test_client()
    before = table_snapshot(ignore=("form_submissions", "provider_sign_ins"))

    response = other.get(through_provider(other, "second"))
    assert response.status_code == 403 and "linked to another account" in response.get_data(as_text=True)
    assert "_user_id" not in signed_in(other)
    assert table_snapshot(ignore=("form_submissions", "provider_sign_ins")) == before


def test_a_member_who_has_not_confirmed_the_address_is_told_so_as_by_the_password_sign_in(
    client, provider, create_member, municipality
):
    pending = create_member(municipality("4601"), status="pending_email", email="ny@bergen.kommune.example")
    provider.add_user("ny-sub", email=pending.email)
    before = table_snapshot(ignore=("form_submissions", "provider_sign_ins"))

    response = client.get(through_provider(client, "ny-sub"))
    assert response.status_code == 403
    assert "You have not confirmed your e-mail address yet" in response.get_data(as_text=True)
    assert "_user_id" not in signed_in(client)
    assert table_snapshot(ignore=("form_submissions", "provider_sign_ins")) == before


# -- My page -----------------------------------------------------------------------------------------


def test_my_page_links_and_removes_the_link_once(client, provider, kari):
    provider.add_user("kari-sub", email=None)
    sign_in(client, kari.email)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = client.get("/me/").get_data(as_text=True)
    assert "Testleverandøren: not linked." in page and 'action="/sign-in/with/test"' in page

    response = client.get(through_provider(client, "kari-sub", next_url="/me/"))
    assert response.status_code == 303 and response.headers["Location"] == "/me/"
    page = client.get("/me/").get_data(as_text=True)
    assert "Testleverandøren: linked on" in page and 'action="/sign-in/with/test/unlink"' in page

    token = csrf_token_from(client.get("/me/"))
    assert client.post("/sign-in/with/test/unlink", data={"csrf_token": token}).status_code == 303
    assert identities() == []
    entry = db.session.scalar(select(AuditEntry).filter_by(action="member.provider_unlinked"))
    assert entry.member_id == kari.id and entry.actor_id == kari.id and entry.before == {"provider": "test"}
    before = table_snapshot()
    response = client.post("/sign-in/with/test/unlink", data={"csrf_token": token}, follow_redirects=True)
    assert "There is no link to Testleverandøren to remove." in response.get_data(as_text=True)
    assert table_snapshot() == before


def test_my_page_says_nothing_of_single_sign_on_while_none_is_configured(client, kari):
    sign_in(client, kari.email)
    assert 'id="provider-heading"' not in client.get("/me/").get_data(as_text=True)


# -- refusals: one clear page, nothing kept but the spent sign-in -----------------------------------


def refused_without_change(client, callback, status=400, text="Start again from the sign-in page"):
    """Follow ``callback``: refused with ``status`` and ``text``; no row changed but the begun
    sign-in, spent; nobody signed in."""
    before = table_snapshot(ignore=("form_submissions", "provider_sign_ins"))
    response = client.get(callback)
    assert response.status_code == status, response.status_code
    page = response.get_data(as_text=True)
    assert "Sign-in did not work" in page and text in page
    assert "_user_id" not in signed_in(client)
    assert table_snapshot(ignore=("form_submissions", "provider_sign_ins")) == before
    return page


@pytest.mark.parametrize(
    ("spoilt", "why"),
    [
        ("signature", "BadSignatureError"),
        ("payload", "BadSignatureError"),
        ("aud", "Invalid claim: 'aud'"),
        ("expired", "ExpiredTokenError"),
        ("nonce", "Invalid claim: 'nonce'"),
    ],
)
def test_a_spoilt_id_token_is_refused(client, provider, kari, spoilt, why, caplog):
    provider.add_user("kari-sub", email=kari.email)
    callback = through_provider(client, "kari-sub")
    provider.spoil_next(spoilt)

    refused_without_change(client, callback)
    assert identities() == []
    assert db.session.scalar(select(ProviderSignIn.used_at)) is not None  # spent all the same
    assert "the ID token was refused" in caplog.text and why in caplog.text


def test_a_replayed_state_is_refused(client, provider, kari, caplog):
    provider.add_user("kari-sub", email=kari.email)
    callback = through_provider(client, "kari-sub")
    assert client.get(callback).status_code == 303
    client.post("/sign-out", data={"csrf_token": csrf_token_from(client.get("/"))})

    refused_without_change(client, callback)
    assert "state used already" in caplog.text


def test_a_callback_in_another_browser_is_refused_and_leaves_the_sign_in_to_its_own(
    client, app, provider, kari, caplog
):
    provider.add_user("kari-sub", email=kari.email)
    callback = through_provider(client, "kari-sub")

    stranger = app.test_client()
    stranger.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    before = table_snapshot(ignore=("form_submissions",))
    response = stranger.get(callback)
    assert response.status_code == 400 and "Sign-in did not work" in response.get_data(as_text=True)
    assert table_snapshot(ignore=("form_submissions",)) == before  # not even spent
    assert "another browser" in caplog.text
    assert "_user_id" not in signed_in(stranger)

    assert client.get(callback).status_code == 303  # the browser that began it still can


def test_a_state_older_than_ten_minutes_is_refused(client, provider, kari, caplog):
    provider.add_user("kari-sub", email=kari.email)
    callback = through_provider(client, "kari-sub")
    with time_machine.travel(utcnow() + timedelta(minutes=11), tick=True):
        before = table_snapshot(ignore=("form_submissions",))
        response = client.get(callback)
        assert response.status_code == 400
        assert table_snapshot(ignore=("form_submissions",)) == before
    assert "state expired" in caplog.text


def test_a_callback_without_a_known_state_is_refused(client, provider):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    for query in ("", "?state=made-up&code=x"):
        refused_without_change(client, CALLBACK + query)


def test_the_provider_s_error_is_refused_with_a_clear_page(client, provider, kari, caplog):
    provider.add_user("kari-sub", email=kari.email)
    callback = through_provider(client, "kari-sub", decision="cancel")
    assert "error=access_denied" in callback

    refused_without_change(client, callback, text="You cancelled the sign-in")
    assert "access_denied" in caplog.text


def test_a_provider_that_does_not_answer_is_a_clear_page_and_no_row(client, app, provider):
    from tests.conftest import free_port

    app.config["OIDC_PROVIDERS"] = settings_for(provider, issuer=f"http://127.0.0.1:{free_port()}")
    before = table_snapshot(ignore=("form_submissions",))
    response = begin(client)
    assert response.status_code == 502
    assert "We could not reach Testleverandøren just now" in response.get_data(as_text=True)
    assert table_snapshot(ignore=("form_submissions",)) == before


def test_an_unknown_provider_is_not_found(client, provider):
    token = csrf_token_from(client.get("/sign-in"))
    assert client.post("/sign-in/with/nobody", data={"csrf_token": token}).status_code == 404
    assert client.get("/sign-in/with/nobody/callback?state=x&code=y").status_code == 404


def test_discovery_is_read_once_and_the_keys_again_when_the_key_id_is_new(client, app, provider, kari):
    provider.add_user("kari-sub", email=kari.email)
    assert client.get(through_provider(client, "kari-sub")).status_code == 303
    provider.rotate_key()
    other = app.test_client()
    assert other.get(through_provider(other, "kari-sub")).status_code == 303
    read = [path for path in provider.requests if path.endswith("openid-configuration") or path == "/jwks"]
    assert read == ["/.well-known/openid-configuration", "/jwks", "/jwks"]


def test_entra_multi_tenant_issuer_is_checked_against_the_token_s_tenant(client, app, provider, kari, caplog):
    provider.multi_tenant = True
    app.config["OIDC_PROVIDERS"] = settings_for(provider, trust_email=True)
    tenant = "9188040d-6c67-4c5b-b112-36a304b66dad"
    provider.add_user("entra-sub", email=kari.email, email_verified=None, extra={"tid": tenant})
    response = client.get(through_provider(client, "entra-sub"))
    assert response.status_code == 303 and identities() == [(kari.id, "entra-sub")]

    other = app.test_client()
    callback = through_provider(other, "entra-sub")
    provider.spoil_next("tid")  # the token's iss names another tenant than its tid
    refused_without_change(other, callback)
    assert "Invalid claim: 'iss'" in caplog.text


# -- two at once (PostgreSQL) ------------------------------------------------------------------------


def same_browser(client, app):
    """A second client with the first one's cookies: the same browser, another request."""
    twin = app.test_client()
    for cookie in (BROWSER_COOKIE, app.config["SESSION_COOKIE_NAME"]):
        found = client.get_cookie(cookie)
        if found is not None:
            twin.set_cookie(cookie, found.value)
    return twin


def test_the_same_callback_twice_at_once_signs_in_once(client, app, provider, kari, caplog):
    postgres_only(app)
    provider.add_user("kari-sub", email=kari.email)
    callback = through_provider(client, "kari-sub")
    twin = same_browser(client, app)

    responses = at_once(lambda wait, c: (wait(), c.get(callback))[1], [(client,), (twin,)])
    assert sorted(r.status_code for r in responses) == [303, 400]
    assert "state used already" in caplog.text  # the spent state decided, not the provider's spent code
    assert identities() == [(kari.id, "kari-sub")]
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEntry).filter_by(action="member.provider_linked")
        )
        == 1
    )


def test_two_sign_ins_at_once_link_one_identity(client, app, provider, kari):
    """Two tabs, each its own begun sign-in, coming back at the same moment: both sign in, one link."""
    postgres_only(app)
    provider.add_user("kari-sub", email=kari.email)
    first = through_provider(client, "kari-sub")
    second = through_provider(client, "kari-sub")
    twin = same_browser(client, app)

    responses = at_once(lambda wait, c, url: (wait(), c.get(url))[1], [(client, first), (twin, second)])
    assert [r.status_code for r in responses] == [303, 303]
    assert identities() == [(kari.id, "kari-sub")]
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEntry).filter_by(action="member.provider_linked")
        )
        == 1
    )


# -- configuration -----------------------------------------------------------------------------------


def test_none_configured_by_default_and_each_read_from_the_environment(app):
    assert oidc_providers({}) == []
    (entra,) = oidc_providers(
        {
            "OIDC_PROVIDERS": "Entra",
            "OIDC_ENTRA_ISSUER": "https://login.microsoftonline.com/organizations/v2.0",
            "OIDC_ENTRA_CLIENT_ID": "abc",
            "OIDC_ENTRA_CLIENT_SECRET": "s3cret",
            "OIDC_ENTRA_DISPLAY_NAME": "Jobbkonto (Microsoft)",
            "OIDC_ENTRA_TRUST_AMR": "mfa, ngcmfa",
            "OIDC_ENTRA_TRUST_EMAIL": "true",
        }
    )
    assert entra["name"] == "entra" and entra["scopes"] == "openid email profile"
    assert (
        entra["trust_amr"] == ["mfa", "ngcmfa"] and entra["trust_acr"] == [] and entra["trust_email"] is True
    )
    assert entra["display_name"] == "Jobbkonto (Microsoft)"
    check_oidc_providers([entra], production=True)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"OIDC_X_ISSUER": "http://idp.example"}, "https"),
        ({"OIDC_X_CLIENT_ID": ""}, "CLIENT_ID"),
        ({"OIDC_X_SCOPES": "email profile"}, "openid"),
        ({"OIDC_PROVIDERS": "x,x"}, "each once"),
        ({"OIDC_PROVIDERS": "x/y"}, "usable name"),
    ],
)
def test_production_refuses_an_unusable_provider(changes, says):
    environ = {
        "OIDC_PROVIDERS": "x",
        "OIDC_X_ISSUER": "https://idp.example",
        "OIDC_X_CLIENT_ID": "id",
        **changes,
    }
    with pytest.raises(RuntimeError, match=says):
        check_oidc_providers(oidc_providers(environ), production=True)
