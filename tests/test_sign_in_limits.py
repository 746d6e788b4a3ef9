"""Sign-in that tells no one who is registered, limits that a stranger cannot turn against the
owner, and a budget on every action that sends mail on someone's behalf."""

import statistics
import time

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from blueprints.auth import limits
from extensions import db
from models import Member, OutboxMessage
from tests.conftest import PASSWORD, csrf_token_from, links_in, post, sign_in
from tests.helpers import path_of

WRONG = "feil passord her"
NEW_PASSWORD = "en helt ny og lang frase"


def from_address(app, address, **headers):
    """A browser at another client address (what ``request.remote_addr`` says)."""
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": address, **{f"HTTP_{k}": v for k, v in headers.items()}})
    return client


def mails():
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


# -- constant time -------------------------------------------------------------------------------


def test_an_unknown_address_costs_as_long_as_a_wrong_password(app_factory, create_member, municipality):
    """With the real hash (scrypt): the median of 20 tries each; an unknown address must take at
    least half as long as a known one with a wrong password (before: ~25 ms against ~350 ms)."""
    member = create_member(municipality("4601"))
    app = app_factory(PASSWORD_HASH_METHOD="scrypt")
    with app.app_context():
        db.session.execute(
            db.update(Member)
            .where(Member.id == member.id)
            .values(password_hash=generate_password_hash(PASSWORD, "scrypt"))
        )
        db.session.commit()
    client = app.test_client()
    token = csrf_token_from(client.get("/sign-in"))

    def timed(email):
        start = time.perf_counter()
        response = client.post("/sign-in", data={"email": email, "password": WRONG, "csrf_token": token})
        assert response.status_code == 422
        return time.perf_counter() - start

    timed(member.email), timed("ingen@kommune.example")  # warm both paths
    known = statistics.median(timed(member.email) for _ in range(20))
    unknown = statistics.median(timed("ingen@kommune.example") for _ in range(20))
    print(
        f"\nsign-in median: known address, wrong password {known * 1000:.1f} ms; "
        f"unknown address {unknown * 1000:.1f} ms"
    )
    assert unknown >= 0.5 * known, (known, unknown)


# -- sign-in limits --------------------------------------------------------------------------------


@pytest.fixture
def limited(app, app_factory):
    """An app with the limits on.  Made after ``app``: the limiter is one object, and the last app
    made sets whether it is on (and gives it fresh counters)."""
    return app_factory(RATELIMIT_ENABLED=True)


def test_a_stranger_guessing_cannot_lock_the_owner_out(limited, create_member, municipality):
    member = create_member(municipality("4601"))
    stranger = from_address(limited, "203.0.113.9")
    codes = [sign_in(stranger, member.email, WRONG).status_code for _ in range(12)]
    assert codes[:10] == [422] * 10 and codes[10:] == [429, 429]
    refused = sign_in(stranger, member.email)  # the right password, from the guesser's machine
    assert refused.status_code == 429 and "For mange forsøk" in refused.get_data(as_text=True)
    owner = from_address(limited, "198.51.100.7")
    assert sign_in(owner, member.email).status_code == 303
    db.session.expire_all()
    assert db.session.get(Member, member.id).last_sign_in_at is not None


def test_successful_sign_ins_count_against_no_limit(limited, create_member, municipality):
    member = create_member(municipality("4601"))
    client = limited.test_client()
    for _ in range(15):
        assert sign_in(client, member.email).status_code == 303
        assert post(client, "/sign-out", page="/me/").status_code == 303


def test_when_no_limit_is_left_the_password_is_not_checked(limited, create_member, municipality):
    member = create_member(municipality("4601"))
    client = limited.test_client()
    for _ in range(10):
        sign_in(client, member.email, WRONG)
    response = sign_in(client, member.email)
    assert response.status_code == 429 and "Glemt passordet?" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Member, member.id).last_sign_in_at is None


