"""Production serving: fingerprinted static files cached for a year, compressed responses."""

import re


def test_static_files_carry_their_content_hash_and_are_cached_for_a_year(client):
    page = client.get("/").get_data(as_text=True)
    css = re.search(r'href="(/static/css/site\.css\?v=[0-9a-f]{12})"', page)
    assert css and re.search(r'src="/static/vendor/htmx-[0-9.]+\.min\.js\?v=[0-9a-f]{12}"', page)
    with client.get(css.group(1)) as response:
        assert response.status_code == 200 and response.cache_control.max_age == 365 * 24 * 3600


def test_pages_are_compressed_for_clients_that_ask(client):
    plain = client.get("/organisations/")
    packed = client.get("/organisations/", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    import gzip

    # The same page, but for the CSRF token (a timed signature, new when the second changes) and
    # the forms' submission keys (new with every page).
    def same_part(html):
        html = re.sub(r'"X-CSRFToken": "[^"]+"', "", html)
        html = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", html)
        return re.sub(r'name="submission" value="[0-9a-f]{32}"', "", html)

    assert same_part(gzip.decompress(packed.data).decode()) == same_part(plain.get_data(as_text=True))
