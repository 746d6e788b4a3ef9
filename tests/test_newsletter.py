"""The newsletter: member input through the queue, issues composed, previewed, tested and sent
once to each active member, unsubscribing without losing the membership, and the archive."""

from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from extensions import db
from models import (
    AuditEntry,
    DomainError,
    MembershipStatus,
    NewsInput,
    Newsletter,
    Organisation,
    OutboxMessage,
)
from models import newsletter as newsletters
from tests.conftest import links_in, post, sign_in
from tests.helpers import says

HOSTILE = """Hei **alle**

<script>alert('x')</script>

<img src=x onerror="alert('y')">

[klikk](javascript:alert('z')) <a href="javascript:alert('w')" onclick="alert('v')">her</a>

<iframe src="https://evil.example/"></iframe><style>body { display: none }</style>

[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)

<img src=x onerror="alert('y')">
[i en HTML-blokk](javascript:alert('z'))
"""


@pytest.fixture
def fhi(app):
    return db.session.scalar(select(Organisation).filter_by(short_name="FHI"))


@pytest.fixture
def people(create_member, create_coordinator, municipality, fhi):
    """Active in NIK, in NIFS, in both; lapsed, left, unsubscribed; NONEMI only; and the coordinator of NIK + NIFS."""
    bergen = municipality("4601")
    trust = db.session.scalar(select(Organisation).filter_by(name="Helse Bergen HF"))
    found = {
        "nik": create_member(bergen, name="Nora NIK"),
        "nifs": create_member(fhi, networks=("NIFS",), name="Frida NIFS"),
        "both": create_member(fhi, networks=("NIK", "NIFS"), name="Berit Begge"),
        "lapsed": create_member(bergen, status="lapsed", name="Lars Lapset"),
        "left": create_member(bergen, status="left", name="Live Utmeldt"),
        "unsubscribed": create_member(bergen, name="Una Avmeldt"),
        "nonemi": create_member(trust, networks=("NONEMI",), name="Nils NONEMI"),
        "coordinator": create_coordinator("NIK", "NIFS", name="Kora Koordinator"),
    }
    for membership in found["unsubscribed"].memberships:
        membership.newsletter_unsubscribed_at = found["unsubscribed"].created_at
    db.session.commit()
    return found


