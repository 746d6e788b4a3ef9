"""The second factor for coordinators (issue 23): set-up with a QR code, the code asked at sign-in
(once per code), recovery codes (once each; new ones void the old), turning it off, the grace
period and the gate on coordinator pages, the budgets for wrong codes."""

import re
from datetime import timedelta

import pyotp
import pytest
import time_machine
from sqlalchemy import select

from extensions import db
from models import AuditEntry, OutboxMessage
from models import second_factor as factor
from models.sign_in import RecoveryCode
from models.types import utcnow
from tests.conftest import (
    PASSWORD,
    csrf_token_from,
    post,
    postgres_only,
    sign_in,
    table_snapshot,
    twice_at_once,
)

CODES = re.compile(r"<code>([A-Z2-7]{5}-[A-Z2-7]{5})</code>")


def turn_on(member):
    """The factor on for ``member`` as the set-up leaves it, confirmed a minute ago (so the app's
    code of now has not been used); returns (secret, recovery codes)."""
    earlier = utcnow() - timedelta(minutes=1)
    secret = factor.begin(member)
    codes = factor.confirm(member, pyotp.TOTP(secret).at(earlier), now=earlier)
    db.session.commit()
    return secret, codes


def now_code(secret):
    return pyotp.TOTP(secret).now()


def wrong(code):
    return f"{(int(code) + 1) % 1_000_000:06d}"


def code_page(client, next_url=None):
    return "/sign-in/code" + (f"?next={next_url}" if next_url else "")


def signed_in_with_code(client, member, secret, next_url="/coordinator/"):
    response = sign_in_to(client, member, next_url)
    assert response.status_code == 303 and response.headers["Location"].startswith("/sign-in/code")
    done = post(
        client,
        response.headers["Location"],
        {"code": now_code(secret), "next": next_url},
        page=response.headers["Location"],
    )
    assert done.status_code == 303 and done.headers["Location"] == next_url
    return done


def sign_in_to(client, member, next_url="/coordinator/", remember=False):
    token = csrf_token_from(client.get(f"/sign-in?next={next_url}"))
    data = {"email": member.email, "password": PASSWORD, "next": next_url, "csrf_token": token}
    if remember:
        data["remember"] = "y"
    return client.post("/sign-in", data=data)


def row(member):
    db.session.expire_all()
    return db.session.get(type(member), member.id)


def unused_hashes(member):
    db.session.expire_all()
    return set(
        db.session.scalars(
            select(RecoveryCode.code_hash).where(
                RecoveryCode.member_id == member.id, RecoveryCode.used_at.is_(None)
            )
        )
    )


def audited(action):
    return db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()


def mails_to(member):
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == member.email)).all()


# -- set-up -------------------------------------------------------------------------------------------


