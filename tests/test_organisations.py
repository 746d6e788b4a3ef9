"""The public organisation directory: active search, as htmx fragment and as a plain form."""

import pytest

from tests.helpers import says

HTMX = {
    "HX-Request": "true",
    "HX-Target": "organisation-results",
    "HX-Current-URL": "http://localhost/organisations/",
}


def rows(response):
    return response.get_data(as_text=True).count('<th scope="row">')


def test_the_directory_lists_organisations_with_their_active_member_counts(
    client, create_member, municipality
):
    bergen = municipality("4601")
    create_member(bergen, name="Kari Nordmann", email="kari@bergen.kommune.no")
    create_member(bergen, networks=("NIK",), status="pending_anchoring", name="Ola Nordmann")
    response = client.get("/organisations/?q=Bergen")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<html" in page and "Bergen" in page
    assert '<td class="num">1</td>' in page  # only the active member counts
    # Counts only: no personal data on a public page.
    assert "Kari" not in page and "kari@bergen.kommune.no" not in page and "Ola" not in page


@pytest.mark.parametrize("query", ["Bergen", "bergen", "BERG", "4601", "460"])
def test_search_finds_bergen_by_name_or_number(client, query):
    page = client.get("/organisations/", query_string={"q": query}).get_data(as_text=True)
    assert '<th scope="row">Bergen</th>' in page


def test_search_by_number_does_not_match_the_middle_of_numbers(client):
    page = client.get("/organisations/?q=601").get_data(as_text=True)
    assert '<th scope="row">Bergen</th>' not in page


def test_htmx_search_returns_only_the_results_fragment(client):
    response = client.get("/organisations/?q=4601", headers=HTMX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and "<form" not in body
    assert "Bergen" in body and rows(response) == 1
    assert "HX-Request" in response.vary


def test_a_boosted_or_history_request_gets_the_whole_page(client):
    response = client.get("/organisations/?q=4601", headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("ålesund", "Ålesund"),  # SQLite folds only ASCII by itself
        ("GUOVDAGEAIDNU", "Guovdageaidnu - Kautokeino"),  # Sami name
        ("stïentje", "Steinkjer - Stïentje"),
        ("imdi", "Integrerings- og mangfoldsdirektoratet (IMDi)"),
    ],
)
def test_search_folds_case_beyond_ascii(client, query, expected):
    page = client.get("/organisations/", query_string={"q": query}).get_data(as_text=True)
    assert expected in page


def test_like_wildcards_are_searched_literally(client):
    page = client.get("/organisations/?q=%25").get_data(as_text=True)
    assert says(page, "0 organisasjoner funnet")


def test_the_kind_filter_narrows_the_list(client):
    page = client.get("/organisations/?kind=county_municipality").get_data(as_text=True)
    assert says(page, "15 organisasjoner funnet")
    assert '<th scope="row">Vestland</th>' in page and '<th scope="row">Bergen</th>' not in page


@pytest.mark.parametrize(
    "query_string",
    [{"kind": "ministry"}, {"page": "abc"}, {"page": "-1"}, {"q": "x" * 500}, {"q": "\x00"}],
)
def test_bad_search_input_gets_a_message_not_an_error(client, query_string):
    response = client.get("/organisations/", query_string=query_string)
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)


def test_pages_of_fifty_with_links_that_keep_the_search(client):
    first = client.get("/organisations/?kind=municipality").get_data(as_text=True)
    assert says(first, "Side 1 av 8")
    assert 'href="/organisations/?kind=municipality&amp;page=2"' in first
    last = client.get("/organisations/?kind=municipality&page=8").get_data(as_text=True)
    assert last.count('<th scope="row">') == 357 - 7 * 50


def test_english_is_served_to_a_browser_that_prefers_it(client):
    page = client.get("/organisations/?q=4601", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(
        as_text=True
    )
    assert says(page, "1 organisation found") and "Municipality" in page


def test_the_query_count_does_not_grow_with_members(client, count_queries, create_member, municipality):
    with count_queries() as before:
        client.get("/organisations/?kind=municipality")
    for number in ("4601", "0301", "1103", "5001"):
        for _ in range(3):
            create_member(municipality(number))
    with count_queries() as after:
        page = client.get("/organisations/?kind=municipality").get_data(as_text=True)
    assert '<td class="num">3</td>' in page
    assert len(after) == len(before) <= 4
