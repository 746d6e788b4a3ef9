"""The homes: a member and a coordinator see at once what waits for them, each item a link to act."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from extensions import db
from models import ChangeRequest, Network, Signup, TopicProposal, advice, outbox
from models import meeting as meetings
from models import newsletter as newsletters
from models import review as reviews
from tests.conftest import sign_in


def links(page):
    return {
        re.sub(r"\s+", " ", text).strip(): href
        for href, text in re.findall(r'<a\b[^>]*?\bhref="([^"]+)"[^>]*>(.*?)</a>', page, flags=re.S)
    }


@pytest.fixture
def seeded(app, create_member, create_coordinator, municipality):
    """Bergen: Kari (everything waits for her) and Ola, both active in NIK, no main contact."""
    bergen = municipality("4601")
    kari = create_member(bergen, name="Kari Nordmann")
    create_member(bergen, name="Ola Nordmann")
    waiting = create_member(municipality("0301"), name="Per Venter", status="pending_anchoring")
    waiting.request_anchoring()
    coordinator = create_coordinator("NIK", name="Kora Koordinator")
    nik = db.session.scalar(select(Network).filter_by(code="NIK"))
    now = datetime.now(UTC)
    soon = now + timedelta(days=10)
    signed = meetings.plan(
        [nik],
        kind="professional_meeting",
        title="Fagmøte om tolking",
        format="digital",
        starts_at=soon,
        ends_at=soon + timedelta(hours=2),
    )
    meetings.plan(
        [nik],
        kind="network_meeting",
        title="Nettverksmøte i Bergen",
        format="digital",
        starts_at=soon + timedelta(days=20),
        ends_at=soon + timedelta(days=20, hours=3),
    )
    db.session.flush()
    db.session.add(Signup(meeting=signed, member=kari))
    db.session.add(
        TopicProposal(
            network=nik,
            proposed_by=kari,
            title="Tolk for barn",
            meeting_kind="network_meeting",
            status="waiting",
        )
    )
    newsletters.submit(kari, None, "Kurs i Bergen", "Tekst")
    sent = newsletters.create("Desember-nytt", "Hei", [nik], by=coordinator)
    newsletters.send(sent, coordinator)
    advice.post(
        "Ny veileder",
        "Les",
        None,
        [nik],
        now + timedelta(days=5),
        now + timedelta(days=3),
        by=coordinator,
    )
    reviews.open_cycle(nik, now.year, now + timedelta(days=21), now + timedelta(days=14))
    kari.change_manager("Ny Leder", "ny.leder@bergen.kommune.example")
    kari.request_anchoring()
    db.session.add(
        ChangeRequest(
            organisation=bergen,
            network=nik,
            action="remove",
            email="x@bergen.kommune.example",
            reported_by=kari,
        )
    )
    failed = outbox.queue("nobody@invalid", "Test", "reset_password", member=kari, url="http://localhost/")
    db.session.flush()
    failed.status = "failed"
    db.session.commit()
    return kari, coordinator


def test_the_member_home_shows_every_kind_of_item_and_links_to_act(app, client, seeded):
    kari, _coordinator = seeded
    response = sign_in(client, kari.email)
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    found = links(page)

    assert "Velkommen, Kari Nordmann" in page
    review = next(
        href for text, href in found.items() if text.startswith("Svar på den årlige gjennomgangen av NIK")
    )
    assert "/reviews/answer/" in review
    assert client.get(review.replace("http://localhost", "")).status_code == 200
    expected = {
        "Lederen din, Ny Leder, har ennå ikke bekreftet at du deltar.": "/me/",
        "Bergen trenger en hovedkontakt: flere av dere deltar, og ingen koordinerer.": "/municipality/",
        "Du er påmeldt: Fagmøte om tolking,": "/meetings/",
        "Forslaget ditt «Tolk for barn» venter på koordinatoren.": "/meetings/plan/NIK",
        "Innspillet ditt «Kurs i Bergen» venter på koordinatoren.": "/newsletter/input",
        "Direktoratet ber om innspill fra deg: Ny veileder": "/advice/",
    }
    for start, href in expected.items():
        assert any(text.startswith(start) and h.startswith(href) for text, h in found.items()), start
    assert found["Fagmøte om tolking"].startswith("/meetings/") and found[
        "Nettverksmøte i Bergen"
    ].startswith("/meetings/")
    assert found["Desember-nytt"].startswith("/newsletter/")


def test_the_member_home_says_when_nothing_waits(app, client, create_member, municipality):
    member = create_member(municipality("4601"))
    sign_in(client, member.email)
    page = client.get("/").get_data(as_text=True)
    assert "Ingenting venter på deg nå." in page and "Det er ikke sendt noe nyhetsbrev" in page


def test_the_coordinator_home_shows_every_kind_of_item_and_links_to_act(app, client, seeded):
    from models.home import plan_year

    _kari, coordinator = seeded
    sign_in(client, coordinator.email)
    # The plan shown is this year's, or next year's from 1 November: count the seeded meetings in it.
    year = plan_year(datetime.now(UTC))
    planned = {m.kind.value: 0 for m in db.session.scalars(select(meetings.Meeting))}
    for m in db.session.scalars(select(meetings.Meeting).filter_by(year=year)):
        planned[m.kind.value] += 1
    nu, pu = planned["network_meeting"], planned["professional_meeting"]
    for path in ("/", "/coordinator/"):
        found = links(client.get(path).get_data(as_text=True))
        expected = {
            "2 deltakere venter på lederen sin.": "/anchoring/pending",  # Per, and Kari with a new manager
            "1 melding om medlemslisten venter.": "/coordinator/change-requests",
            "NIK: 1 kommune eller fylkeskommune mangler hovedkontakt.": "/coordinator/overview?network=NIK",
            "NIK: den årlige gjennomgangen er åpen, 0 av 2 har svart;": "/reviews/cycle/",
            "1 innspill til nyhetsbrevet venter.": "/newsletter/queue",
            "Innspillsrunden «Ny veileder» stenger": "/advice/",
            "1 e-post kunne ikke leveres.": "/coordinator/outbox?status=failed",
            f"NIK: {nu} av 2 nettverksmøter og {pu} av inntil 4 fagmøter planlagt.": f"/meetings/plan/NIK/{year}",
        }
        for start, href in expected.items():
            assert any(text.startswith(start) and h.startswith(href) for text, h in found.items()), (
                path,
                start,
            )


def test_a_coordinator_without_memberships_lands_on_the_coordinators_items(client, create_coordinator):
    sign_in(client, create_coordinator("NIFS").email)
    page = client.get("/").get_data(as_text=True)
    assert "Venter i nettverkene dine" in page and "Ingenting venter på deg nå." in page
    assert "Trenger din oppmerksomhet" not in page


def test_the_coordinator_home_warns_when_due_mail_waits_for_a_worker_that_does_not_run(
    app, client, create_coordinator
):
    from models import heartbeat
    from models.types import utcnow

    sign_in(client, create_coordinator("NIK").email)
    warning = "E-post sendes ikke ut: utsendingen har ikke kjørt siden"

    def home():
        page = client.get("/").get_data(as_text=True)
        return re.sub(r"\s+", " ", page)

    assert warning not in home()  # no mail waits
    now = utcnow()
    mail = outbox.queue(
        "mottaker@kommune.example", "Test", "reset_password", member=None, url="http://localhost/"
    )
    db.session.commit()
    assert warning not in home()  # it waits a moment: no worker has beaten yet, but it is new
    mail.created_at = now - timedelta(minutes=11)
    db.session.commit()
    page = home()
    assert (
        f'<p class="ds-alert notice" data-color="warning" role="alert">{warning} ' in page
    )  # never: since the oldest waiting mail
    heartbeat.beat("outbox", "sent 0, failed 0, deferred 0", now=now - timedelta(minutes=3))
    assert warning not in home()  # it ran three minutes ago
    heartbeat.beat("outbox", "sent 0, failed 0, deferred 0", now=datetime(2026, 3, 4, 11, 30, tzinfo=UTC))
    assert f"{warning} 4. mars 12:30." in home()  # the last beat, in Oslo time
    mail.next_attempt_at = now + timedelta(minutes=5)  # waiting its back-off: not due, the worker is not late
    db.session.commit()
    assert warning not in home()
    mail.next_attempt_at = now  # due again: on the coordinator page too
    db.session.commit()
    assert warning in client.get("/coordinator/").get_data(as_text=True)


# -- issue 20, item 8: homes that look ahead --------------------------------------------------------


def sections(page):
    """{section heading: the text of its links}, for the page's <section>s."""
    found = {}
    for body in re.findall(r"<section\b.*?</section>", page, flags=re.S):
        heading = re.search(r"<h2\b[^>]*>(.*?)</h2>", body, flags=re.S)
        if heading:
            found[heading.group(1).strip()] = " | ".join(links(body))
    return found


