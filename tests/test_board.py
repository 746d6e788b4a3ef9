"""The situation board: counts equal the rows (a merged duplicate once), filters, the live fragment,
a fixed number of queries, and the coordinators' follow-up – marking, merging and replying – with
their refusals and their races."""

import re
from collections import Counter

import pytest
from sqlalchemy import func, select

from extensions import db
from models import AuditEntry, Organisation, OutboxMessage
from models import signal as signals
from models.errors import DomainError
from models.signal import Signal, SignalReply, SignalStatus
from tests.conftest import post, postgres_only, sign_in, table_snapshot, twice_at_once


@pytest.fixture
def board(app, world, municipality):
    """The world's emergency with a few signals more, and a client signed in as its coordinator."""
    people, ids = world
    emergency = db.session.get(Signal, ids["signal"]).emergency
    client = app.test_client()
    sign_in(client, people["coordinator"].email)
    post(client, "/language", {"locale": "en"})  # the page in English (the language groups' names too)
    return people, ids, emergency, client


def report(
    emergency, member, kind="rumour", urgency="soon", text="Et rykte", languages=("ar",), organisation=None
):
    signal = signals.report(emergency, member, kind, urgency, text, languages, organisation)
    db.session.commit()
    return signal


def table_rows(html, heading_id):
    """{row header: [cells]} of the table in the region labelled by ``heading_id``."""
    region = html.split(f'aria-labelledby="{heading_id}"', 1)[1].split("</table>", 1)[0]
    rows = {}
    for header, cells in re.findall(r'<tr><th scope="row">([^<]*)</th>(.*?)</tr>', region, re.S):
        rows[header] = [int(n) for n in re.findall(r"<td>(\d+)</td>", cells)]
    return rows


def county_name(number):
    return db.session.scalar(select(Organisation.name).filter_by(kind="county_municipality", number=number))


def board_url(emergency, **args):
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return f"/emergencies/{emergency.id}/board" + (f"?{query}" if query else "")


# -- counts and the list -----------------------------------------------------------------------------


def test_the_counts_equal_the_rows_and_a_merged_duplicate_counts_once(board, municipality):
    people, ids, emergency, client = board
    bergen = municipality("4601")  # the world's other signal is about Oslo
    report(emergency, people["member"], "rumour", text="Rykte i Bergen", organisation=bergen)
    report(
        emergency, people["member"], "barrier", text="Ingen tolk", languages=("ar", "so"), organisation=bergen
    )
    duplicate = report(emergency, people["member"], "rumour", text="Samme rykte", organisation=bergen)
    report(emergency, people["member"], "other", text="Gjelder hele landet", languages=())
    signals.merge(duplicate, ids["signal"])
    db.session.commit()

    html = client.get(board_url(emergency)).get_data(as_text=True)
    counting = db.session.scalars(
        select(Signal).where(Signal.emergency_id == emergency.id, Signal.duplicate_of_id.is_(None))
    ).all()
    assert len(counting) == 5  # the world's two, three of the four here
    by_county = table_rows(html, "county-heading")
    kinds = [k.value for k in signals.SignalKind]
    expected = Counter(
        (s.kind.value, s.organisation.county_number if s.organisation else None) for s in counting
    )
    vestland, oslo_county = county_name("46"), county_name("03")
    assert by_county[vestland] == [expected[(k, "46")] for k in kinds] + [3]
    assert by_county[oslo_county] == [expected[(k, "03")] for k in kinds] + [1]
    assert by_county["No municipality"] == [expected[(k, None)] for k in kinds] + [1]
    assert by_county["Total"][-1] == 5  # the duplicate is not counted again
    by_language = table_rows(html, "language-heading")
    assert by_language["Arabic"][-1] == 3 and by_language["Somali"][-1] == 2  # ar: world's, Bergen's, barrier
    assert "5 signals in all" in html
    # the duplicate is listed under the signal it repeats, not as a row of its own
    assert html.count(f'id="signal-link-{duplicate.id}"') == 1
    assert re.search(rf'duplicate merged into it.*?id="signal-link-{duplicate.id}"', html, re.S)
    # the chart draws the same counts, with its text alternative
    assert 'role="img"' in html and '<title id="chart-kinds-title">' in html
    assert (
        f"{vestland}: 2;" in html or f"{vestland}: 2." in html
    )  # rumour by county: Bergen's two (the world's one and this one)
    assert "style=" not in html.split('id="board-live"')[1]


