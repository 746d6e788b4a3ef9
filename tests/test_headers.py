"""Response headers: what a signed-in user gets and what a token opens is kept by no cache
(``Cache-Control: no-store``); every response denies the browser features no page uses
(``Permissions-Policy``); the existing headers stay."""

import re

from sqlalchemy import select

from extensions import db
from models import Member, tokens
from tests.conftest import links_in, post, sign_in

DENIED = ("camera", "microphone", "geolocation", "payment", "usb", "interest-cohort", "browsing-topics")


def denied_features(response):
    policy = response.headers.get("Permissions-Policy", "")
    return {item.split("=")[0].strip() for item in policy.split(",") if item.strip().endswith("=()")}


def test_every_response_denies_the_browser_features_no_page_uses(client, create_member, municipality):
    member = create_member(municipality("4601"))
    responses = [
        client.get("/"),
        client.get("/organisations/"),
        client.get("/no-such-page"),
        client.get("/sign-in"),
    ]
    sign_in(client, member.email)
    responses += [client.get("/"), client.get("/me/")]
    with client.get("/static/css/site.css") as static:
        responses.append(static)
    for response in responses:
        assert set(DENIED) <= denied_features(response), response.request.path
        # the headers that were there before stay
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_nothing_a_signed_in_user_gets_is_stored_by_a_cache(client, create_member, municipality):
    member = create_member(municipality("4601"))
    sign_in(client, member.email)
    responses = {
        "home": client.get("/"),
        "my page": client.get("/me/"),
        "a public page": client.get("/organisations/"),
        "an htmx fragment": client.get("/organisations/?q=a", headers={"HX-Request": "true"}),
        "the data export": client.get("/me/export.json"),
        "a page that is not there": client.get("/no-such-page"),
        "a form's answer": post(client, "/me/newsletter", {"subscribe": "no"}, page="/me/"),
    }
    for what, response in responses.items():
        assert response.headers.get("Cache-Control") == "no-store", what
    # Static files are the same for everyone: never no-store (the address with the file's current
    # fingerprint is kept for a year, tests/test_serving.py; this one is checked again each time).
    with client.get("/static/css/site.css") as response:
        assert response.cache_control.max_age == 0 and not response.cache_control.no_store


def test_pages_without_a_token_may_be_cached_for_visitors(client):
    for path in ("/", "/organisations/", "/sign-in"):
        assert "no-store" not in client.get(path).headers.get("Cache-Control", ""), path


def token_rules(app):
    return [rule for rule in app.url_map.iter_rules() if "token" in rule.arguments and "GET" in rule.methods]


def test_every_address_carrying_a_token_is_stored_by_no_cache(
    app, client, create_member, municipality, deliver, mail_outbox
):
    rules = token_rules(app)
    assert len(rules) >= 8  # verify, reset, anchoring, review answer, received, feed, e-mail, unsubscribe
    for rule in rules:  # a spoilt token: the refusal page
        path = re.sub(r"<token>", "not-a-valid-token", rule.rule)
        response = client.get(path)
        assert response.headers.get("Cache-Control") == "no-store", (path, response.status_code)

    # And valid ones, signed out: a password reset's page and the calendar feed.
    member = create_member(municipality("4601"))
    assert post(client, "/reset-password", {"email": member.email}, page="/reset-password").status_code == 200
    deliver()
    reset = links_in(mail_outbox[0])[0].removeprefix(app.config["BASE_URL"])
    response = client.get(reset)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    member = db.session.scalar(select(Member).filter_by(id=member.id))
    feed = tokens.make("calendar_feed", member=member.id, version=member.auth_version)
    response = client.get(f"/meetings/calendar/{feed}.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert response.headers["Cache-Control"] == "no-store"
