"""The yearly review: open → mails → answers → one reminder to the rest → close → lapsed, restorable."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from extensions import db
from models import AuditEntry, Membership, MembershipStatus, OutboxMessage, ReviewCycle, ReviewResponse
from models import review as reviews
from tests.conftest import post, sign_in
from tests.helpers import answer_form, figure, fresh_cycle, review_link, run_commands_at_once, says

# Fixed dates for what runs with an explicit ``now`` only; answers given through the pages use the real
# clock, so the tests that answer open their cycle relative to now (``fresh_cycle``).
OPENED = datetime(2027, 3, 1, 9, tzinfo=UTC)
REMIND = OPENED + timedelta(days=14)
DEADLINE = OPENED + timedelta(days=21)


def stamp(moment):
    """A moment as ``flask reviews tick --now`` takes it."""
    return moment.strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def five(create_member, municipality):
    bergen = municipality("4601")
    members = [
        create_member(bergen, name=f"Medlem {i}", manager_email=f"leder{i}@bergen.kommune.example")
        for i in range(5)
    ]
    members[4].memberships[0].make_main_contact()
    db.session.commit()
    return members


def test_a_full_cycle_lapses_exactly_those_who_did_not_answer(
    app, client, runner, five, networks, deliver, mail_outbox, create_coordinator
):
    cycle, opened = fresh_cycle(networks["NIK"])
    remind, deadline = opened + timedelta(days=14), opened + timedelta(days=21)
    deliver()
    assert sorted(m["To"] for m in mail_outbox) == sorted(m.email for m in five)
    links = {m["To"]: review_link(m) for m in mail_outbox}
    mail_outbox.clear()

    # Two stay (one with a new line manager, who is asked to confirm), one leaves.
    for member in five[:2]:
        page = client.get(links[member.email])
        assert page.status_code == 200 and "Medlem" in page.get_data(as_text=True)
        response = post(client, links[member.email], answer_form(), page=links[member.email])
        assert "Du står fortsatt på listen" in response.get_data(as_text=True)
    assert (
        post(client, links[five[2].email], answer_form("leave"), page=links[five[2].email]).status_code == 200
    )
    # The link is spent: a second answer changes nothing.
    again = post(client, links[five[0].email], answer_form(score_equity="1"), page=links[five[0].email])
    assert again.status_code == 409 and "Du svarte" in again.get_data(as_text=True)
    db.session.expire_all()
    assert five[0].manager_email == "lise.leder@bergen.kommune.example" and five[0].unit == "Helsestasjonen"
    assert five[2].memberships[0].status == MembershipStatus.LEFT
    deliver()
    assert (
        sorted(m["To"] for m in mail_outbox) == ["lise.leder@bergen.kommune.example"] * 2
    )  # anchoring asked again
    mail_outbox.clear()

    # Before the reminder date nothing happens; on it, one reminder to the two who have not answered.
    tick = lambda moment: runner.invoke(args=["reviews", "tick", "--now", stamp(moment)]).output  # noqa: E731
    assert figure(tick(opened + timedelta(days=9)), "reminders") == 0
    assert figure(tick(remind + timedelta(hours=3)), "reminders") == 2
    assert figure(tick(remind + timedelta(hours=3, minutes=1)), "reminders") == 0
    deliver()
    assert sorted(m["To"] for m in mail_outbox) == sorted(m.email for m in five[3:])
    assert all(m["Subject"].startswith("Påminnelse") for m in mail_outbox)
    mail_outbox.clear()

    # At the deadline the two are lapsed, each audited; the main contact among them vacates the role.
    said = tick(deadline + timedelta(hours=1))
    assert figure(said, "cycles closed") == 1 and figure(said, "members lapsed") == 2
    said = tick(deadline + timedelta(hours=1, minutes=1))
    assert figure(said, "cycles closed") == 0 and figure(said, "members lapsed") == 0
    deliver()
    # The two lapsed are told, once each, how to come back (no coordinator yet: no digest).
    assert sorted(m["To"] for m in mail_outbox) == sorted(m.email for m in five[3:])
    assert all(m["Subject"] == "Du står ikke lenger på medlemslisten til NIK" for m in mail_outbox)
    mail_outbox.clear()
    db.session.expire_all()
    statuses = {m.name: m.memberships[0].status for m in five}
    assert statuses == {
        "Medlem 0": "active",
        "Medlem 1": "active",
        "Medlem 2": "left",
        "Medlem 3": "lapsed",
        "Medlem 4": "lapsed",
    }
    assert not five[4].memberships[0].is_main_contact
    lapses = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "membership.status", AuditEntry.after["status"].as_string() == "lapsed"
        )
    ).all()
    assert sorted(e.member_id for e in lapses) == sorted(m.id for m in five[3:])
    assert all(e.reason == reviews.LAPSE_REASON and e.actor_label == "flask reviews tick" for e in lapses)
    assert db.session.get(ReviewCycle, cycle.id).status == "closed"

    # The coordinator restores one: back on the list (an active membership), told by mail.
    coordinator = app.test_client()
    sign_in(coordinator, create_coordinator("NIK").email)
    response = db.session.scalar(select(ReviewResponse).where(ReviewResponse.member_id == five[3].id))
    assert (
        post(
            coordinator, f"/reviews/response/{response.id}/restore", page=f"/reviews/cycle/{cycle.id}"
        ).status_code
        == 303
    )
    db.session.expire_all()
    assert five[3].memberships[0].status == MembershipStatus.ACTIVE and response.restored_at is not None
    deliver()
    assert [m["To"] for m in mail_outbox] == [five[3].email]

    # An address the mail server refused for good is shown as such.
    db.session.execute(
        update(OutboxMessage).where(OutboxMessage.recipient == five[4].email).values(bounced=True)
    )
    db.session.commit()
    results = coordinator.get(f"/reviews/cycle/{cycle.id}").get_data(as_text=True)
    lapsed_list = results.split('id="lapsed"')[1]
    assert lapsed_list.count("adressen avviste e-post") == 1 and says(lapsed_list, "Medlem 4")
    assert says(results, "3 av 5 har svart") and says(results, "3 kommentarer") and says(results, "3 forslag")
    # The answers over time say their days as people write them, not 2027-02-03.
    caption = re.search(r"<figcaption>(Fra [^<]*)</figcaption>", results).group(1)
    assert re.fullmatch(r"Fra \d{1,2}\. [a-zø]+ \d{4} til \d{1,2}\. [a-zø]+ \d{4}", caption), caption
    # The comments are read when a list is opened: the page without script, or htmx's fragment.
    assert "Gode fagmøter" not in results and "Flere felles møter" not in results
    opened = coordinator.get(f"/reviews/cycle/{cycle.id}?comments=competence").get_data(as_text=True)
    assert "Gode fagmøter" in opened and "Flere felles møter" not in opened
    fragment = coordinator.get(
        f"/reviews/cycle/{cycle.id}?comments=change",
        headers={"HX-Request": "true", "HX-Target": "comments-change"},
    ).get_data(as_text=True)
    assert "Flere felles møter" in fragment and "<html" not in fragment
    # The polled progress brings its count out of band, into the live region that stays (WCAG 4.1.3).
    progress = coordinator.get(
        f"/reviews/cycle/{cycle.id}", headers={"HX-Request": "true", "HX-Target": "progress"}
    ).get_data(as_text=True)
    assert '<p id="answered-count" hx-swap-oob="innerHTML">' in progress
    assert says(progress, "3 av 5 har svart")
    report = coordinator.get(f"/reviews/cycle/{cycle.id}/report").get_data(as_text=True)
    assert "Gode fagmøter" in report and "Flere felles møter" in report
    assert "Gjennomsnitt 4,0 av 5 fra 3 svar" in results  # the one who left scored too


def test_a_lapsed_member_takes_themself_back_within_the_grace_period(client, five, networks):
    # The page asks the real clock whether the lapse is within the grace period: the cycle closed
    # nine days ago, whatever today is (a fixed deadline would make this test fail 90 days after it).
    opened = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    cycle = reviews.open_cycle(
        networks["NIK"], opened.year, opened + timedelta(days=21), opened + timedelta(days=14), now=opened
    )
    reviews.close(cycle, now=opened + timedelta(days=21))
    db.session.commit()
    sign_in(client, five[0].email)
    page = client.get("/me/").get_data(as_text=True)
    assert "Ta meg med tilbake på listen til NIK" in page
    response = db.session.scalar(select(ReviewResponse).where(ReviewResponse.member_id == five[0].id))
    # Not within the grace period: the lapse was long ago.
    response.lapsed_at = datetime.now(UTC) - reviews.GRACE - timedelta(days=1)
    db.session.commit()
    refused = post(client, f"/reviews/mine/{response.id}/restore", page="/me/")
    assert refused.status_code == 303 and "be koordinatoren" in client.get("/me/").get_data(as_text=True)
    db.session.expire_all()
    assert five[0].memberships[0].status == MembershipStatus.LAPSED and response.restored_at is None
    # Nor someone else's lapse.
    other = db.session.scalar(select(ReviewResponse).where(ReviewResponse.member_id == five[1].id))
    assert post(client, f"/reviews/mine/{other.id}/restore", page="/me/").status_code == 403
    response.lapsed_at = datetime.now(UTC) - timedelta(days=3)
    db.session.commit()
    assert post(client, f"/reviews/mine/{response.id}/restore", page="/me/").status_code == 303
    db.session.expire_all()
    assert five[0].memberships[0].status == MembershipStatus.ACTIVE


def test_opening_and_closing_take_the_same_number_of_statements_for_any_number_of_members(
    app, create_member, municipality, networks, count_queries
):
    def measure(n, year):
        oslo = municipality("0301")
        for _ in range(n):
            create_member(oslo)
        with count_queries() as opening:
            cycle = reviews.open_cycle(
                networks["NIK"],
                year,
                DEADLINE.replace(year=year),
                REMIND.replace(year=year),
                now=OPENED.replace(year=year),
            )
        with count_queries() as closing:
            reviews.close(cycle, now=DEADLINE.replace(year=year))
        db.session.commit()
        return len(opening), len(closing)

    small = measure(3, 2027)
    large = measure(30, 2028)
    assert small == large, (small, large)
    # Each of the 3 + 30 asked (the 3 lapsed in 2027 are not asked again), and each lapsed told once.
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 2 * (3 + 30)
    lapsed = db.session.scalar(
        select(func.count()).select_from(Membership).where(Membership.status == MembershipStatus.LAPSED)
    )
    assert lapsed == 33


def test_the_dates_are_checked_and_a_year_has_one_review(app, networks, five):
    with pytest.raises(reviews.DomainError):
        reviews.open_cycle(
            networks["NIK"], 2027, OPENED - timedelta(days=1), OPENED - timedelta(days=2), now=OPENED
        )
    with pytest.raises(reviews.DomainError):
        reviews.open_cycle(networks["NIK"], 2027, DEADLINE, DEADLINE + timedelta(days=1), now=OPENED)
    reviews.open_cycle(networks["NIK"], 2027, DEADLINE, REMIND, now=OPENED)
    db.session.commit()
    with pytest.raises(reviews.DomainError) as refused:
        reviews.open_cycle(networks["NIK"], 2027, DEADLINE, REMIND, now=OPENED)
    assert "2027" in str(refused.value.message)


def test_an_answer_after_the_close_is_refused_politely(client, five, networks, deliver, mail_outbox):
    cycle = reviews.open_cycle(networks["NIK"], 2027, DEADLINE, REMIND, now=OPENED)
    db.session.commit()
    deliver()
    link = review_link(mail_outbox[0])
    reviews.close(cycle, now=DEADLINE)
    db.session.commit()
    page = client.get(link).get_data(as_text=True)
    assert "Gjennomgangen ble avsluttet" in page and '<form method="post" novalidate' not in page
    assert client.get("/reviews/answer/not-a-token").status_code == 400


def test_the_coordinator_previews_then_starts(app, client, five, create_coordinator, deliver, mail_outbox):
    sign_in(client, create_coordinator("NIK").email)
    deadline = (datetime.now(UTC) + timedelta(days=21)).date()
    remind = deadline - timedelta(days=7)
    data = {"year": str(deadline.year), "deadline": deadline.isoformat(), "remind_on": remind.isoformat()}
    preview = post(client, "/reviews/NIK/new", {**data, "step": "preview"}, page="/reviews/NIK/new")
    page = preview.get_data(as_text=True)
    assert says(page, "5 aktive medlemmer blir spurt.") and "Hvert år går vi gjennom medlemslisten" in page
    assert db.session.scalar(select(ReviewCycle)) is None
    bad = post(
        client,
        "/reviews/NIK/new",
        {**data, "remind_on": (deadline + timedelta(days=1)).isoformat(), "step": "start"},
        page="/reviews/NIK/new",
    )
    assert bad.status_code == 422 and "før fristen" in bad.get_data(as_text=True)
    started = post(client, "/reviews/NIK/new", {**data, "step": "start"}, page="/reviews/NIK/new")
    assert started.status_code == 303
    deliver()
    assert len(mail_outbox) == 5
    report = client.get(started.headers["Location"] + "/report")
    assert report.status_code == 200
    csv = client.get(started.headers["Location"] + "/export.csv")
    assert csv.mimetype == "text/csv" and csv.get_data(as_text=True).count("\n") == 6


def test_mandate_versions_are_kept_and_the_cycle_records_the_one_it_evaluated(
    app, client, create_coordinator, networks, five
):
    from datetime import date

    sign_in(client, create_coordinator("NIK").email)
    for effective_on, text in (
        ("2024-01-01", "Mandat 2024: fire formål."),
        ("2026-06-01", "Mandat 2026: revidert."),
    ):
        response = post(
            client,
            "/mandate/NIK/new",
            {"text": text, "effective_on": effective_on, "note": "Revisjon"},
            page="/mandate/NIK/new",
        )
        assert response.status_code == 303
    again = post(
        client, "/mandate/NIK/new", {"text": "x", "effective_on": "2026-06-01"}, page="/mandate/NIK/new"
    )
    assert again.status_code == 422 and "gjelder allerede fra den datoen" in again.get_data(as_text=True)
    public = app.test_client().get("/mandate/NIK").get_data(as_text=True)
    assert public.index("Mandat 2026: revidert.") < public.index("Mandat 2024: fire formål.")  # current first
    cycle = reviews.open_cycle(networks["NIK"], 2027, DEADLINE, REMIND, now=OPENED)
    assert cycle.mandate_version.effective_on == date(2026, 6, 1)


def test_an_empty_deadline_is_told_not_a_server_error(client, create_coordinator):
    """Found by tests/test_fuzz.py: a blank deadline with no reminder date gave a 500."""
    from tests.conftest import post

    sign_in(client, create_coordinator("NIK").email)
    response = post(client, "/reviews/NIK/new", {"deadline": "", "year": "2030"}, page="/reviews/NIK/new")
    assert response.status_code == 422 and "Oppgi fristen." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ReviewCycle)) == 0


# -- one effect, however often and however at once ---------------------------------------------------
# Each state change is one operation that takes or claims its row first; two requests at the same
# moment (threads behind a barrier, each on its own connection: PostgreSQL's row locks decide) give
# one effect. The rules the pages show (``may_close``, ``may_restore``, ``may_take_back``) are also
# the operations' own: a POST that walks past the page is refused and changes nothing.


def count(model, *where):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def audited(action):
    return count(AuditEntry, AuditEntry.action == action)


def lapses():
    return count(
        AuditEntry,
        AuditEntry.action == "membership.status",
        AuditEntry.after["status"].as_string() == "lapsed",
    )


def restores():
    return count(
        AuditEntry,
        AuditEntry.action == "membership.status",
        AuditEntry.before["status"].as_string() == "lapsed",
        AuditEntry.after["status"].as_string() == "active",
    )


def coordinator_tabs(app, coordinator, n=2):
    tabs = []
    for _ in range(n):
        tab = app.test_client()
        sign_in(tab, coordinator.email)
        tabs.append(tab)
    return tabs


def link_for(member, cycle):
    from models import tokens

    response = db.session.scalar(
        select(ReviewResponse).where(
            ReviewResponse.member_id == member.id, ReviewResponse.cycle_id == cycle.id
        )
    )
    return f"/reviews/answer/{tokens.make('review', response=response.id)}", response


def no_server_error(responses):
    assert all(r.status_code < 500 for r in responses), [r.status_code for r in responses]


def test_an_answer_sent_twice_at_once_is_applied_once(app, five, networks, deliver, mail_outbox):
    from models import Anchoring
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    cycle, _opened = fresh_cycle(networks["NIK"])
    deliver()
    mail_outbox.clear()
    link, _response = link_for(five[0], cycle)
    member_id = five[0].id
    before = count(Anchoring, Anchoring.member_id == member_id)

    answers = twice_at_once([app.test_client(), app.test_client()], link, answer_form(), page=link)
    no_server_error(answers)
    assert sorted(r.status_code for r in answers) == [200, 409]
    assert "Du svarte" in next(r for r in answers if r.status_code == 409).get_data(as_text=True)
    assert audited("review.answered") == 1
    assert audited("member.manager_changed") == 1
    assert (
        count(Anchoring, Anchoring.member_id == member_id) == before + 1
    )  # one new request, none superseded
    deliver()
    assert [m["To"] for m in mail_outbox] == ["lise.leder@bergen.kommune.example"]


def test_leaving_twice_at_once_leaves_once(app, five, networks):
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    cycle, _opened = fresh_cycle(networks["NIK"])
    link, _response = link_for(five[1], cycle)
    answers = twice_at_once([app.test_client(), app.test_client()], link, answer_form("leave"), page=link)
    no_server_error(answers)
    assert audited("review.answered") == 1
    assert (
        count(
            AuditEntry,
            AuditEntry.action == "membership.status",
            AuditEntry.after["status"].as_string() == "left",
        )
        == 1
    )


def test_an_answer_is_not_changed_and_a_closed_review_takes_none_even_posted_directly(client, five, networks):
    cycle, _opened = fresh_cycle(networks["NIK"])
    from tests.conftest import csrf_token_from

    link, response = link_for(five[0], cycle)
    token = csrf_token_from(client.get(link))
    assert post(client, link, answer_form(), page=link).status_code == 200
    # The form is no longer shown; posted anyway, it is refused and changes nothing.
    again = client.post(link, data={**answer_form(score_equity="1", decision="leave"), "csrf_token": token})
    assert again.status_code == 409
    db.session.expire_all()
    assert response.score_equity == 5 and response.decision == "stay"
    assert five[0].memberships[0].status == MembershipStatus.ACTIVE

    late, late_response = link_for(five[1], cycle)
    reviews.close(cycle)
    db.session.commit()
    refused = client.post(late, data={**answer_form(), "csrf_token": token})
    assert refused.status_code == 409 and "Gjennomgangen ble avsluttet" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert late_response.answered_at is None and audited("review.answered") == 1


def test_the_operation_refuses_an_answer_the_page_would_not_take(app, five, networks):
    """The rule is the model's: ``answer`` refuses a spent link and a closed cycle by itself."""
    cycle, _opened = fresh_cycle(networks["NIK"])
    _link, response = link_for(five[0], cycle)
    reviews.answer(response, True, {}, {})
    db.session.commit()
    with pytest.raises(reviews.DomainError):
        reviews.answer(response, False, {}, {})
    db.session.rollback()
    _link, other = link_for(five[1], cycle)
    reviews.close(cycle)
    db.session.commit()
    with pytest.raises(reviews.DomainError):
        reviews.answer(other, True, {}, {})
    db.session.rollback()
    assert audited("review.answered") == 1