def test_the_filters_narrow_the_list_and_stay_in_the_polling_address(board, municipality):
    people, ids, emergency, client = board
    bergen = municipality("4601")
    urgent = report(
        emergency, people["member"], "barrier", "urgent", "Ingen tolk på legevakten", ("uk",), bergen
    )
    nowhere = report(emergency, people["member"], "other", "can_wait", "Nasjonalt", ())
    signals.handle(urgent, "followed_up", "Ringt legevakten")
    db.session.commit()

    def listed(**args):
        html = client.get(board_url(emergency, **args)).get_data(as_text=True)
        return set(map(int, re.findall(r'id="signal-link-(\d+)"', html))), html

    assert listed()[0] == {ids["signal"], ids["other_signal"], urgent.id, nowhere.id}
    assert listed(kind="barrier")[0] == {urgent.id}
    assert listed(county="46")[0] == {ids["signal"], urgent.id}
    assert listed(county="none")[0] == {nowhere.id}
    assert listed(language="uk")[0] == {urgent.id}
    assert listed(status="followed_up")[0] == {urgent.id}
    assert listed(status="new", urgency="urgent")[0] == {ids["other_signal"]}
    found, html = listed(kind="barrier", county="46")
    assert found == {urgent.id}
    assert f'hx-get="/emergencies/{emergency.id}/board?kind=barrier&amp;county=46"' in html
    assert 'hx-trigger="every 5s"' in html
    # a filter the form does not know shows everything rather than an error
    assert listed(kind="nonsense")[0] == {ids["signal"], ids["other_signal"], urgent.id, nowhere.id}


def test_the_list_is_paged_newest_first(board, app):
    people, _ids, emergency, client = board
    app.config["BOARD_SIGNALS_PER_PAGE"] = 3
    try:
        made = [report(emergency, people["member"], text=f"Rykte {n}") for n in range(4)]
        first = client.get(board_url(emergency)).get_data(as_text=True)
        shown = [int(n) for n in re.findall(r'id="signal-link-(\d+)"', first)]
        assert shown == [s.id for s in reversed(made)][:3]
        assert "Page 1 of 2" in first
        second = client.get(board_url(emergency, page=2)).get_data(as_text=True)
        assert len(re.findall(r'id="signal-link-(\d+)"', second)) == 3
    finally:
        app.config.pop("BOARD_SIGNALS_PER_PAGE")


def test_an_htmx_poll_gets_the_live_region_only_and_a_closed_emergency_is_not_polled(board):
    people, _ids, emergency, client = board
    headers = {"HX-Request": "true", "HX-Target": "board-live", "HX-Current-URL": "http://localhost/"}
    response = client.get(board_url(emergency, kind="rumour"), headers=headers)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="board-live"') and "<html" not in html
    assert 'hx-trigger="every 5s"' in html and 'hx-swap-oob="innerHTML"' in html
    report(emergency, people["member"], "rumour", text="Nytt rykte nå")
    assert "Nytt rykte nå" in client.get(board_url(emergency), headers=headers).get_data(as_text=True)
    from models import emergency as emergencies

    emergencies.close(emergency, by=people["coordinator"])
    db.session.commit()
    closed = client.get(board_url(emergency), headers=headers).get_data(as_text=True)
    assert "hx-trigger" not in closed and "Nytt rykte nå" in closed
    assert "hx-trigger" not in client.get(board_url(emergency)).get_data(as_text=True)


