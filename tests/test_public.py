"""The front page, languages, error pages and the headers every response carries."""

import pytest

from tests.conftest import csrf_token_from
from tests.helpers import says


def test_the_front_page_says_what_the_three_networks_are(client):
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="nb"' in page
    for text in (
        "Norsk nettverk for innvandrerhelse i kommuner",
        "Norsk nettverk for innvandrerhelse i ideell og frivillig sektor",
        "Norsk nettverk for migrantvennlige sykehus",
        "357 kommuner og 15 fylkeskommuner",
        "2 nettverksmøter i året, opptil 4 fagmøter.",
        "2 observatører",
    ):
        assert text in page


def test_the_layout_has_a_skip_link_landmarks_and_local_htmx(client):
    page = client.get("/").get_data(as_text=True)
    assert '<a class="skip-link" href="#main">Hopp til hovedinnholdet</a>' in page
    assert '<main id="main"' in page and "<header" in page and "<footer" in page and "<nav" in page
    assert "/static/vendor/htmx-2.0.11.min.js" in page
    assert "http" not in page.split("<script")[1].split(">")[0]  # no CDN
    with client.get("/static/vendor/htmx-2.0.11.min.js") as response:
        assert response.status_code == 200


def test_every_response_carries_the_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # production only
    assert "<script>" not in response.get_data(as_text=True)


def test_production_adds_hsts(app_factory):
    app = app_factory(TESTING=False, ENV_NAME="production", BASE_URL="https://nettverk.example")
    response = app.test_client().get("/")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_english_is_chosen_by_the_browser_or_by_the_reader(client):
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en"' in page and "Norwegian network for immigrant health in municipalities" in page
    nynorsk = client.get("/", headers={"Accept-Language": "nn, nb;q=0.8"}).get_data(as_text=True)
    assert '<html lang="nn"' in nynorsk and says(nynorsk, "Migrasjonshelsenettverka")
    token = csrf_token_from(client.get("/"))
    response = client.post(
        "/language", data={"locale": "en", "next": "/organisations/?q=4601", "csrf_token": token}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/organisations/?q=4601"
    assert says(client.get("/organisations/?q=4601").get_data(as_text=True), "1 organisation found")


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"]
)
def test_the_language_switch_never_redirects_off_site(client, target):
    token = csrf_token_from(client.get("/"))
    response = client.post("/language", data={"locale": "en", "next": target, "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_a_post_without_csrf_token_is_refused_with_a_clear_message(client):
    response = client.post("/language", data={"locale": "en"})
    assert response.status_code == 400
    assert "ingenting ble lagret" in response.get_data(as_text=True)


def test_the_language_switch_accepts_only_post(client):
    assert client.get("/language").status_code == 405


def test_a_missing_page_gets_a_norwegian_404(client):
    response = client.get("/finnes-ikke")
    assert response.status_code == 404
    assert "Fant ikke siden" in response.get_data(as_text=True)