def test_set_up_shows_a_qr_code_and_only_a_right_code_turns_it_on(app, client, create_coordinator):
    coordinator = create_coordinator("NIK")
    sign_in(client, coordinator.email)
    page = client.get("/me/two-factor")
    assert page.status_code == 200 and "/me/two-factor/begin" in page.get_data(as_text=True)

    begun = post(client, "/me/two-factor/begin", page="/me/two-factor")
    assert begun.status_code == 303 and begun.headers["Location"].startswith("/me/two-factor/set-up")
    secret = row(coordinator).totp_secret
    assert secret and row(coordinator).totp_confirmed_at is None  # kept, unconfirmed
    again = post(client, "/me/two-factor/begin", page="/me/two-factor")  # a second click: the same secret
    assert again.status_code == 303 and row(coordinator).totp_secret == secret

    shown = client.get("/me/two-factor/set-up")
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200
    assert 'src="data:image/svg+xml' in html and 'class="qr-code"' in html and 'alt="' in html
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in html  # in groups, to type
    assert "otpauth://" in factor.provisioning_uri(row(coordinator))
    assert "issuer=Helsedirektoratet" in factor.provisioning_uri(row(coordinator))
    assert "<script" not in html.split("</head>")[1] and "style=" not in html

    before = table_snapshot()
    refused = post(
        client, "/me/two-factor/set-up", {"code": wrong(now_code(secret))}, page="/me/two-factor/set-up"
    )
    assert refused.status_code == 422 and 'id="code-error"' in refused.get_data(as_text=True)
    assert "That code is not right" in refused.get_data(as_text=True) or "ikke riktig" in refused.get_data(
        as_text=True
    )
    assert table_snapshot() == before

    confirmed = post(
        client, "/me/two-factor/set-up", {"code": now_code(secret)}, page="/me/two-factor/set-up"
    )
    assert confirmed.status_code == 200
    codes = CODES.findall(confirmed.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    member = row(coordinator)
    assert member.totp_confirmed_at is not None and member.totp_secret == secret
    assert unused_hashes(coordinator) == {factor.recovery_hash(c) for c in codes}  # stored hashed only
    assert not any(c.replace("-", "") in str(table_snapshot()) for c in codes)
    assert len(audited("second_factor.set_up")) == 1
    # The recovery codes are shown once: the status page does not show them again.
    assert not CODES.findall(client.get("/me/two-factor").get_data(as_text=True))


def test_only_coordinators_set_it_up(app, client, create_member, municipality):
    member = create_member(municipality("4601"))
    sign_in(client, member.email)
    before = table_snapshot()
    assert client.get("/me/two-factor").status_code == 403
    assert post(client, "/me/two-factor/begin", page="/me/").status_code == 403
    assert table_snapshot() == before


def test_a_coordinator_made_by_another_gets_the_grace_period(app, create_coordinator):
    from models import Network, coordinators

    boss = create_coordinator("NIK")
    nik = db.session.scalar(select(Network).filter_by(code="NIK"))
    member, _created = coordinators.appoint("ny.koordinator@helsedir.example", [nik], "Ny Koordinator", boss)
    db.session.commit()
    due = row(member).second_factor_due_at
    assert due is not None and timedelta(days=13) < due - utcnow() <= timedelta(days=14)


# -- the code at sign-in -------------------------------------------------------------------------------


def test_sign_in_asks_for_the_code_and_a_code_works_once(app, create_coordinator):
    coordinator = create_coordinator("NIK")
    secret, _codes = turn_on(coordinator)
    client = app.test_client()
    response = sign_in_to(client, coordinator, "/coordinator/outbox")
    assert response.status_code == 303
    assert response.headers["Location"] == "/sign-in/code?next=/coordinator/outbox"
    # Not past the code yet: a coordinator page sends the browser back to it.
    gated = client.get("/coordinator/")
    assert gated.status_code == 302 and gated.headers["Location"].startswith(
        "/sign-in/code?next=/coordinator/"
    )
    assert client.get("/me/").status_code == 200  # the member's own pages do not ask

    before = table_snapshot()
    refused = post(
        client,
        code_page(client, "/coordinator/outbox"),
        {"code": wrong(now_code(secret))},
        page="/sign-in/code",
    )
    assert refused.status_code == 422 and 'id="code-error"' in refused.get_data(as_text=True)
    assert table_snapshot() == before

    code = now_code(secret)
    done = post(client, "/sign-in/code", {"code": code, "next": "/coordinator/outbox"}, page="/sign-in/code")
    assert done.status_code == 303 and done.headers["Location"] == "/coordinator/outbox"
    assert client.get("/coordinator/").status_code == 200
    assert client.get("/sign-in/code").status_code == 302  # shown already: nothing more to ask

    other = app.test_client()  # the same code, in another browser that has the password
    assert sign_in_to(other, coordinator).status_code == 303
    before = table_snapshot()
    replayed = post(other, "/sign-in/code", {"code": code}, page="/sign-in/code")
    assert replayed.status_code == 422 and table_snapshot() == before
    assert other.get("/coordinator/").status_code == 302


def test_the_same_code_twice_at_once_signs_in_once(app, create_coordinator):
    postgres_only(app)
    coordinator = create_coordinator("NIK")
    secret, _codes = turn_on(coordinator)
    clients = [app.test_client(), app.test_client()]
    for client in clients:
        assert sign_in_to(client, coordinator).status_code == 303
    responses = twice_at_once(clients, "/sign-in/code", {"code": now_code(secret)}, page="/sign-in/code")
    assert sorted(r.status_code for r in responses) == [303, 422]
    assert sorted(c.get("/coordinator/").status_code for c in clients) == [200, 302]


def test_a_recovery_code_works_once_and_tells_the_member(app, create_coordinator):
    coordinator = create_coordinator("NIK")
    _secret, codes = turn_on(coordinator)
    client = app.test_client()
    assert sign_in_to(client, coordinator).status_code == 303
    typed = codes[3].lower().replace("-", " ")  # as someone might type it
    done = post(client, "/sign-in/code", {"code": typed, "next": "/coordinator/"}, page="/sign-in/code")
    assert done.status_code == 303 and client.get("/coordinator/").status_code == 200
    assert len(unused_hashes(coordinator)) == 9
    assert len(audited("second_factor.recovery_used")) == 1
    mails = mails_to(coordinator)
    assert len(mails) == 1 and "reservekode" in mails[0].subject.lower()  # bokmål: the member's

    other = app.test_client()
    assert sign_in_to(other, coordinator).status_code == 303
    before = table_snapshot()
    again = post(other, "/sign-in/code", {"code": codes[3]}, page="/sign-in/code")
    assert again.status_code == 422 and table_snapshot() == before


def test_one_recovery_code_twice_at_once_signs_in_once(app, create_coordinator):
    postgres_only(app)
    coordinator = create_coordinator("NIK")
    _secret, codes = turn_on(coordinator)
    clients = [app.test_client(), app.test_client()]
    for client in clients:
        assert sign_in_to(client, coordinator).status_code == 303
    responses = twice_at_once(clients, "/sign-in/code", {"code": codes[0]}, page="/sign-in/code")
    assert sorted(r.status_code for r in responses) == [303, 422]
    assert len(unused_hashes(coordinator)) == 9 and len(mails_to(coordinator)) == 1


def test_new_recovery_codes_void_the_old_ones(app, create_coordinator):
    coordinator = create_coordinator("NIK")
    secret, old = turn_on(coordinator)
    client = app.test_client()
    # Without the factor shown in this session, no new codes: the password alone must not make them.
    assert sign_in_to(client, coordinator).status_code == 303
    before = table_snapshot()
    asked = post(client, "/me/two-factor/recovery-codes", page="/me/two-factor")
    assert asked.status_code == 303 and asked.headers["Location"].startswith("/sign-in/code")
    assert table_snapshot() == before

    assert post(client, "/sign-in/code", {"code": now_code(secret)}, page="/sign-in/code").status_code == 303
    made = post(client, "/me/two-factor/recovery-codes", page="/me/two-factor")
    new = CODES.findall(made.get_data(as_text=True))
    assert made.status_code == 200 and len(new) == 10 and not set(new) & set(old)
    assert unused_hashes(coordinator) == {factor.recovery_hash(c) for c in new}
    assert len(audited("second_factor.recovery_codes_renewed")) == 1

    other = app.test_client()
    assert sign_in_to(other, coordinator).status_code == 303
    assert post(other, "/sign-in/code", {"code": old[0]}, page="/sign-in/code").status_code == 422
    assert post(other, "/sign-in/code", {"code": new[0]}, page="/sign-in/code").status_code == 303


def test_new_recovery_codes_twice_at_once_leave_ten(app, create_coordinator):
    postgres_only(app)
    coordinator = create_coordinator("NIK")
    secret, _old = turn_on(coordinator)
    client = app.test_client()
    assert sign_in_to(client, coordinator).status_code == 303
    assert post(client, "/sign-in/code", {"code": now_code(secret)}, page="/sign-in/code").status_code == 303
    responses = twice_at_once([client, client], "/me/two-factor/recovery-codes", page="/me/two-factor")
    assert [r.status_code for r in responses] == [200, 200]
    shown = [{factor.recovery_hash(c) for c in CODES.findall(r.get_data(as_text=True))} for r in responses]
    assert unused_hashes(coordinator) in shown  # the last made: ten, and no more


# -- off ---------------------------------------------------------------------------------------------


def test_turning_it_off_asks_for_a_right_code_and_tells_the_member(app, create_coordinator):
    coordinator = create_coordinator("NIK")
    secret, _codes = turn_on(coordinator)
    client = app.test_client()
    signed_in_with_code(client, coordinator, secret)
    with time_machine.travel(utcnow() + timedelta(seconds=31), tick=True):  # the next code
        before = table_snapshot()
        refused = post(
            client,
            "/me/two-factor/off",
            {"code": wrong(now_code(secret)), "replace": "no"},
            page="/me/two-factor",
        )
        assert refused.status_code == 422 and 'id="code-error"' in refused.get_data(as_text=True)
        assert table_snapshot() == before
        off = post(
            client, "/me/two-factor/off", {"code": now_code(secret), "replace": "no"}, page="/me/two-factor"
        )
        assert off.status_code == 303
        member = row(coordinator)
        assert member.totp_secret is None and member.totp_confirmed_at is None
        assert unused_hashes(coordinator) == set()
        assert len(audited("second_factor.turned_off")) == 1 and len(mails_to(coordinator)) == 1
        again = post(
            client, "/me/two-factor/off", {"code": now_code(secret), "replace": "no"}, page="/me/two-factor"
        )
        assert again.status_code == 303 and len(mails_to(coordinator)) == 1


def test_moving_to_a_new_app_starts_a_new_set_up(app, create_coordinator):
    coordinator = create_coordinator("NIK")
    secret, codes = turn_on(coordinator)
    client = app.test_client()
    signed_in_with_code(client, coordinator, secret)
    moved = post(client, "/me/two-factor/off", {"code": codes[0], "replace": "yes"}, page="/me/two-factor")
    assert moved.status_code == 303 and moved.headers["Location"] == "/me/two-factor/set-up"
    member = row(coordinator)
    assert member.totp_secret not in (None, secret) and member.totp_confirmed_at is None
    assert len(audited("second_factor.replaced")) == 1
    assert len(mails_to(coordinator)) == 1  # the off mail; the recovery code's own is not sent too


# -- the grace period and the gate ----------------------------------------------------------------------


def test_within_the_grace_period_coordinator_pages_work_and_say_so(app, create_coordinator):
    coordinator = create_coordinator("NIK")
    client = app.test_client()
    response = sign_in_to(client, coordinator)
    assert response.status_code == 303 and response.headers["Location"] == "/coordinator/"  # nothing asked
    due = row(coordinator).second_factor_due_at
    assert due is not None and timedelta(days=13) < due - utcnow() <= timedelta(days=14)
    page = client.get("/coordinator/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "14 dager igjen" in html and "/me/two-factor" in html
    assert "14 dager" not in client.get("/me/").get_data(as_text=True)  # on coordinator pages only

    with time_machine.travel(utcnow() + timedelta(days=10), tick=True):
        assert "4 dager igjen" in client.get("/coordinator/").get_data(as_text=True)


def test_after_the_grace_period_coordinator_pages_send_to_the_set_up(app, create_coordinator):
    coordinator = create_coordinator("NIK")
    client = app.test_client()
    assert sign_in_to(client, coordinator).status_code == 303
    with time_machine.travel(utcnow() + timedelta(days=15), tick=True):
        gated = client.get("/coordinator/outbox")
        assert (
            gated.status_code == 302
            and gated.headers["Location"] == "/me/two-factor?next=/coordinator/outbox"
        )
        assert client.get("/me/two-factor").status_code == 200  # the set-up itself is open
        htmx = client.get("/coordinator/outbox", headers={"HX-Request": "true"})
        assert htmx.status_code == 403 and "/me/two-factor" in htmx.get_data(as_text=True)
        before = table_snapshot()
        refused = post(
            client,
            "/coordinator/teams/NIK/channel",
            {"url": "https://example.webhook.office.com/webhookb2/x"},
            page="/me/",
        )
        assert refused.status_code == 403 and table_snapshot() == before
        assert "/me/two-factor" in refused.get_data(as_text=True)
        # Signing in again now goes to the set-up at once.
        fresh = app.test_client()
        response = sign_in_to(fresh, coordinator)
        assert (
            response.status_code == 303
            and response.headers["Location"] == "/me/two-factor?next=/coordinator/"
        )
        # Once set up, the pages open.
        assert post(fresh, "/me/two-factor/begin", page="/me/two-factor").status_code == 303
        secret = row(coordinator).totp_secret
        confirmed = post(
            fresh, "/me/two-factor/set-up", {"code": now_code(secret)}, page="/me/two-factor/set-up"
        )
        assert confirmed.status_code == 200
        assert fresh.get("/coordinator/outbox").status_code == 200


def test_an_installation_that_does_not_demand_it_asks_only_those_who_set_it_up(app, create_coordinator):
    app.config["TWO_FACTOR_REQUIRED"] = False
    coordinator, other = create_coordinator("NIK"), create_coordinator("NIK")
    other.totp_secret, other.totp_confirmed_at = "JBSWY3DPEHPK3PXP", utcnow()
    db.session.commit()
    with time_machine.travel(utcnow() + timedelta(days=15), tick=True):
        client = app.test_client()
        assert sign_in_to(client, coordinator).headers["Location"] == "/coordinator/"
        page = client.get("/coordinator/outbox")
        assert page.status_code == 200 and "/me/two-factor" not in page.get_data(as_text=True)  # no notice
        other_client = app.test_client()
        response = sign_in_to(other_client, other)
        assert response.status_code == 303 and response.headers["Location"].startswith("/sign-in/code?next=")


def test_a_member_who_is_no_coordinator_is_never_asked(app, create_member, municipality):
    member = create_member(municipality("4601"))
    client = app.test_client()
    response = sign_in_to(client, member, "/me/")
    assert response.status_code == 303 and response.headers["Location"] == "/me/"
    assert row(member).second_factor_due_at is None
    with time_machine.travel(utcnow() + timedelta(days=20), tick=True):
        assert client.get("/me/").status_code == 200
        assert client.get("/directory/").status_code == 200
        assert client.get("/sign-in/code").status_code == 302  # nothing to ask: on to the page


def test_a_session_from_the_keep_me_signed_in_cookie_is_asked_again(app, create_coordinator):
    coordinator = create_coordinator("NIK")
    secret, _codes = turn_on(coordinator)
    client = app.test_client()
    assert sign_in_to(client, coordinator, remember=True).status_code == 303
    assert post(client, "/sign-in/code", {"code": now_code(secret)}, page="/sign-in/code").status_code == 303
    assert client.get("/coordinator/").status_code == 200
    # The browser is closed: the session cookie is gone, the long-lived one stays.
    later = app.test_client()
    later.set_cookie("remember_token", client.get_cookie("remember_token").value)
    assert later.get("/me/").status_code == 200  # signed in again by the cookie
    gated = later.get("/coordinator/")
    assert gated.status_code == 302 and gated.headers["Location"].startswith("/sign-in/code")


# -- budgets for wrong codes ----------------------------------------------------------------------------


@pytest.fixture
def limited(app, app_factory):
    """An app with the limits on (made after ``app``: the last app made sets the limiter)."""
    return app_factory(RATELIMIT_ENABLED=True)


def from_address(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_wrong_codes_are_counted_but_a_recovery_code_still_gets_in(limited, create_coordinator):
    coordinator = create_coordinator("NIK")
    secret, codes = turn_on(coordinator)
    stranger = from_address(limited, "203.0.113.9")  # has the password, guesses codes
    assert sign_in_to(stranger, coordinator).status_code == 303
    guess = wrong(now_code(secret))
    answers = [
        post(stranger, "/sign-in/code", {"code": guess}, page="/sign-in/code").status_code for _ in range(11)
    ]
    assert answers[:10] == [422] * 10 and answers[10] == 429
    refused = post(stranger, "/sign-in/code", {"code": now_code(secret)}, page="/sign-in/code")
    assert refused.status_code == 429  # not even a right code from here now
    assert stranger.get("/coordinator/").status_code == 302
    # The owner, elsewhere, is not locked out by the stranger's guesses.
    owner = from_address(limited, "198.51.100.7")
    assert sign_in_to(owner, coordinator).status_code == 303
    assert post(owner, "/sign-in/code", {"code": codes[0]}, page="/sign-in/code").status_code == 303


def test_a_session_that_showed_a_second_factor_elsewhere_is_not_asked(app, create_coordinator):
    """A provider sign-in whose ID token's ``amr`` is trusted starts the session with the second
    factor shown (``start_session(..., second_factor=True)``): nothing more is asked, even after the
    grace period and with the factor on."""
    coordinator = create_coordinator("NIK")
    turn_on(coordinator)
    client = app.test_client()
    assert sign_in_to(client, coordinator).status_code == 303
    with client.session_transaction() as session:
        session["second_factor"] = True  # what sessions.start_session records for such a sign-in
    with time_machine.travel(utcnow() + timedelta(days=15), tick=True):
        page = client.get("/coordinator/")
        assert page.status_code == 200 and "/me/two-factor" not in page.get_data(as_text=True)


def test_the_audit_log_says_what_was_done_in_words(app, client, create_coordinator):
    from flask_babel import force_locale

    from models import audit

    coordinator = create_coordinator("NIK")
    _secret, codes = turn_on(coordinator)
    assert sign_in_to(client, coordinator).status_code == 303
    assert post(client, "/sign-in/code", {"code": codes[0]}, page="/sign-in/code").status_code == 303
    (entry,) = audited("second_factor.recovery_used")
    with app.test_request_context(), force_locale("nb"):
        said = audit.sentence(entry)
    assert coordinator.name in said and "reservekode" in said and "9" in said


def test_set_up_twice_at_once_makes_one_secret_and_one_set_of_codes(app, create_coordinator):
    postgres_only(app)
    coordinator = create_coordinator("NIK")
    clients = [app.test_client(), app.test_client()]
    for client in clients:
        assert sign_in_to(client, coordinator, "/me/two-factor").status_code == 303
    begun = twice_at_once(clients, "/me/two-factor/begin", page="/me/two-factor")
    assert [r.status_code for r in begun] == [303, 303]
    secret = row(coordinator).totp_secret
    assert secret is not None
    pages = [c.get("/me/two-factor/set-up").get_data(as_text=True) for c in clients]
    assert all(factor.grouped(secret) in page for page in pages)  # both show the one secret kept
    confirmed = twice_at_once(
        clients, "/me/two-factor/set-up", {"code": now_code(secret)}, page="/me/two-factor/set-up"
    )
    assert sorted(r.status_code for r in confirmed) == [200, 422]
    (shown,) = [CODES.findall(r.get_data(as_text=True)) for r in confirmed if r.status_code == 200]
    assert unused_hashes(coordinator) == {factor.recovery_hash(c) for c in shown}
    assert len(audited("second_factor.set_up")) == 1


def test_turning_it_off_twice_at_once_turns_it_off_once(app, create_coordinator):
    postgres_only(app)
    coordinator = create_coordinator("NIK")
    _secret, codes = turn_on(coordinator)
    clients = [app.test_client(), app.test_client()]
    for client in clients:
        assert sign_in_to(client, coordinator, "/me/two-factor").status_code == 303
    data = {"code": codes[0], "replace": "no"}
    responses = twice_at_once(clients, "/me/two-factor/off", data, page="/me/two-factor")
    assert sorted(r.status_code for r in responses)[0] == 303 and all(r.status_code < 500 for r in responses)
    assert row(coordinator).totp_confirmed_at is None
    assert len(audited("second_factor.turned_off")) == 1 and len(mails_to(coordinator)) == 1


def test_the_mail_about_turning_it_off_is_in_the_members_written_form(app, create_coordinator):
    coordinator = create_coordinator("NIK", language="nn")
    _secret, codes = turn_on(coordinator)
    client = app.test_client()
    assert sign_in_to(client, coordinator, "/me/two-factor").status_code == 303
    off = post(client, "/me/two-factor/off", {"code": codes[0], "replace": "no"}, page="/me/two-factor")
    assert off.status_code == 303
    (mail,) = mails_to(coordinator)
    assert mail.subject == "Totrinnsinnlogginga di vart slått av" and "reservekodane" in mail.body_text


def test_an_operator_resets_the_factor_of_a_coordinator_who_lost_app_and_codes(
    app, runner, create_coordinator, mail_outbox, deliver
):
    coordinator = create_coordinator("NIK")
    coordinator.totp_secret, coordinator.totp_confirmed_at = "JBSWY3DPEHPK3PXP", utcnow()
    db.session.add(RecoveryCode(member_id=coordinator.id, code_hash="0" * 64))
    db.session.commit()
    result = runner.invoke(
        args=["second-factor", "reset", coordinator.email, "--reason", "Mistet telefonen; ringt opp"]
    )
    assert result.exit_code == 0, result.output
    member = row(coordinator)
    assert (member.totp_secret, member.totp_confirmed_at) == (None, None)
    assert not db.session.scalars(select(RecoveryCode.id)).all()
    entry = db.session.scalar(select(AuditEntry).filter_by(action="second_factor.turned_off"))
    assert entry.reason == "Mistet telefonen; ringt opp" and entry.actor_label == "flask second-factor reset"
    deliver()
    assert [m["To"] for m in mail_outbox] == [coordinator.email]
    # Again: nothing to remove, a clear refusal, nothing more mailed.
    again = runner.invoke(args=["second-factor", "reset", coordinator.email, "--reason", "x"])
    assert again.exit_code == 1 and "allerede slått av" in again.output
    assert (
        runner.invoke(args=["second-factor", "reset", "ingen@kommune.example", "--reason", "x"]).exit_code
        == 1
    )