def test_the_board_takes_a_fixed_number_of_queries_with_10_or_200_signals(board, municipality, count_queries):
    people, _ids, emergency, client = board
    places = [municipality(n) for n in ("4601", "0301", "5001", "1103")]
    languages = [("ar",), ("so", "uk"), (), ("pl",)]
    headers = {"HX-Request": "true", "HX-Target": "board-live", "HX-Current-URL": "http://localhost/"}
    made, counted = [], {}
    for many in (10, 200):
        for n in range(len(made), many):
            made.append(
                signals.report(
                    emergency,
                    people["member"],
                    list(signals.SignalKind)[n % 6],
                    "soon",
                    f"Signal {n}",
                    languages[n % 4],
                    places[n % 4] if n % 5 else None,
                )
            )
            if n % 7 == 1:  # some merged duplicates, listed under the one they repeat
                db.session.flush()
                signals.merge(made[n], made[n - 1])
        db.session.commit()
        client.get(board_url(emergency))  # warm
        with count_queries() as page:
            assert client.get(board_url(emergency)).status_code == 200
        with count_queries() as fragment:
            assert (
                client.get(board_url(emergency, county="46", language="ar"), headers=headers).status_code
                == 200
            )
        counted[many] = (len(page), len(fragment))
    print(f"queries (page, live fragment): {counted}")
    assert counted[10] == counted[200]
    # the fragment: the member, the emergency and its networks, the counts by county with the
    # counties' names, the counts by language with the languages, the list's count (filtered), its
    # page, their duplicates and languages
    assert counted[200][1] == 9
    # the page, unfiltered: no count of its own (the counts' total), the layout's two, the packages' coverage (two)
    assert counted[200][0] <= counted[200][1] + 3


# -- the signal's page and the follow-up -----------------------------------------------------------------


def signal_page(ids):
    return f"/emergencies/board/signals/{ids['signal']}"


def test_the_signal_page_shows_the_reporter_and_a_get_changes_nothing(board):
    people, ids, _emergency, client = board
    before = table_snapshot()
    html = client.get(signal_page(ids)).get_data(as_text=True)
    assert people["owner"].name in html and "Mark seen" in html
    assert table_snapshot() == before


def test_marking_a_signal_changes_it_once_and_the_same_again_changes_nothing(board):
    people, ids, _emergency, client = board
    url = f"/emergencies/board/signals/{ids['signal']}/handle"
    data = {"status": "followed_up", "note": "Kommunen er varslet"}
    response = post(client, url, data, page=signal_page(ids))
    assert response.status_code == 303
    signal = db.session.get(Signal, ids["signal"])
    db.session.refresh(signal)
    assert signal.status == SignalStatus.FOLLOWED_UP and signal.note == "Kommunen er varslet"
    assert signal.handled_by_id == people["coordinator"].id
    entries = db.session.scalars(select(AuditEntry).filter_by(action="signal.handled")).all()
    assert [e.after for e in entries] == [{"signal": signal.id, "status": "followed_up"}]
    assert entries[0].subject == f"emergency:{signal.emergency_id}"
    before = table_snapshot(ignore=("form_submissions",))
    again = post(client, url, data, page=signal_page(ids))
    assert again.status_code == 303
    assert table_snapshot() == before  # the same status and note: nothing changed, nothing audited
    post(client, url, {"status": "passed_on", "note": "Kommunen er varslet"}, page=signal_page(ids))
    assert (
        db.session.scalar(select(func.count()).select_from(AuditEntry).filter_by(action="signal.handled"))
        == 2
    )


@pytest.mark.parametrize(
    "data",
    [
        {"status": "new", "note": ""},
        {"status": "", "note": "Hei"},
        {"status": "seen", "note": "Ring 412 34 567"},  # a phone number: personal data
        {"status": "seen", "note": "x" * 1001},
    ],
)
def test_a_refused_mark_changes_no_row(board, data):
    _people, ids, _emergency, client = board
    before = table_snapshot()
    response = post(client, f"/emergencies/board/signals/{ids['signal']}/handle", data, page=signal_page(ids))
    assert response.status_code == 422
    assert table_snapshot() == before