def test_a_hand_over_offer_waits_on_the_members_home_with_a_link_to_answer_it(
    app, client, create_member, municipality
):
    from models import main_contact

    bergen = municipality("4601")
    kari = create_member(bergen, name="Kari Nordmann")
    ola = create_member(bergen, name="Ola Nordmann")
    kari.memberships[0].make_main_contact()
    db.session.commit()
    main_contact.offer(kari.memberships[0], ola.memberships[0])
    db.session.commit()

    sign_in(client, ola.email)
    page = client.get("/").get_data(as_text=True)
    offer = "Kari Nordmann spør om du vil ta over som hovedkontakt for Bergen i NIK: svar ja eller nei."
    assert links(page)[offer] == f"/municipality/{bergen.id}#network-NIK"
    assert offer in sections(page)["Trenger din oppmerksomhet"]
    assert "Ingenting venter på deg nå." not in page
    answer_page = client.get(f"/municipality/{bergen.id}").get_data(as_text=True)
    assert (
        "/accept" in answer_page and "Kari Nordmann spør om du vil ta over som hovedkontakt." in answer_page
    )

    # Answered, it is gone; Kari (who offered) never had it on her home.
    main_contact.answer(db.session.get(main_contact.Handover, _offer_id(ola)), ola, True)
    db.session.commit()
    assert offer not in client.get("/").get_data(as_text=True)