def compose_issue(
    client, title="Nytt fra nettverkene", body="## Kurs\n\nEt **nytt** kurs.", networks=("NIK", "NIFS")
):
    response = post(
        client,
        "/newsletter/new",
        {"title": title, "body": body, "networks": list(networks)},
        page="/newsletter/new",
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return db.session.scalar(select(Newsletter).order_by(Newsletter.id.desc()))


def send(client, newsletter):
    page = f"/newsletter/{newsletter.id}"
    response = post(client, f"/newsletter/{newsletter.id}/send", page=page)
    assert response.status_code == 303
    return client.get(page).get_data(as_text=True)


def test_an_issue_to_nik_and_nifs_reaches_each_active_member_once(client, people, deliver, mail_outbox):
    sign_in(client, people["coordinator"].email)
    newsletter = compose_issue(client)

    preview = client.get(f"/newsletter/{newsletter.id}").get_data(as_text=True)
    assert "Forhåndsvisning" in preview and "Send til 3 medlemmer" in preview
    assert "<h2>Kurs</h2>" in preview and "<strong>nytt</strong>" in preview

    page = send(client, newsletter)
    assert says(page, "Sendt 0 av 3")
    assert deliver()["sent"] == 3

    recipients = sorted(r for m in mail_outbox for r in m.envelope_recipients)
    assert recipients == sorted(people[k].email for k in ("nik", "nifs", "both"))
    for message in mail_outbox:
        assert message["Subject"] == "Nytt fra nettverkene"
        html = message.get_body(("html",)).get_content()
        text = message.get_body(("plain",)).get_content()
        assert "<strong>nytt</strong>" in html and "KURS" not in text and "Et nytt kurs." in text
        unsubscribe = [link for link in links_in(message) if "/newsletter/unsubscribe/" in link]
        assert len(unsubscribe) == 1
        # RFC 2369 and 8058: a mail to the coordinators, and the address a mail program POSTs to.
        assert " ".join(message["List-Unsubscribe"].split()) == (
            f"<mailto:nettverk@helsedir.no?subject=Unsubscribe%20NIK%20%2B%20NIFS>, <{unsubscribe[0]}/one-click>"
        )
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # Each member's own link; sending again is refused and sends nothing.
    assert len({m["List-Unsubscribe"] for m in mail_outbox}) == 3
    assert (
        post(client, f"/newsletter/{newsletter.id}/send", page=f"/newsletter/{newsletter.id}").status_code
        == 303
    )
    assert deliver()["sent"] == 0
    assert db.session.scalar(select(Newsletter.recipient_count).filter_by(id=newsletter.id)) == 3
    assert [
        e.after["recipients"]
        for e in db.session.scalars(select(AuditEntry).filter_by(action="newsletter.sent"))
    ] == [3]


def test_the_unsubscribe_link_works_without_signing_in_and_keeps_the_membership(
    app, client, people, deliver, mail_outbox
):
    sign_in(client, people["coordinator"].email)
    send(client, compose_issue(client))
    deliver()
    nora = people["nik"]
    message = next(m for m in mail_outbox if m.envelope_recipients == [nora.email])
    link = next(link for link in links_in(message) if "/newsletter/unsubscribe/" in link)
    path = link.removeprefix("http://localhost")

    stranger = app.test_client()
    page = stranger.get(path).get_data(as_text=True)
    assert "Meld meg av nyhetsbrevet til NIK" in page and nora.email in page
    db.session.expire_all()
    assert nora.memberships[0].newsletter_unsubscribed_at is None  # a GET (a mail scanner) changes nothing

    response = post(stranger, path, {"subscribe": "no"}, page=path)
    assert response.status_code == 303
    assert "Du får ikke lenger nyhetsbrevet til NIK" in stranger.get(path).get_data(as_text=True)
    db.session.expire_all()
    assert nora.memberships[0].newsletter_unsubscribed_at is not None
    assert nora.memberships[0].status == MembershipStatus.ACTIVE

    # The next issue does not go to her; the link still opens (to subscribe again).
    mail_outbox.clear()
    send(client, compose_issue(client, title="Nummer to"))
    deliver()
    assert nora.email not in [r for m in mail_outbox for r in m.envelope_recipients]
    assert len(mail_outbox) == 2
    assert post(stranger, path, {"subscribe": "yes"}, page=path).status_code == 303
    db.session.expire_all()
    assert nora.memberships[0].newsletter_unsubscribed_at is None
    assert stranger.get("/newsletter/unsubscribe/not-a-token").status_code == 400


def test_member_input_goes_queue_included_sent_and_the_member_sees_each_step(
    app, client, people, deliver, mail_outbox
):
    nora = people["nik"]
    member = app.test_client()
    sign_in(member, nora.email)
    response = post(
        member,
        "/newsletter/input",
        {
            "network": "all",
            "title": "Kurs i tolking",
            "body": "Vi holder *kurs* i mars.",
            "link": "https://bergen.kommune.no/kurs",
        },
        page="/newsletter/input",
    )
    assert response.status_code == 303
    assert "Venter på koordinator" in member.get("/newsletter/input").get_data(as_text=True)

    sign_in(client, people["coordinator"].email)
    newsletter = compose_issue(client)
    queue = client.get("/newsletter/queue").get_data(as_text=True)
    assert "Kurs i tolking" in queue and "Alle tre nettverkene" in queue and nora.name in queue
    item = db.session.scalar(select(NewsInput))

    # The coordinator edits it, then includes it.
    assert (
        post(
            client,
            f"/newsletter/input/{item.id}/edit",
            {"title": "Kurs i tolking for helsepersonell", "body": "Vi holder *kurs* i mars.", "link": ""},
            page=f"/newsletter/input/{item.id}/edit",
        ).status_code
        == 303
    )
    response = post(
        client,
        f"/newsletter/input/{item.id}/include",
        {"newsletter": newsletter.id},
        page="/newsletter/queue",
    )
    assert response.status_code == 303
    assert "Ingen innspill venter" in client.get("/newsletter/queue").get_data(as_text=True)
    assert "Tatt med i neste nummer" in member.get("/newsletter/input").get_data(as_text=True)

    preview = client.get(f"/newsletter/{newsletter.id}").get_data(as_text=True)
    assert "Kurs i tolking for helsepersonell" in preview and "Innspill fra Nora NIK" in preview

    send(client, newsletter)
    deliver()
    mine = next(m for m in mail_outbox if m.envelope_recipients == [nora.email])
    assert "Kurs i tolking for helsepersonell" in mine.get_body(("plain",)).get_content()
    page = member.get("/newsletter/input").get_data(as_text=True)
    assert "Sendt" in page and f"/newsletter/{newsletter.id}" in page

    # Once sent, it can no longer be edited or taken out.
    assert (
        post(client, f"/newsletter/input/{item.id}/withdraw", page=f"/newsletter/{newsletter.id}").status_code
        == 303
    )
    db.session.expire_all()
    assert item.newsletter_id == newsletter.id


def test_declined_input_carries_the_note_the_member_reads(app, client, people):
    nora = people["nik"]
    item = newsletters.submit(nora, None, "Reklame", "Kjøp vår app")
    db.session.commit()
    sign_in(client, people["coordinator"].email)

    response = post(client, f"/newsletter/input/{item.id}/decline", {"note": ""}, page="/newsletter/queue")
    assert "Fortell medlemmet hvorfor" in client.get(response.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert item.status == "queued"

    assert (
        post(
            client,
            f"/newsletter/input/{item.id}/decline",
            {"note": "Nyhetsbrevet tar ikke med reklame."},
            page="/newsletter/queue",
        ).status_code
        == 303
    )
    member = app.test_client()
    sign_in(member, nora.email)
    page = member.get("/newsletter/input").get_data(as_text=True)
    assert "Ikke tatt med" in page and "Nyhetsbrevet tar ikke med reklame." in page


def test_the_same_input_cannot_be_handled_twice(app, people):
    item = newsletters.submit(people["nik"], None, "Tema", "Tekst")
    issue = newsletters.create("Nr 1", "", [people["nik"].memberships[0].network], by=people["coordinator"])
    db.session.commit()
    newsletters.include(item, issue, people["coordinator"])
    with pytest.raises(DomainError):
        newsletters.decline(item, "nei", people["coordinator"])
    db.session.commit()
    assert db.session.scalar(select(NewsInput.status)) == "included"


def test_only_active_members_send_input_and_only_coordinators_of_its_network_handle_it(
    app, client, people, create_coordinator
):
    lapsed = app.test_client()
    sign_in(lapsed, people["lapsed"].email)
    assert "Bare aktive medlemmer" in lapsed.get("/newsletter/input").get_data(as_text=True)
    response = post(
        lapsed, "/newsletter/input", {"network": "NIK", "title": "T", "body": "B"}, page="/newsletter/input"
    )
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(NewsInput)) == 0

    item = newsletters.submit(people["nik"], people["nik"].memberships[0].network, "Til NIK", "Tekst")
    db.session.commit()
    nonemi = app.test_client()
    sign_in(nonemi, create_coordinator("NONEMI").email)
    assert "Til NIK" not in nonemi.get("/newsletter/queue").get_data(as_text=True)
    assert nonemi.get(f"/newsletter/input/{item.id}/edit").status_code == 403


def test_a_test_send_goes_only_to_the_coordinator(client, people, deliver, mail_outbox):
    sign_in(client, people["coordinator"].email)
    newsletter = compose_issue(client)
    assert (
        post(client, f"/newsletter/{newsletter.id}/test", page=f"/newsletter/{newsletter.id}").status_code
        == 303
    )
    assert deliver()["sent"] == 1
    (message,) = mail_outbox
    assert message.envelope_recipients == [people["coordinator"].email]
    assert message["Subject"] == "[TEST] Nytt fra nettverkene"
    db.session.expire_all()
    assert newsletter.sent_at is None


class Elements(HTMLParser):
    """Every element and attribute of a page, as a browser would see them."""

    def __init__(self, page):
        super().__init__()
        self.found = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def active_content(page):
    """What in ``page`` could run or load: scripts (other than ours), handlers, frames, script links."""
    bad = []
    for tag, attrs in Elements(page).found:
        if tag == "script" and not (attrs.get("src") or "").startswith("/static/"):
            bad.append(tag)
        if (
            tag in ("iframe", "object", "embed", "style", "img", "base", "form")
            and attrs.get("method") != "post"
        ):
            bad.append(tag)
        if tag == "link" and not (
            (attrs.get("href") or "").startswith("/static/")
            # the page itself in another language (same origin, a path)
            or (attrs.get("rel") == "alternate" and (attrs.get("href") or "").startswith("/newsletter/"))
        ):
            bad.append(tag)
        bad += [f"{tag} {name}" for name in attrs if name.startswith("on")]
        bad += [
            f"{tag} {name}={value}"
            for name, value in attrs.items()
            if name in ("href", "src", "action")
            and value
            and value.strip().lower().startswith(("javascript:", "data:"))
        ]
    return bad


def test_hostile_markdown_reaches_neither_the_mail_nor_the_archive(app, client, people, deliver, mail_outbox):
    nora = people["nik"]
    item = newsletters.submit(nora, None, "<script>alert('t')</script>Tittel", HOSTILE)
    db.session.commit()
    sign_in(client, people["coordinator"].email)
    newsletter = compose_issue(client, body=HOSTILE)
    assert (
        post(
            client,
            f"/newsletter/input/{item.id}/include",
            {"newsletter": newsletter.id},
            page="/newsletter/queue",
        ).status_code
        == 303
    )
    send(client, newsletter)
    deliver()
    assert len(mail_outbox) == 3

    reader = app.test_client()
    sign_in(reader, nora.email)
    archive = reader.get(f"/newsletter/{newsletter.id}").get_data(as_text=True)
    html = mail_outbox[0].get_body(("html",)).get_content()
    text = mail_outbox[0].get_body(("plain",)).get_content()
    queue = client.get("/newsletter/queue").get_data(as_text=True)
    for page in (archive, html):
        assert active_content(page) == []
        assert "<strong>alle</strong>" in page
        # The refused link's words stay, as plain text – not a link-coloured <a> that does nothing.
        assert "klikk" in page and ">klikk</a>" not in page and ">her</a>" not in page
        assert "alert('x')" not in page  # a script's content goes with it
    assert active_content(queue) == []
    # The plain-text part is read off the cleaned HTML: no tags, no script, no script links.
    assert "<script" not in text and "alert('x')" not in text and "onerror" not in text
    assert "Hei alle" in text and "<script>alert('t')</script>Tittel" not in text and "Tittel" in text


def test_the_archive_lists_sent_issues_to_the_readers_networks(app, client, people):
    sign_in(client, people["coordinator"].email)
    to_nifs = compose_issue(client, title="Bare NIFS", networks=("NIFS",))
    send(client, to_nifs)
    draft = compose_issue(client, title="Utkast til NIK", networks=("NIK",))

    nora = app.test_client()
    sign_in(nora, people["nik"].email)
    archive = nora.get("/newsletter/").get_data(as_text=True)
    assert "Bare NIFS" not in archive and "Utkast til NIK" not in archive
    assert nora.get(f"/newsletter/{to_nifs.id}").status_code == 403
    assert nora.get(f"/newsletter/{draft.id}").status_code == 403

    frida = app.test_client()
    sign_in(frida, people["nifs"].email)
    assert "Bare NIFS" in frida.get("/newsletter/").get_data(as_text=True)
    assert "Et <strong>nytt</strong> kurs." in frida.get(f"/newsletter/{to_nifs.id}").get_data(as_text=True)
    db.session.rollback()


def test_progress_is_polled_until_the_outbox_has_drained(client, people, deliver, mail_outbox):
    sign_in(client, people["coordinator"].email)
    newsletter = compose_issue(client)
    send(client, newsletter)
    headers = {"HX-Request": "true", "HX-Target": "progress"}
    fragment = client.get(f"/newsletter/{newsletter.id}", headers=headers).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="progress"') and "<html" not in fragment
    assert says(fragment, "Sendt 0 av 3") and 'hx-trigger="every 2s"' in fragment
    deliver()
    fragment = client.get(f"/newsletter/{newsletter.id}", headers=headers).get_data(as_text=True)
    assert says(fragment, "Sendt 3 av 3") and "hx-trigger" not in fragment


def test_sending_takes_the_same_number_of_statements_for_any_number_of_members(
    app, create_member, create_coordinator, municipality, count_queries
):
    bergen = municipality("4601")
    coordinator = create_coordinator("NIK")
    nik = coordinator.coordinator_roles[0].network
    counts = []
    for size in (3, 30):
        for _ in range(size - len(counts) * 3 if counts else size):
            create_member(bergen)
        issue = newsletters.create(f"Nr {size}", "Tekst", [nik], by=coordinator)
        db.session.commit()
        with count_queries() as statements:
            sent = newsletters.send(issue, coordinator)
        db.session.commit()
        counts.append(len(statements))
        assert sent == db.session.scalar(
            select(func.count()).select_from(OutboxMessage).filter_by(batch=issue.batch)
        )
    assert counts[0] == counts[1], counts
    db.session.execute(OutboxMessage.__table__.delete())
    db.session.commit()


def test_a_form_with_mistakes_says_what_is_wrong_and_keeps_what_was_written(app, client, people):
    sign_in(client, people["coordinator"].email)
    response = post(
        client, "/newsletter/new", {"title": "", "body": "Min tekst", "networks": []}, page="/newsletter/new"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Gi nummeret en tittel." in page and "Velg minst ett nettverk." in page and "Min tekst" in page
    member = app.test_client()
    sign_in(member, people["nik"].email)
    response = post(
        member,
        "/newsletter/input",
        {"network": "NIK", "title": "T", "body": "B", "link": "javascript://alert(1)"},
        page="/newsletter/input",
    )
    assert db.session.scalar(select(func.count()).select_from(NewsInput)) == 0
    assert response.status_code == 422 and "Skriv en fullstendig adresse" in response.get_data(as_text=True)


def test_the_members_export_holds_their_input_and_erasure_removes_what_was_not_used(app, people):
    nora = people["nik"]
    used = newsletters.submit(nora, None, "Brukt", "Tekst")
    newsletters.submit(nora, None, "Ubrukt", "Tekst")
    issue = newsletters.create("Nr 1", "", [nora.memberships[0].network], by=people["coordinator"])
    newsletters.include(used, issue, people["coordinator"])
    db.session.commit()
    assert sorted((i["title"], i["status"]) for i in nora.export()["newsletter_input"]) == [
        ("Brukt", "included"),
        ("Ubrukt", "queued"),
    ]
    nora.erase()
    db.session.commit()
    assert db.session.scalars(select(NewsInput.title)).all() == ["Brukt"]


# -- one outcome, however often and however at once ---------------------------------------------------
# Two tabs, two coordinators, a double click: each request is one operation that takes or claims its
# row first (PostgreSQL's row locks decide the races). A POST that walks past the page – to a sent
# issue, a handled input – is refused by the operation itself and changes nothing.


def tabs_of(app, member, n=2):
    tabs = []
    for _ in range(n):
        tab = app.test_client()
        sign_in(tab, member.email)
        tabs.append(tab)
    return tabs


def audited(action):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))


