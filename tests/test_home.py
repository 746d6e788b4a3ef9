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
    _kari, coordinator = seeded
    sign_in(client, coordinator.email)
    for path in ("/", "/coordinator/"):
        found = links(client.get(path).get_data(as_text=True))
        expected = {
            "2 deltakere venter på lederen sin.": "/anchoring/pending",  # Per, and Kari with a new manager
            "1 melding venter.": "/coordinator/change-requests",
            "NIK: 1 kommune eller fylkeskommune mangler hovedkontakt.": "/coordinator/overview?network=NIK",
            "NIK: den årlige gjennomgangen er åpen, 0 av 2 har svart;": "/reviews/cycle/",
            "1 innspill til nyhetsbrevet venter.": "/newsletter/queue",
            "Innspillsrunden «Ny veileder» stenger": "/advice/",
            "1 e-post kunne ikke leveres.": "/coordinator/outbox?status=failed",
            "NIK: 1 av 2 nettverksmøter og 1 av inntil 4 fagmøter planlagt.": "/meetings/plan/NIK",
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