def test_guessing_from_many_machines_stops_password_sign_in_but_the_reset_link_gets_the_owner_in(
    limited, create_member, municipality, deliver, mail_outbox
):
    member = create_member(municipality("4601"))
    for n in range(10):
        guesser = from_address(limited, f"203.0.113.{n + 1}")
        assert [sign_in(guesser, member.email, WRONG).status_code for _ in range(5)] == [422] * 5
    owner = from_address(limited, "198.51.100.7")
    assert sign_in(owner, member.email).status_code == 429  # 50 failures an hour for the account
    assert post(owner, "/reset-password", {"email": member.email}, page="/reset-password").status_code == 200
    deliver()
    url = path_of(links_in(mail_outbox[-1])[0])
    response = post(owner, url, {"password": NEW_PASSWORD}, page=url)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert owner.get("/me/").status_code == 200  # the link signed the owner in


def test_behind_trusted_proxies_each_client_has_its_own_budget(app, app_factory, create_member, municipality):
    member = create_member(municipality("4601"))
    app = app_factory(RATELIMIT_ENABLED=True, TRUSTED_PROXIES=1)
    stranger = from_address(app, "10.0.0.2", X_FORWARDED_FOR="203.0.113.9")
    for _ in range(10):
        sign_in(stranger, member.email, WRONG)
    assert sign_in(stranger, member.email).status_code == 429
    owner = from_address(app, "10.0.0.2", X_FORWARDED_FOR="198.51.100.7")  # the same proxy
    assert sign_in(owner, member.email).status_code == 303


def test_without_trusted_proxies_a_forged_forwarded_for_changes_nothing(limited, create_member, municipality):
    member = create_member(municipality("4601"))
    for n in range(10):
        sign_in(from_address(limited, "203.0.113.9", X_FORWARDED_FOR=f"192.0.2.{n}"), member.email, WRONG)
    forged = from_address(limited, "203.0.113.9", X_FORWARDED_FOR="192.0.2.200")
    assert sign_in(forged, member.email).status_code == 429


def test_trusted_proxies_come_from_the_environment():
    from config import from_environment

    assert from_environment({})["TRUSTED_PROXIES"] == 0
    assert from_environment({"TRUSTED_PROXIES": "2"})["TRUSTED_PROXIES"] == 2


# -- mail budgets ----------------------------------------------------------------------------------


def test_reset_and_confirmation_mails_to_one_address_are_limited_and_the_page_says_the_same(
    limited, create_member, municipality, deliver, mail_outbox
):
    member = create_member(municipality("4601"))
    pages = []
    for n in range(5):  # from five machines, as a stranger flooding the owner would
        client = from_address(limited, f"203.0.113.{n + 1}")
        pages.append(post(client, "/reset-password", {"email": member.email}, page="/reset-password"))
    assert {p.status_code for p in pages} == {200} and len(
        {p.get_data(as_text=True).split("<main")[1].split("</main>")[0] for p in pages}
    ) == 1
    deliver()
    assert len(mail_outbox) == 3  # 3 an hour to one address


def test_a_main_contact_can_send_20_invitations_a_day_and_no_more(limited, create_member, municipality):
    from tests.helpers import nik, page_of

    bergen = municipality("4601")
    kari = create_member(bergen)
    nik(kari).make_main_contact()
    db.session.commit()
    client = limited.test_client()
    sign_in(client, kari.email)
    url = f"{page_of(bergen)}/NIK/invite"
    for n in range(20):
        response = post(
            client,
            url,
            {"email": f"kollega{n}@bergen.kommune.example", "message": "Bli med!"},
            page=page_of(bergen),
        )
        assert response.status_code == 303
    assert mails() == 20
    refused = post(
        client, url, {"email": "en.til@bergen.kommune.example", "message": "Bli med!"}, page=page_of(bergen)
    )
    assert refused.status_code == 429 and mails() == 20