def test_the_review_started_twice_at_once_opens_one_cycle(
    app, five, create_coordinator, deliver, mail_outbox
):
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    coordinator = create_coordinator("NIK")
    deadline = (datetime.now(UTC) + timedelta(days=21)).date()
    data = {
        "year": str(deadline.year),
        "deadline": deadline.isoformat(),
        "remind_on": (deadline - timedelta(days=7)).isoformat(),
        "step": "start",
    }
    answers = twice_at_once(
        coordinator_tabs(app, coordinator), "/reviews/NIK/new", data, page="/reviews/NIK/new"
    )
    no_server_error(answers)
    assert sorted(r.status_code for r in answers) == [303, 422]
    assert "allerede hatt" in next(r for r in answers if r.status_code == 422).get_data(as_text=True)
    assert count(ReviewCycle) == 1 and audited("review.opened") == 1
    deliver()
    assert sorted(m["To"] for m in mail_outbox) == sorted(m.email for m in five)


def test_an_early_close_pressed_twice_at_once_closes_once(app, five, networks, create_coordinator):
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    cycle, _opened = fresh_cycle(networks["NIK"])
    url = f"/reviews/cycle/{cycle.id}/close"
    answers = twice_at_once(coordinator_tabs(app, create_coordinator("NIK")), url, page=url)
    no_server_error(answers)
    assert audited("review.closed") == 1 and lapses() == 5