def no_server_error(responses):
    assert all(r.status_code < 500 for r in responses), [r.status_code for r in responses]


def at_once_posts(forms):
    """[(client, url, data, page)] posted at the same moment; the responses."""
    from tests.conftest import at_once, csrf_token_from

    prepared = [
        (client, url, {**data, "csrf_token": csrf_token_from(client.get(page))})
        for client, url, data, page in forms
    ]

    def send(wait, client, url, data):
        wait()
        return client.post(url, data=data)

    return at_once(send, prepared)


@pytest.fixture
def draft_and_input(people):
    """A draft issue to NIK + NIFS and a queued input from Nora."""
    nik = people["nik"].memberships[0].network
    item = newsletters.submit(people["nik"], nik, "Kurs i tolking", "Vi holder kurs.")
    issue = newsletters.create(
        "Nytt fra NIK", "Tekst", [nik, people["nifs"].memberships[0].network], by=people["coordinator"]
    )
    db.session.commit()
    return issue, item


def test_input_sent_twice_at_once_is_queued_once(app, people):
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    data = {"network": "NIK", "title": "Kurs", "body": "Et kurs i mars.", "link": ""}
    answers = twice_at_once(tabs_of(app, people["nik"]), "/newsletter/input", data, page="/newsletter/input")
    no_server_error(answers)
    assert [r.status_code for r in answers] == [303, 303]
    assert db.session.scalar(select(func.count()).select_from(NewsInput)) == 1
    assert audited("news_input.submitted") == 1