# POST endpoints that send no mail on a signed-in member's behalf (anonymous forms with their own
# limits, links with a token that works once, or no mail at all).  A new POST endpoint must be
# put here or in ``limits.ON_BEHALF``.
NO_MEMBER_MAIL = {
    "auth.sign_in",
    "auth.sign_out",
    "auth.forgot_password",
    "auth.request_sign_in_link",  # anonymous: per client, and per address (limits.MAIL_TO_ADDRESS)
    "auth.sign_in_by_link",  # a token, used once
    "auth.resend_verification",  # anonymous, limited above
    "auth.reset_password",
    "auth.verify_email",
    "auth.welcome",  # a token, used once
    "auth.provider_sign_in",  # single sign-on begun: no mail
    "auth.provider_unlink",  # My page: a link to a provider removed, no mail
    # The second factor: mail only to the member themself – a recovery code used (ten at most), the
    # factor turned off – and never refused for a spent mail budget (it is how one signs in).
    "auth.sign_in_code",
    "auth.two_factor_begin",
    "auth.two_factor_set_up",
    "auth.two_factor_recovery_codes",
    "auth.two_factor_off",
    "reviews.come_back",  # a token; the restore it makes works once, and sends nothing
    "account.confirm_email",
    "anchorings.decide",  # a token, used once
    "meetings.acknowledge",
    "reviews.answer",
    "newsletters.unsubscribe",  # a token; no mail
    "newsletters.one_click",  # a token (RFC 8058's POST); no mail
    "registration.register_page",
    "registration.check_field",  # anonymous: per client, owner warned once a window
    "account.delete",
    "account.leave",
    "account.newsletter",
    "advice.show",
    "emergencies.share_package",
    "directory.visibility",
    "emergencies.new",  # an emergency opened: no mail (a call-in within it is meetings.new)
    "emergencies.close",  # no mail
    "emergencies.report_signal",  # a signal: no mail (the coordinators see it on the board)
    "emergencies.handle_signal",  # the board: a signal marked, no mail
    "emergencies.merge_signal",  # the board: a duplicate merged, no mail
    "meetings.attendance",
    "meetings.minutes",
    "meetings.withdraw",
    "newsletters.edit",
    "newsletters.edit_input",
    "newsletters.new",
    "newsletters.submit_input",
    "newsletters.withdraw",
    "organisations.edit",
    "organisations.manage",
    "organisations.set_active",
    "organisations.written_form",
    "public.set_language",
    "reviews.close",
    "reviews.new_mandate",
    "reviews.restore",
    "reviews.take_me_back",
    "topics.propose",
    "topics.support",
    "coordinator.teams_channel",
    "coordinator.teams_mark",
    "coordinator.audit_log",  # a search
}


def post_endpoints(app):
    return {rule.endpoint: rule for rule in app.url_map.iter_rules() if "POST" in rule.methods}


def test_every_post_endpoint_is_known_to_send_mail_for_a_member_or_not(app):
    endpoints = set(post_endpoints(app))
    assert endpoints - set(limits.ON_BEHALF) - NO_MEMBER_MAIL == set(), "classify the new endpoint"
    assert set(limits.ON_BEHALF) - endpoints == set() and NO_MEMBER_MAIL & set(limits.ON_BEHALF) == set()


@pytest.mark.parametrize("endpoint", sorted(limits.ON_BEHALF))
def test_a_member_whose_mail_budget_is_spent_is_refused_before_anything_happens(
    limited, create_coordinator, endpoint
):
    coordinator = create_coordinator("NIK", "NIFS", "NONEMI")
    client = limited.test_client()
    sign_in(client, coordinator.email)
    with limited.test_request_context():
        for _ in range(30):
            limits.MEMBER_MAIL.spend(coordinator.id)
    rule = post_endpoints(limited)[endpoint]
    words = {
        "code": "NIK",
        "answer": "accept",
        "decision": "apply" if endpoint == "coordinator.decide_change" else "accept",
    }
    values = {arg: words.get(arg, 1) for arg in rule.arguments}
    with limited.test_request_context():
        from flask import url_for

        url = url_for(endpoint, **values)
    before = mails()
    response = post(client, url, {"email": "x@kommune.example"}, page="/")
    assert response.status_code == 429 and mails() == before