def test_an_early_close_at_the_moment_the_tick_closes_at_the_deadline(
    app, app_factory, five, networks, create_coordinator
):
    from tests.conftest import at_once, csrf_token_from, postgres_only

    postgres_only(app)
    cycle, _opened = fresh_cycle(networks["NIK"])
    url = f"/reviews/cycle/{cycle.id}/close"
    (tab,) = coordinator_tabs(app, create_coordinator("NIK"), 1)
    token = csrf_token_from(tab.get(url))
    cron = app_factory()

    def press(wait):
        wait()
        return tab.post(url, data={"csrf_token": token})

    def tick(wait):
        with cron.app_context():
            wait()
            try:
                return reviews.tick(datetime.now(UTC) + timedelta(days=22))
            finally:
                db.session.remove()

    pressed, ticked = at_once(lambda wait, work: work(wait), [(press,), (tick,)])
    assert pressed.status_code == 303
    assert audited("review.closed") == 1 and lapses() == 5
    assert ticked["closed"] in (0, 1) and ticked["lapsed"] == 5 * ticked["closed"]


def test_two_ticks_at_once_remind_once_and_close_once(app, app_factory, five, networks, deliver, mail_outbox):
    from tests.conftest import at_once, postgres_only

    postgres_only(app)
    cycle, opened = fresh_cycle(networks["NIK"])
    _link, response = link_for(five[0], cycle)
    reviews.answer(response, True, {}, {})
    db.session.commit()
    deliver()
    mail_outbox.clear()
    crons = [app_factory(), app_factory()]

    def run(wait, cron, moment):
        with cron.app_context():
            from models import audit

            wait()
            try:
                with audit.acting_as(label="flask reviews tick"):
                    return reviews.tick(moment)
            finally:
                db.session.remove()

    reminded = at_once(run, [(cron, opened + timedelta(days=15)) for cron in crons])
    assert sum(done["reminded"] for done in reminded) == 4 and audited("review.reminded") == 1
    deliver()
    assert sorted(m["To"] for m in mail_outbox) == sorted(m.email for m in five[1:])

    closed = at_once(run, [(cron, opened + timedelta(days=22)) for cron in crons])
    assert sum(done["closed"] for done in closed) == 1 and sum(done["lapsed"] for done in closed) == 4
    assert audited("review.closed") == 1 and lapses() == 4