def test_a_merged_duplicate_is_not_marked(board):
    _people, ids, _emergency, client = board
    signals.merge(db.session.get(Signal, ids["signal"]), ids["other_signal"])
    db.session.commit()
    before = table_snapshot()
    response = post(
        client,
        f"/emergencies/board/signals/{ids['signal']}/handle",
        {"status": "seen"},
        page=signal_page(ids),
    )
    assert response.status_code == 422 and "merged into number" in response.get_data(as_text=True)
    assert table_snapshot() == before


def test_merging_a_duplicate_counts_it_once_and_moves_its_own_duplicates(board):
    people, ids, emergency, client = board
    third = report(emergency, people["member"], text="Det samme igjen")
    signals.merge(third, ids["signal"])  # the third repeats the world's signal
    db.session.commit()
    response = post(
        client,
        f"/emergencies/board/signals/{ids['signal']}/merge",
        {"into": ids["other_signal"]},
        page=signal_page(ids),
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Signal, ids["signal"]).duplicate_of_id == ids["other_signal"]
    assert db.session.get(Signal, third.id).duplicate_of_id == ids["other_signal"]  # no chain
    assert sum(signals.counts_by_county(emergency).values()) == 1
    merged = db.session.scalars(select(AuditEntry).filter_by(action="signal.merged")).all()
    assert merged[-1].after["signal"] == ids["signal"] and merged[-1].after["into"] == ids["other_signal"]


def test_a_merge_into_itself_another_emergency_a_merged_one_or_nothing_is_refused(board, app):
    people, ids, emergency, client = board
    from models import Network
    from models import emergency as emergencies

    elsewhere = emergencies.open_emergency(
        [db.session.scalar(select(Network).filter_by(code="NIK"))], "Flom", by=people["coordinator"]
    )
    foreign = report(elsewhere, people["member"], text="Et annet sted")
    merged = report(emergency, people["member"], text="Allerede slått sammen")
    signals.merge(merged, ids["other_signal"])
    db.session.commit()
    url = f"/emergencies/board/signals/{ids['signal']}/merge"
    for into, words in [
        (ids["signal"], "cannot be merged into itself"),
        (foreign.id, "no signal with that number in this emergency"),
        (merged.id, "is itself merged into number"),
        (999_999, "no signal with that number"),
        ("", "Give the number of the signal it repeats"),
        ("tolv", "Give the number"),
    ]:
        before = table_snapshot()
        response = post(client, url, {"into": into}, page=signal_page(ids))
        assert response.status_code == 422, into
        assert words in response.get_data(as_text=True), into
        assert table_snapshot() == before
    # a signal merged already is not merged again
    before = table_snapshot()
    response = post(
        client,
        f"/emergencies/board/signals/{merged.id}/merge",
        {"into": ids["signal"]},
        page=signal_page(ids),
    )
    assert response.status_code == 422 and "merged already" in response.get_data(as_text=True)
    assert table_snapshot() == before


def test_a_reply_reaches_the_reporter_by_mail_in_their_own_written_form(board, mail_outbox, deliver):
    people, ids, emergency, client = board
    owner = people["owner"]
    owner.language = "nn"
    db.session.commit()
    response = post(
        client,
        f"/emergencies/board/signals/{ids['signal']}/reply",
        {"body": "Takk! Vi har sendt informasjon på arabisk til kommunen."},
        page=signal_page(ids),
    )
    assert response.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(SignalReply)) == 1
    deliver()
    # (the world has mail of its own waiting for the owner: the reply is the one about the signal)
    mails = [m for m in mail_outbox if m["To"] == owner.email and m["Subject"].startswith("Svar på signalet")]
    assert len(mails) == 1
    mail = mails[0]
    assert mail["To"] == owner.email
    assert mail["Subject"] == f"Svar på signalet ditt i beredskapshendinga «{emergency.title}»"
    text = mail.get_body(("plain",)).get_content()
    assert (
        "Vi har sendt informasjon på arabisk" in text and "Et rykte om vaksinen" in text
    )  # their text quoted
    assert f"/emergencies/signals/{ids['signal']}" in text
    replied = db.session.scalars(select(AuditEntry).filter_by(action="signal.replied")).all()
    assert len(replied) == 1 and replied[0].after["signal"] == ids["signal"]