def test_input_edited_twice_at_once_is_changed_and_audited_once(app, people, draft_and_input):
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    _issue, item = draft_and_input
    url = f"/newsletter/input/{item.id}/edit"
    data = {"title": "Kurs i tolking for helsepersonell", "body": "Vi holder kurs.", "link": ""}
    answers = twice_at_once(tabs_of(app, people["coordinator"]), url, data, page=url)
    no_server_error(answers)
    assert audited("news_input.edited") == 1
    db.session.expire_all()
    assert db.session.get(NewsInput, item.id).title == "Kurs i tolking for helsepersonell"


def test_include_and_decline_at_once_give_one_outcome(app, people, draft_and_input):
    from tests.conftest import postgres_only

    postgres_only(app)
    issue, item = draft_and_input
    one, other = tabs_of(app, people["coordinator"])
    answers = at_once_posts(
        [
            (one, f"/newsletter/input/{item.id}/include", {"newsletter": issue.id}, "/newsletter/queue"),
            (other, f"/newsletter/input/{item.id}/decline", {"note": "Passer ikke."}, "/newsletter/queue"),
        ]
    )
    no_server_error(answers)
    assert audited("news_input.included") + audited("news_input.declined") == 1
    db.session.expire_all()
    item = db.session.get(NewsInput, item.id)
    assert (item.status, item.newsletter_id) in (("included", issue.id), ("declined", None))