def test_the_tick_as_two_cron_commands_at_once(
    app, app_factory, monkeypatch, five, networks, deliver, mail_outbox
):
    """The command itself, twice at once: each output counts its own share, the mails go once."""
    from tests.conftest import postgres_only

    postgres_only(app)
    _cycle, opened = fresh_cycle(networks["NIK"])
    deliver()
    mail_outbox.clear()
    outputs = run_commands_at_once(
        monkeypatch,
        [app_factory(), app_factory()],
        ["reviews", "tick", "--now", stamp(opened + timedelta(days=15))],
    )
    assert sorted(outputs) == [
        "reminders: 0, cycles closed: 0, members lapsed: 0",
        "reminders: 5, cycles closed: 0, members lapsed: 0",
    ], outputs
    deliver()
    assert sorted(m["To"] for m in mail_outbox) == sorted(m.email for m in five)
    outputs = run_commands_at_once(
        monkeypatch,
        [app_factory(), app_factory()],
        ["reviews", "tick", "--now", stamp(opened + timedelta(days=22))],
    )
    assert sorted(outputs) == [
        "reminders: 0, cycles closed: 0, members lapsed: 0",
        "reminders: 0, cycles closed: 1, members lapsed: 5",
    ], outputs
    assert audited("review.closed") == 1 and lapses() == 5