def _offer_id(member):
    from models.main_contact import Handover

    return db.session.scalar(select(Handover.id).where(Handover.to_membership_id == member.memberships[0].id))


@pytest.mark.parametrize(
    ("day", "shown"),
    [((10, 31), 2030), ((11, 1), 2031), ((11, 30), 2031)],
)
def test_the_coordinators_home_shows_next_years_plan_from_1_november(
    app, client, create_coordinator, networks, day, shown
):
    import time_machine

    coordinator = create_coordinator("NIK")
    with time_machine.travel(datetime(2030, *day, 12, tzinfo=UTC), tick=True):
        for year, title in ((2030, "Desembermøtet"), (2031, "Vårmøtet")):
            starts = datetime(year, 12 if year == 2030 else 3, 12, 9, tzinfo=UTC)
            meetings.plan(
                [networks["NIK"]],
                kind="network_meeting",
                title=title,
                format="digital",
                starts_at=starts,
                ends_at=starts + timedelta(hours=3),
            )
        meetings.plan(  # next year's plan has two professional meetings; this year's none
            [networks["NIK"]],
            kind="professional_meeting",
            title="Fagmøte",
            format="digital",
            starts_at=datetime(2031, 4, 2, 9, tzinfo=UTC),
            ends_at=datetime(2031, 4, 2, 11, tzinfo=UTC),
        )
        db.session.commit()
        sign_in(client, coordinator.email)
        for path in ("/", "/coordinator/"):
            page = client.get(path).get_data(as_text=True)
            quota = next(text for text in links(page) if text.startswith("NIK: "))
            assert links(page)[quota] == f"/meetings/plan/NIK/{shown}", path
            if shown == 2031:
                assert "Neste år: møter i 2031" in page
                assert quota == "NIK: 1 av 2 nettverksmøter og 1 av inntil 4 fagmøter planlagt."
            else:
                assert "Møter i 2030" in page and "Neste år" not in page
                assert quota == "NIK: 1 av 2 nettverksmøter og 0 av inntil 4 fagmøter planlagt."


def test_the_coordinators_home_lists_advice_drafts_and_missing_receipts_whatever_the_date(
    app, client, create_member, create_coordinator, municipality, networks
):
    from models import call_in as call_ins

    bergen = municipality("4601")
    kari = create_member(bergen, name="Kari Nordmann")
    ola = create_member(bergen, name="Ola Nordmann")
    coordinator = create_coordinator("NIK")
    nik = networks["NIK"]
    now = datetime.now(UTC)
    advice.post(
        "Veileder om tolking",
        "Les",
        None,
        [nik],
        now + timedelta(days=21),
        now + timedelta(days=14),
        by=coordinator,
    )
    draft = newsletters.create("Januar-nytt", "Hei", [nik], by=coordinator)
    call = meetings.plan(
        [nik],
        kind="emergency",
        title="Smitteutbrudd",
        format="digital",
        starts_at=now + timedelta(hours=2),
        ends_at=now + timedelta(hours=3),
    )
    db.session.flush()
    call_ins.acknowledge(call, kari)
    db.session.commit()

    sign_in(client, coordinator.email)
    found = links(client.get("/").get_data(as_text=True))
    request = next(text for text in found if text.startswith("Innspillsrunden «Veileder om tolking» stenger"))
    assert found[request].startswith("/advice/") and request.endswith(": 0 svar så langt.")
    drafted = next(
        text for text in found if text.startswith("Nyhetsbrevet «Januar-nytt» er et utkast og ikke sendt")
    )
    assert found[drafted] == f"/newsletter/{draft.id}"
    assert found["Innkallingen «Smitteutbrudd»: 1 av 2 har ikke bekreftet mottak."] == (
        f"/meetings/{call.id}/acknowledgements"
    )

    # Everyone confirmed, the issue sent: neither is asked of the coordinator any more.
    call_ins.acknowledge(call, ola)
    newsletters.send(draft, coordinator)
    db.session.commit()
    found = links(client.get("/").get_data(as_text=True))
    assert not any(
        text.startswith(("Innkallingen «Smitteutbrudd»", "Nyhetsbrevet «Januar-nytt»")) for text in found
    )