def test_include_twice_at_once_includes_once(app, people, draft_and_input):
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    issue, item = draft_and_input
    answers = twice_at_once(
        tabs_of(app, people["coordinator"]),
        f"/newsletter/input/{item.id}/include",
        {"newsletter": issue.id},
        page="/newsletter/queue",
    )
    no_server_error(answers)
    assert audited("news_input.included") == 1


def test_an_edit_and_an_include_at_once_both_hold(app, people, draft_and_input):
    from tests.conftest import postgres_only

    postgres_only(app)
    issue, item = draft_and_input
    one, other = tabs_of(app, people["coordinator"])
    edit = f"/newsletter/input/{item.id}/edit"
    answers = at_once_posts(
        [
            (one, edit, {"title": "Endret tittel", "body": "Vi holder kurs.", "link": ""}, edit),
            (other, f"/newsletter/input/{item.id}/include", {"newsletter": issue.id}, "/newsletter/queue"),
        ]
    )
    no_server_error(answers)
    db.session.expire_all()
    item = db.session.get(NewsInput, item.id)
    assert (item.title, item.status) == ("Endret tittel", "included")
    assert audited("news_input.edited") == 1 and audited("news_input.included") == 1


def test_take_out_twice_at_once_takes_out_once(app, people, draft_and_input):
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    issue, item = draft_and_input
    newsletters.include(item, issue, people["coordinator"])
    db.session.commit()
    answers = twice_at_once(
        tabs_of(app, people["coordinator"]),
        f"/newsletter/input/{item.id}/withdraw",
        page=f"/newsletter/{issue.id}/edit",
    )
    no_server_error(answers)
    assert audited("news_input.withdrawn") == 1
    db.session.expire_all()
    assert db.session.get(NewsInput, item.id).status == "queued"