@pytest.fixture
def lapsed(five, networks, deliver, mail_outbox):
    """The cycle, closed with no answers: all five lapsed (the mails asking them are sent)."""
    cycle, _opened = fresh_cycle(networks["NIK"])
    reviews.close(cycle)
    db.session.commit()
    deliver()
    mail_outbox.clear()
    return cycle


def response_of(member):
    return db.session.scalar(select(ReviewResponse).where(ReviewResponse.member_id == member.id))


def test_a_restore_pressed_twice_at_once_restores_once_and_tells_once(
    app, five, lapsed, create_coordinator, deliver, mail_outbox
):
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    response = response_of(five[0])
    answers = twice_at_once(
        coordinator_tabs(app, create_coordinator("NIK")),
        f"/reviews/response/{response.id}/restore",
        page=f"/reviews/cycle/{lapsed.id}",
    )
    no_server_error(answers)
    assert restores() == 1
    deliver()
    assert [m["To"] for m in mail_outbox] == [five[0].email]


def test_restore_and_take_back_at_once_restore_once(
    app, five, lapsed, create_coordinator, deliver, mail_outbox
):
    from tests.conftest import at_once, csrf_token_from, postgres_only

    postgres_only(app)
    response = response_of(five[0])
    (coordinator,) = coordinator_tabs(app, create_coordinator("NIK"), 1)
    member = app.test_client()
    sign_in(member, five[0].email)
    forms = [
        (
            coordinator,
            f"/reviews/response/{response.id}/restore",
            csrf_token_from(coordinator.get(f"/reviews/cycle/{lapsed.id}")),
        ),
        (member, f"/reviews/mine/{response.id}/restore", csrf_token_from(member.get("/me/"))),
    ]

    def send(wait, client, url, token):
        wait()
        return client.post(url, data={"csrf_token": token})

    answers = at_once(send, forms)
    no_server_error(answers)
    assert restores() == 1
    assert five[0].memberships[0].status == MembershipStatus.ACTIVE
    deliver()
    assert len(mail_outbox) <= 1  # told only if it was the coordinator who put them back