def test_a_reply_to_an_erased_reporter_or_an_empty_one_is_refused(board):
    people, ids, _emergency, client = board
    url = f"/emergencies/board/signals/{ids['signal']}/reply"
    before = table_snapshot()
    response = post(client, url, {"body": "   "}, page=signal_page(ids))
    assert response.status_code == 422 and table_snapshot() == before
    people["owner"].erase(reason="asked")
    db.session.commit()
    before = table_snapshot()
    response = post(client, url, {"body": "Takk"}, page=signal_page(ids))
    assert response.status_code == 422
    assert "no one to send a reply to" in response.get_data(as_text=True)
    assert table_snapshot() == before
    signal = db.session.get(Signal, ids["signal"])
    with pytest.raises(DomainError):
        signals.reply(signal, "Takk")
    db.session.rollback()


# -- at the same moment (PostgreSQL) ----------------------------------------------------------------------


def coordinators(app, people, n=2):
    clients = []
    for _ in range(n):
        c = app.test_client()
        sign_in(c, people["coordinator"].email)
        clients.append(c)
    return clients


def test_the_same_mark_twice_at_once_is_audited_once(app, board):
    postgres_only(app)
    people, ids, _emergency, _client = board
    responses = twice_at_once(
        coordinators(app, people),
        f"/emergencies/board/signals/{ids['signal']}/handle",
        {"status": "seen", "note": ""},
        page=signal_page(ids),
    )
    assert [r.status_code for r in responses] == [303, 303]
    assert (
        db.session.scalar(select(func.count()).select_from(AuditEntry).filter_by(action="signal.handled"))
        == 1
    )


def test_one_reply_sent_twice_at_once_is_one_reply_and_one_mail(app, board):
    postgres_only(app)
    people, ids, _emergency, _client = board
    responses = twice_at_once(
        coordinators(app, people),
        f"/emergencies/board/signals/{ids['signal']}/reply",
        {"body": "Takk for signalet"},
        page=signal_page(ids),
        same_key=True,
    )
    assert sorted(r.status_code for r in responses) == [303, 303]
    assert db.session.scalar(select(func.count()).select_from(SignalReply)) == 1
    assert (
        db.session.scalar(select(func.count()).select_from(OutboxMessage).filter_by(template="signal_reply"))
        == 1
    )


def test_two_replies_at_once_are_two(app, board):
    postgres_only(app)
    people, ids, _emergency, _client = board
    twice_at_once(
        coordinators(app, people),
        f"/emergencies/board/signals/{ids['signal']}/reply",
        {"body": "Takk for signalet"},
        page=signal_page(ids),
    )
    assert db.session.scalar(select(func.count()).select_from(SignalReply)) == 2
    assert (
        db.session.scalar(select(func.count()).select_from(OutboxMessage).filter_by(template="signal_reply"))
        == 2
    )


def test_two_signals_merged_into_each_other_at_once_make_no_chain(app, board):
    postgres_only(app)
    people, ids, _emergency, _client = board
    from tests.conftest import at_once, csrf_token_from

    clients = coordinators(app, people)
    forms = []
    for client, (signal, into) in zip(
        clients, [(ids["signal"], ids["other_signal"]), (ids["other_signal"], ids["signal"])], strict=True
    ):
        token = csrf_token_from(client.get(signal_page(ids)))
        forms.append(
            (client, f"/emergencies/board/signals/{signal}/merge", {"into": into, "csrf_token": token})
        )

    def send(wait, client, url, data):
        wait()
        return client.post(url, data=data)

    responses = at_once(send, forms)
    assert sorted(r.status_code for r in responses) == [303, 422]
    db.session.expire_all()
    merged = db.session.scalars(select(Signal).where(Signal.duplicate_of_id.is_not(None))).all()
    assert len(merged) == 1 and db.session.get(Signal, merged[0].duplicate_of_id).duplicate_of_id is None
    assert (
        db.session.scalar(select(func.count()).select_from(AuditEntry).filter_by(action="signal.merged")) == 1
    )