def test_a_new_issue_saved_twice_at_once_is_one_draft(app, people):
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    data = {"title": "Nytt fra nettverkene", "body": "Tekst", "networks": ["NIK", "NIFS"]}
    answers = twice_at_once(
        tabs_of(app, people["coordinator"]), "/newsletter/new", data, page="/newsletter/new"
    )
    no_server_error(answers)
    assert db.session.scalar(select(func.count()).select_from(Newsletter)) == 1
    assert audited("newsletter.created") == 1
    assert len({r.headers["Location"] for r in answers}) == 1  # both lead to the one draft


def test_send_pressed_twice_at_once_reaches_each_member_once(
    app, people, draft_and_input, deliver, mail_outbox
):
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    issue, _item = draft_and_input
    answers = twice_at_once(
        tabs_of(app, people["coordinator"]), f"/newsletter/{issue.id}/send", page=f"/newsletter/{issue.id}"
    )
    no_server_error(answers)
    assert audited("newsletter.sent") == 1
    deliver()
    recipients = sorted(r for m in mail_outbox for r in m.envelope_recipients)
    assert recipients == sorted(people[k].email for k in ("nik", "nifs", "both"))


def test_an_include_at_the_moment_of_sending_is_in_the_mail_or_refused(
    app, people, draft_and_input, deliver, mail_outbox
):
    from tests.conftest import postgres_only

    postgres_only(app)
    issue, item = draft_and_input
    one, other = tabs_of(app, people["coordinator"])
    answers = at_once_posts(
        [
            (one, f"/newsletter/{issue.id}/send", {}, f"/newsletter/{issue.id}"),
            (other, f"/newsletter/input/{item.id}/include", {"newsletter": issue.id}, "/newsletter/queue"),
        ]
    )
    no_server_error(answers)
    deliver()
    in_mail = "Kurs i tolking" in mail_outbox[0].get_body(("plain",)).get_content()
    db.session.expire_all()
    item = db.session.get(NewsInput, item.id)
    assert in_mail == (item.status == "included"), (in_mail, item.status)
    assert item.status in ("included", "queued")


