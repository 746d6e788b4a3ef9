"""A review's results in constant time: a closed cycle's figures are computed once, in the close,
and kept unchanged; the results page of a closed cycle reads them, not the answers; an open
cycle's figures are read from the answers whenever one has come since (exact, whatever arrives
at once)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from extensions import db
from models import ReviewCycle, ReviewResponse
from models import review as reviews
from models.review import ReviewFigures
from tests.conftest import sign_in
from tests.helpers import answer_form, fresh_cycle

OPENED = datetime(2027, 3, 1, 9, tzinfo=UTC)


@pytest.fixture
def five(create_member, municipality):
    bergen = municipality("4601")
    members = [create_member(bergen, name=f"Medlem {i}") for i in range(5)]
    db.session.commit()
    return members


def respond(member, cycle, scores, comment=None, stay=True, now=None):
    response = db.session.scalar(select(ReviewResponse).filter_by(cycle_id=cycle.id, member_id=member.id))
    reviews.answer(
        response,
        stay,
        scores,
        {"competence": comment} if comment else {},
        change_wish="Mer tolking" if comment else None,
        now=now,
    )
    db.session.commit()
    return response


def answered_at_fixed_times(five, network, year=2027):
    """A cycle opened at fixed dates, answered by three of five on two days: (cycle, opened)."""
    opened = OPENED.replace(year=year)
    cycle = reviews.open_cycle(
        network, year, opened + timedelta(days=21), opened + timedelta(days=14), now=opened
    )
    db.session.commit()
    respond(five[0], cycle, {"competence": 4, "equity": 5}, "Gode møter", now=opened + timedelta(days=1))
    respond(five[1], cycle, {"competence": 2, "emergency": 3}, now=opened + timedelta(days=1, hours=2))
    respond(five[2], cycle, {"competence": 4}, stay=False, now=opened + timedelta(days=3))
    return cycle, opened


def stored(cycle):
    db.session.expire_all()
    return db.session.get(ReviewFigures, cycle.id)


def coordinator_client(app, create_coordinator):
    client = app.test_client()
    sign_in(client, create_coordinator("NIK").email)
    return client


def test_the_figures_kept_at_the_close_are_the_live_figures_just_before_it(app, five, networks):
    cycle, opened = answered_at_fixed_times(five, networks["NIK"])
    before = reviews.live_results(cycle)
    assert (before.asked, before.answered, before.lapsed) == (5, 3, 0)
    assert before.summary["competence"]["counts"] == [0, 1, 0, 2, 0]
    assert [(day.isoformat(), n, total) for day, n, total in before.days] == [
        ("2027-03-02", 2, 2),
        ("2027-03-04", 1, 3),
    ]
    assert stored(cycle) is None  # nothing kept while it is open

    lapsed = reviews.close(cycle, now=opened + timedelta(days=21))
    db.session.commit()
    kept = stored(cycle)
    assert kept is not None and lapsed == 2
    assert (kept.asked, kept.answered, kept.lapsed) == (5, 3, 2)
    assert kept.summary == before.summary
    assert reviews.results(db.session.get(ReviewCycle, cycle.id)) == before._replace(lapsed=2)


def test_a_closed_cycles_page_reads_the_kept_figures_and_no_aggregate_over_the_answers(
    app, five, networks, create_coordinator, count_queries
):
    nik = networks["NIK"]
    opened = OPENED.replace(year=2025)  # last year: everyone answered and stayed
    last_year = reviews.open_cycle(
        nik, 2025, opened + timedelta(days=21), opened + timedelta(days=14), now=opened
    )
    db.session.commit()
    for member, score in zip(five, (3, 3, 4, 3, 3), strict=True):
        respond(member, last_year, {"competence": score}, now=opened + timedelta(days=2))
    reviews.close(last_year, now=opened + timedelta(days=21))
    db.session.commit()
    cycle, opened = fresh_cycle(nik)
    for member, score in zip(five[:4], (5, 4, 4, 1), strict=True):
        respond(member, cycle, {"competence": score}, "Bra" if score == 1 else None)
    reviews.close(cycle)
    db.session.commit()
    client = coordinator_client(app, create_coordinator)

    with count_queries() as statements:
        page = client.get(f"/reviews/cycle/{cycle.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "4 av 5 har svart" in html
    assert "Gjennomsnitt 3,5 av 5 fra 4 svar" in html  # (5 + 4 + 4 + 1) / 4
    lapsed = html.split('id="lapsed"')[1]
    assert "Medlem 4" in lapsed and "/reviews/response/" in lapsed  # the one who did not answer, restorable
    assert re.search(
        r"<th scope=\"row\">2025</th>\s*<td class=\"num\">100\s*%</td>\s*<td class=\"num\">3,2</td>", html
    )
    aggregates = [
        s
        for s in statements
        if "review_responses" in s and re.search(r"\b(count|avg|sum|max|date)\(", s, re.I)
    ]
    assert aggregates == []
    assert sum("review_figures" in s for s in statements) == 2  # this year's and the earlier years'


def test_the_kept_figures_do_not_change_when_answers_change_after_the_close(app, five, networks):
    """Erasing a member who answered keeps their response (their name goes from its text) and so the
    counts – which say nothing about a person – stand as they were at the close; the database
    refuses a second row and any change to the one kept."""
    cycle, opened = answered_at_fixed_times(five, networks["NIK"])
    reviews.close(cycle, now=opened + timedelta(days=21))
    db.session.commit()
    kept = stored(cycle)
    before = (kept.asked, kept.answered, kept.lapsed, kept.summary, kept.days)

    five[0].erase(reason="test")
    db.session.execute(
        update(ReviewResponse).where(ReviewResponse.cycle_id == cycle.id).values(score_equity=1)
    )
    db.session.commit()
    kept = stored(cycle)
    assert (kept.asked, kept.answered, kept.lapsed, kept.summary, kept.days) == before
    assert reviews.live_results(cycle).summary != kept.summary  # the answers did change

    with pytest.raises(IntegrityError):
        reviews.store_results(cycle)
    db.session.rollback()
    with pytest.raises(DBAPIError):
        db.session.execute(text("UPDATE review_figures SET answered = answered + 1"))
    db.session.rollback()
    assert stored(cycle).answered == 3


def test_an_open_cycles_page_shows_each_new_answer(app, client, five, networks, create_coordinator):
    cycle, _opened = fresh_cycle(networks["NIK"])
    coordinator = coordinator_client(app, create_coordinator)
    url = f"/reviews/cycle/{cycle.id}"
    assert "0 av 5 har svart" in coordinator.get(url).get_data(as_text=True)
    respond(five[0], cycle, {"competence": 5})
    html = coordinator.get(url).get_data(as_text=True)
    assert "1 av 5 har svart" in html and "Gjennomsnitt 5,0 av 5 fra 1 svar" in html
    respond(five[1], cycle, {"competence": 2})
    progress = coordinator.get(url, headers={"HX-Request": "true", "HX-Target": "progress"})
    assert "2 av 5 har svart" in progress.get_data(as_text=True)
    assert reviews.results(cycle) == reviews.live_results(cycle)


def test_two_answers_at_once_keep_the_open_cycles_figures_exact(app, five, networks, create_coordinator):
    from models import tokens
    from tests.conftest import at_once, csrf_token_from, postgres_only

    postgres_only(app)
    cycle, _opened = fresh_cycle(networks["NIK"])
    coordinator = coordinator_client(app, create_coordinator)
    url = f"/reviews/cycle/{cycle.id}"
    assert "0 av 5 har svart" in coordinator.get(url).get_data(as_text=True)  # read (and kept) before
    links = []
    for member in five[:2]:
        response = db.session.scalar(select(ReviewResponse).filter_by(cycle_id=cycle.id, member_id=member.id))
        links.append(f"/reviews/answer/{tokens.make('review', response=response.id)}")
    tabs = [app.test_client(), app.test_client()]
    forms = [
        {**answer_form(score_competence=str(score)), "csrf_token": csrf_token_from(tab.get(link))}
        for tab, link, score in zip(tabs, links, (5, 1), strict=True)
    ]

    def send(wait, tab, link, form):
        wait()
        return tab.post(link, data=form)

    answers = at_once(send, list(zip(tabs, links, forms, strict=True)))
    assert [r.status_code for r in answers] == [200, 200]
    db.session.expire_all()
    html = coordinator.get(url).get_data(as_text=True)
    assert "2 av 5 har svart" in html and "Gjennomsnitt 3,0 av 5 fra 2 svar" in html
    figures = reviews.results(db.session.get(ReviewCycle, cycle.id))
    assert figures.summary["competence"]["counts"] == [1, 0, 0, 0, 1]
    assert figures == reviews.live_results(cycle)


def test_two_closes_at_once_keep_the_figures_once(app, five, networks, create_coordinator):
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    cycle, _opened = fresh_cycle(networks["NIK"])
    respond(five[0], cycle, {"competence": 3})
    coordinator = create_coordinator("NIK")
    tabs = [app.test_client(), app.test_client()]
    for tab in tabs:
        sign_in(tab, coordinator.email)
    url = f"/reviews/cycle/{cycle.id}/close"
    answers = twice_at_once(tabs, url, page=url)
    assert all(r.status_code < 500 for r in answers), [r.status_code for r in answers]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(ReviewFigures)) == 1
    assert (stored(cycle).asked, stored(cycle).answered, stored(cycle).lapsed) == (5, 1, 4)


def test_figures_are_counts_only(app, five, networks):
    """Nothing about a person is kept: no name, address or written comment in the figures."""
    cycle, opened = answered_at_fixed_times(five, networks["NIK"])
    reviews.close(cycle, now=opened + timedelta(days=21))
    db.session.commit()
    kept = stored(cycle)
    written = repr((kept.summary, kept.days))
    assert "Gode møter" not in written and "Mer tolking" not in written
    assert not any(m.name in written or m.email in written for m in five)


def test_the_lapsed_are_listed_a_page_at_a_time_with_their_restore_buttons(
    app, five, networks, create_coordinator, monkeypatch
):
    from blueprints.reviews import routes

    monkeypatch.setattr(routes, "LAPSED_PER_PAGE", 2)
    cycle, _opened = fresh_cycle(networks["NIK"])
    respond(five[0], cycle, {"competence": 3})
    reviews.close(cycle)
    db.session.commit()
    client = coordinator_client(app, create_coordinator)
    url = f"/reviews/cycle/{cycle.id}"
    first = client.get(url).get_data(as_text=True).split('id="lapsed"')[1]
    second = client.get(f"{url}?lapsed=2").get_data(as_text=True).split('id="lapsed"')[1]
    assert "Medlem 1" in first and "Medlem 2" in first and "Medlem 3" not in first
    assert "Medlem 3" in second and "Medlem 4" in second and "Medlem 1" not in second
    assert "Side 1 av 2" in first and f"{url}?lapsed=2#lapsed" in first
    assert second.count("/restore") == 2 and "Medlem 0" not in first + second