def test_take_back_twice_at_once_restores_once(app, five, lapsed):
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    response = response_of(five[0])
    tabs = []
    for _ in range(2):
        tab = app.test_client()
        sign_in(tab, five[0].email)
        tabs.append(tab)
    answers = twice_at_once(tabs, f"/reviews/mine/{response.id}/restore", page="/me/")
    no_server_error(answers)
    assert restores() == 1


def test_a_restore_the_page_does_not_offer_is_refused_when_posted_directly(
    app, client, five, lapsed, create_coordinator, deliver, mail_outbox
):
    sign_in(client, create_coordinator("NIK").email)
    left, restored = response_of(five[0]), response_of(five[1])
    five[0].memberships[0].leave("Sluttet")  # left after the lapse: nothing to restore
    reviews.restore(restored)
    db.session.commit()
    deliver()
    mail_outbox.clear()
    page = client.get(f"/reviews/cycle/{lapsed.id}").get_data(as_text=True)
    assert (
        f"/reviews/response/{left.id}/restore" not in page
        and f"/reviews/response/{restored.id}/restore" not in page
    )
    assert f"/reviews/response/{response_of(five[2]).id}/restore" in page
    before = restores()
    for response in (left, restored):
        refused = post(client, f"/reviews/response/{response.id}/restore", page=f"/reviews/cycle/{lapsed.id}")
        assert refused.status_code == 303
    assert restores() == before
    assert five[0].memberships[0].status == MembershipStatus.LEFT and left.restored_at is None
    deliver()
    assert mail_outbox == []