def test_an_edit_at_the_moment_of_sending_is_in_the_mail_or_refused(
    app, people, draft_and_input, deliver, mail_outbox
):
    from tests.conftest import postgres_only

    postgres_only(app)
    issue, _item = draft_and_input
    one, other = tabs_of(app, people["coordinator"])
    edit = f"/newsletter/{issue.id}/edit"
    answers = at_once_posts(
        [
            (one, f"/newsletter/{issue.id}/send", {}, f"/newsletter/{issue.id}"),
            (other, edit, {"title": "Ny tittel", "body": "Tekst", "networks": ["NIK", "NIFS"]}, edit),
        ]
    )
    no_server_error(answers)
    deliver()
    db.session.expire_all()
    stored = db.session.get(Newsletter, issue.id).title
    assert {m["Subject"] for m in mail_outbox} == {stored}


def test_a_test_mail_pressed_twice_at_once_goes_once(app, people, draft_and_input, deliver, mail_outbox):
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    issue, _item = draft_and_input
    answers = twice_at_once(
        tabs_of(app, people["coordinator"]), f"/newsletter/{issue.id}/test", page=f"/newsletter/{issue.id}"
    )
    no_server_error(answers)
    deliver()
    assert [m.envelope_recipients for m in mail_outbox] == [[people["coordinator"].email]]
    # Once it has gone, another test may go.
    assert (
        post(
            tabs_of(app, people["coordinator"], 1)[0],
            f"/newsletter/{issue.id}/test",
            page=f"/newsletter/{issue.id}",
        ).status_code
        == 303
    )
    deliver()
    assert len(mail_outbox) == 2