def test_the_coordinators_home_says_what_the_waiting_reports_are(app, client, seeded):
    _kari, coordinator = seeded
    sign_in(client, coordinator.email)
    found = links(client.get("/").get_data(as_text=True))
    assert found["1 melding om medlemslisten venter."] == "/coordinator/change-requests"
    assert "1 melding venter." not in found


def test_news_is_kept_apart_from_what_needs_attention(
    app, client, create_member, create_coordinator, municipality, networks
):
    kari = create_member(municipality("4601"), name="Kari Nordmann")
    coordinator = create_coordinator("NIK")
    nik = networks["NIK"]
    sent_input = newsletters.submit(kari, None, "Kurs i Bergen", "Tekst")
    drafted_input = newsletters.submit(kari, None, "Rapport fra Bergen", "Tekst")
    newsletters.submit(kari, None, "Venter fortsatt", "Tekst")
    sent = newsletters.create("Desember-nytt", "Hei", [nik], by=coordinator)
    newsletters.include(sent_input, sent, coordinator)
    newsletters.send(sent, coordinator)
    draft = newsletters.create("Januar-nytt", "Hei", [nik], by=coordinator)
    newsletters.include(drafted_input, draft, coordinator)
    db.session.commit()

    sign_in(client, kari.email)
    page = client.get("/").get_data(as_text=True)
    parts = sections(page)
    news, attention = parts["Nytt for deg"], parts["Trenger din oppmerksomhet"]
    assert "Innspillet ditt «Kurs i Bergen» ble sendt ut i nyhetsbrevet «Desember-nytt»" in news
    assert (
        "Innspillet ditt «Rapport fra Bergen» er tatt med i utkastet «Januar-nytt»; det er ikke sendt ennå."
        in news
    )
    assert "ble sendt ut" not in attention and "utkastet" not in attention
    assert "Innspillet ditt «Venter fortsatt» venter på koordinatoren." in attention
    sent_link = next(text for text in links(page) if text.startswith("Innspillet ditt «Kurs i Bergen»"))
    assert links(page)[sent_link] == f"/newsletter/{sent.id}"

    # The input page says when the input was handed in, not "sent", while its issue is a draft.
    mine = re.sub(r"\s+", " ", client.get("/newsletter/input").get_data(as_text=True))
    assert re.search(r"Til Alle tre nettverkene, levert \d+\. \w+ \d{4}", mine)
    assert ", sendt " not in mine


def test_the_homes_take_as_many_statements_with_many_items_as_with_one(
    app, create_member, create_coordinator, municipality, networks, count_queries
):
    from models import Member, main_contact
    from models import call_in as call_ins

    bergen = municipality("4601")
    coordinator = create_coordinator("NIK")
    nik = networks["NIK"]
    kari = create_member(bergen, name="Kari Nordmann")
    ola = create_member(bergen, name="Ola Nordmann")
    ola.memberships[0].make_main_contact()
    db.session.commit()
    main_contact.offer(ola.memberships[0], kari.memberships[0])
    now = datetime.now(UTC)

    def add(n):
        advice.post(
            f"Runde {n}",
            "Les",
            None,
            [nik],
            now + timedelta(days=20 + n),
            now + timedelta(days=10),
            by=coordinator,
        )
        call = meetings.plan(
            [nik],
            kind="emergency",
            title=f"Innkalling {n}",
            format="digital",
            starts_at=now + timedelta(hours=n + 1),
            ends_at=now + timedelta(hours=n + 2),
        )
        db.session.flush()
        call_ins.acknowledge(call, ola)
        newsletters.create(f"Utkast {n}", "Hei", [nik], by=coordinator)
        item = newsletters.submit(kari, None, f"Innspill {n}", "Tekst")
        newsletters.include(item, newsletters.create(f"Nr {n}", "Hei", [nik], by=coordinator), coordinator)
        newsletters.submit(kari, None, f"Venter {n}", "Tekst")
        db.session.commit()

    def statements():
        counts = []
        for email in (kari.email, coordinator.email):
            db.session.expire_all()
            client = app.test_client()
            sign_in(client, email)
            with count_queries() as run:
                page = client.get("/").get_data(as_text=True)
            counts.append(len(run))
        return counts, page

    add(0)
    few, page = statements()
    assert "Innkalling 0" in page and "Utkast 0" in page
    add(1)
    add(2)
    many, page = statements()
    assert "Innkalling 2" in page and "Utkast 2" in page and "Runde 2" in page
    assert db.session.scalar(select(Member.id).filter_by(name="Ola Nordmann"))
    assert many == few
