"""Absolute links are made from ``BASE_URL`` (``models.outbox.link``), never from the request's
``Host`` header: a request sent with a forged Host gets pages, redirects and mails whose links all
point at the app's own address."""

import re

import pytest

from tests.conftest import links_in, sign_in

BASE_URL = "https://nettverk.example"
EVIL = {"Host": "evil.example"}


@pytest.fixture
def app(app_factory):
    app = app_factory(BASE_URL=BASE_URL)
    with app.app_context():
        yield app


def sign_in_at_evil(app, client, email):
    """Sign in, and let the client send its cookies to the forged host as well."""
    sign_in(client, email)
    for name in (app.config["SESSION_COOKIE_NAME"], "remember_token"):
        cookie = client.get_cookie(name)
        if cookie:
            client.set_cookie(name, cookie.value, domain="evil.example")


def test_the_calendar_feed_address_on_my_page_is_made_from_base_url(app, client, create_member, municipality):
    member = create_member(municipality("4601"))
    sign_in_at_evil(app, client, member.email)
    page = client.get("/me/", headers=EVIL)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    feed = re.search(r'id="feed-url"[^>]*value="([^"]+)"', html).group(1)
    assert feed.startswith(f"{BASE_URL}/meetings/calendar/") and feed.endswith(".ics")
    assert "evil.example" not in html


def test_mails_sent_from_a_request_with_a_forged_host_link_to_base_url(
    client, create_member, municipality, deliver, mail_outbox
):
    member = create_member(municipality("4601"))
    token = re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"',
        client.get("/reset-password", headers=EVIL).get_data(as_text=True),
    ).group(1)
    response = client.post("/reset-password", data={"email": member.email, "csrf_token": token}, headers=EVIL)
    assert response.status_code == 200
    deliver()
    links = links_in(mail_outbox[0])
    assert links and all(link.startswith(BASE_URL + "/") for link in links), links
    assert "evil.example" not in mail_outbox[0].as_string()


def test_no_page_or_redirect_carries_a_forged_host(app, client, create_coordinator):
    """Every page without arguments, for a coordinator, asked for with a forged Host."""
    coordinator = create_coordinator("NIK")
    sign_in_at_evil(app, client, coordinator.email)
    paths = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static"
    )
    assert len(paths) > 20
    assert "Koordinator" in client.get("/", headers=EVIL).get_data(as_text=True)  # signed in there
    for path in paths:
        response = client.get(path, headers=EVIL)
        assert response.status_code < 500, path
        assert "evil.example" not in response.get_data(as_text=True), path
        assert "evil.example" not in response.headers.get("Location", ""), path
    # A signed-out visitor sent to the sign-in page keeps a relative address too.
    response = app.test_client().get("/me/", headers=EVIL)
    assert response.status_code == 302 and "evil.example" not in response.headers["Location"]