def test_unsubscribing_twice_at_once_is_harmless(app, people):
    from models import tokens
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    path = f"/newsletter/unsubscribe/{tokens.make('unsubscribe', member=people['nik'].id)}"
    answers = twice_at_once([app.test_client(), app.test_client()], path, {"subscribe": "no"}, page=path)
    no_server_error(answers)
    assert [r.status_code for r in answers] == [303, 303]
    assert audited("newsletter.unsubscribed") == 1


def test_what_a_sent_issue_no_longer_offers_is_refused_when_posted_directly(
    app, client, people, draft_and_input, deliver, mail_outbox
):
    issue, item = draft_and_input
    newsletters.include(item, issue, people["coordinator"])
    newsletters.send(issue, people["coordinator"])
    late = newsletters.submit(people["both"], None, "For sent", "Tekst")
    db.session.commit()
    deliver()
    mail_outbox.clear()
    sign_in(client, people["coordinator"].email)
    page = client.get(f"/newsletter/{issue.id}").get_data(as_text=True)
    assert f"/newsletter/{issue.id}/send" not in page and f"/newsletter/{issue.id}/test" not in page
    token = csrf_token(client)

    for url, data in (
        (f"/newsletter/{issue.id}/edit", {"title": "Endret", "body": "X", "networks": ["NIK"]}),
        (f"/newsletter/{issue.id}/test", {}),
        (f"/newsletter/{issue.id}/send", {}),
        (f"/newsletter/input/{item.id}/edit", {"title": "Endret", "body": "X", "link": ""}),
        (f"/newsletter/input/{item.id}/withdraw", {}),
        (f"/newsletter/input/{late.id}/withdraw", {}),
    ):  # never in an issue
        assert client.post(url, data={**data, "csrf_token": token}).status_code == 303, url
    db.session.expire_all()
    assert (issue.title, item.title, item.status, item.newsletter_id) == (
        "Nytt fra NIK",
        "Kurs i tolking",
        "included",
        issue.id,
    )
    assert late.status == "queued"
    assert (
        audited("newsletter.sent") == 1
        and audited("news_input.edited") == 0
        and audited("news_input.withdrawn") == 0
    )
    deliver()
    assert mail_outbox == []
    # The operations refuse by themselves, whatever the page offered.
    for refused in (
        lambda: newsletters.include(late, issue, people["coordinator"]),
        lambda: newsletters.update_draft(issue, "Endret", "X", issue.networks),
        lambda: newsletters.send_test(issue, people["coordinator"]),
        lambda: newsletters.edit_input(item, "Endret", "X", None),
        lambda: newsletters.withdraw(item),
    ):
        with pytest.raises(DomainError):
            refused()
        db.session.rollback()


def csrf_token(client):
    from tests.conftest import csrf_token_from

    return csrf_token_from(client.get("/newsletter/queue"))