def test_closing_a_closed_review_is_refused_even_posted_directly(
    app, client, five, networks, create_coordinator
):
    sign_in(client, create_coordinator("NIK").email)
    cycle, _opened = fresh_cycle(networks["NIK"])
    page = client.get(f"/reviews/cycle/{cycle.id}").get_data(as_text=True)
    assert f"/reviews/cycle/{cycle.id}/close" in page
    url = f"/reviews/cycle/{cycle.id}/close"
    from tests.conftest import csrf_token_from

    token = csrf_token_from(client.get(url))
    reviews.close(cycle)
    db.session.commit()
    closed_at = db.session.get(ReviewCycle, cycle.id).closed_at
    assert f"/reviews/cycle/{cycle.id}/close" not in client.get(f"/reviews/cycle/{cycle.id}").get_data(
        as_text=True
    )
    refused = client.post(url, data={"csrf_token": token})
    assert refused.status_code == 303
    assert "allerede avsluttet" in client.get(refused.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert audited("review.closed") == 1 and db.session.get(ReviewCycle, cycle.id).closed_at == closed_at
    with pytest.raises(reviews.DomainError):
        reviews.close(cycle)
    db.session.rollback()


def test_a_mandate_version_recorded_twice_at_once_is_recorded_once(app, create_coordinator):
    from models import MandateVersion
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    data = {"text": "Mandat 2027.", "effective_on": "2027-01-01", "note": "Revisjon"}
    answers = twice_at_once(
        coordinator_tabs(app, create_coordinator("NIK")), "/mandate/NIK/new", data, page="/mandate/NIK/new"
    )
    no_server_error(answers)
    assert sorted(r.status_code for r in answers) == [303, 422]
    assert count(MandateVersion) == 1 and audited("mandate.recorded") == 1
