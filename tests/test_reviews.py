"""The yearly review: open → mails → answers → one reminder to the rest → close → lapsed, restorable."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from extensions import db
from models import AuditEntry, Membership, MembershipStatus, OutboxMessage, ReviewCycle, ReviewResponse
from models import review as reviews
from tests.conftest import links_in, post, sign_in

OPENED = datetime(2027, 3, 1, 9, tzinfo=UTC)
REMIND = OPENED + timedelta(days=14)
DEADLINE = OPENED + timedelta(days=21)


def answer_form(decision="stay", **changes):
    data = {"decision": decision, "unit": "Helsestasjonen", "manager_name": "Lise Leder",
            "manager_email": "lise.leder@bergen.kommune.example",
            "score_competence": "4", "score_equity": "5", "score_public_health": "3", "score_emergency": "2",
            "comment_competence": "Gode fagmøter", "change_wish": "Flere felles møter"}
    data.update(changes)
    return data


def review_link(message):
    return next(link for link in links_in(message) if "/reviews/answer/" in link).replace("http://localhost", "")


@pytest.fixture
def five(create_member, municipality):
    bergen = municipality("4601")
    members = [create_member(bergen, name=f"Medlem {i}", manager_email=f"leder{i}@bergen.kommune.example")
               for i in range(5)]
    members[4].memberships[0].make_main_contact()
    db.session.commit()
    return members


def test_a_full_cycle_lapses_exactly_those_who_did_not_answer(app, client, runner, five, networks, deliver, mail_outbox,
                                                                create_coordinator):
    cycle = reviews.open_cycle(networks["NIK"], 2027, DEADLINE, REMIND, now=OPENED)
    db.session.commit()
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
    post(client, links[five[2].email], answer_form("leave"), page=links[five[2].email])
    # The link is spent: a second answer changes nothing.
    again = post(client, links[five[0].email], answer_form(score_equity="1"), page=links[five[0].email])
    assert "Du svarte" in again.get_data(as_text=True)
    db.session.expire_all()
    assert five[0].manager_email == "lise.leder@bergen.kommune.example" and five[0].unit == "Helsestasjonen"
    assert five[2].memberships[0].status == MembershipStatus.LEFT
    deliver()
    assert sorted(m["To"] for m in mail_outbox) == ["lise.leder@bergen.kommune.example"] * 2  # anchoring asked again
    mail_outbox.clear()

    # Before the reminder date nothing happens; on it, one reminder to the two who have not answered.
    assert "reminders: 0" in runner.invoke(args=["reviews", "tick", "--now", "2027-03-10T12:00"]).output
    assert "reminders: 2" in runner.invoke(args=["reviews", "tick", "--now", "2027-03-15T12:00"]).output
    assert "reminders: 0" in runner.invoke(args=["reviews", "tick", "--now", "2027-03-15T12:01"]).output
    deliver()
    assert sorted(m["To"] for m in mail_outbox) == sorted(m.email for m in five[3:])
    assert all(m["Subject"].startswith("Påminnelse") for m in mail_outbox)
    mail_outbox.clear()

    # At the deadline the two are lapsed, each audited; the main contact among them vacates the role.
    result = runner.invoke(args=["reviews", "tick", "--now", "2027-03-22T10:00"])
    assert "cycles closed: 1, members lapsed: 2" in result.output
    assert "cycles closed: 0, members lapsed: 0" in runner.invoke(args=["reviews", "tick", "--now", "2027-03-22T10:01"]).output
    deliver()
    assert mail_outbox == []
    db.session.expire_all()
    statuses = {m.name: m.memberships[0].status for m in five}
    assert statuses == {"Medlem 0": "active", "Medlem 1": "active", "Medlem 2": "left", "Medlem 3": "lapsed",
                        "Medlem 4": "lapsed"}
    assert not five[4].memberships[0].is_main_contact
    lapses = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "membership.status",
                                                         AuditEntry.after["status"].as_string() == "lapsed")).all()
    assert sorted(e.member_id for e in lapses) == sorted(m.id for m in five[3:])
    assert all(e.reason == reviews.LAPSE_REASON and e.actor_label == "flask reviews tick" for e in lapses)
    assert db.session.get(ReviewCycle, cycle.id).status == "closed"

    # The coordinator restores one: back on the list (an active membership), told by mail.
    coordinator = app.test_client()
    sign_in(coordinator, create_coordinator("NIK").email)
    response = db.session.scalar(select(ReviewResponse).where(ReviewResponse.member_id == five[3].id))
    post(coordinator, f"/reviews/response/{response.id}/restore", page=f"/reviews/cycle/{cycle.id}")
    db.session.expire_all()
    assert five[3].memberships[0].status == MembershipStatus.ACTIVE and response.restored_at is not None
    deliver()
    assert [m["To"] for m in mail_outbox] == [five[3].email]

    # An address the mail server refused for good is shown as such.
    db.session.execute(update(OutboxMessage).where(OutboxMessage.recipient == five[4].email).values(bounced=True))
    db.session.commit()
    results = coordinator.get(f"/reviews/cycle/{cycle.id}").get_data(as_text=True)
    lapsed_list = results.split('id="lapsed"')[1]
    assert lapsed_list.count("adressen avviste e-post") == 1 and "Medlem 4" in lapsed_list
    assert "3 av 5 har svart" in results and "3 kommentarer" in results and "3 forslag" in results
    # The comments are read when a list is opened: the page without script, or htmx's fragment.
    assert "Gode fagmøter" not in results and "Flere felles møter" not in results
    opened = coordinator.get(f"/reviews/cycle/{cycle.id}?comments=competence").get_data(as_text=True)
    assert "Gode fagmøter" in opened and "Flere felles møter" not in opened
    fragment = coordinator.get(f"/reviews/cycle/{cycle.id}?comments=change",
                               headers={"HX-Request": "true", "HX-Target": "comments-change"}).get_data(as_text=True)
    assert "Flere felles møter" in fragment and "<html" not in fragment
    report = coordinator.get(f"/reviews/cycle/{cycle.id}/report").get_data(as_text=True)
    assert "Gode fagmøter" in report and "Flere felles møter" in report
    assert "Gjennomsnitt 4,0 av 5 fra 3 svar" in results  # the one who left scored too


def test_a_lapsed_member_takes_themself_back_within_the_grace_period(client, five, networks):
    cycle = reviews.open_cycle(networks["NIK"], 2027, DEADLINE, REMIND, now=OPENED)
    reviews.close(cycle, now=DEADLINE)
    db.session.commit()
    sign_in(client, five[0].email)
    page = client.get("/me/").get_data(as_text=True)
    assert "Ta meg med tilbake på listen til NIK" in page
    response = db.session.scalar(select(ReviewResponse).where(ReviewResponse.member_id == five[0].id))
    # Not within the grace period: the lapse was long ago.
    response.lapsed_at = datetime.now(UTC) - reviews.GRACE - timedelta(days=1)
    db.session.commit()
    assert post(client, f"/reviews/mine/{response.id}/restore", page="/me/").status_code == 404
    response.lapsed_at = datetime.now(UTC) - timedelta(days=3)
    db.session.commit()
    assert post(client, f"/reviews/mine/{response.id}/restore", page="/me/").status_code == 303
    db.session.expire_all()
    assert five[0].memberships[0].status == MembershipStatus.ACTIVE


def test_opening_and_closing_take_the_same_number_of_statements_for_any_number_of_members(
        app, create_member, municipality, networks, count_queries):
    def measure(n, year):
        oslo = municipality("0301")
        for _ in range(n):
            create_member(oslo)
        with count_queries() as opening:
            cycle = reviews.open_cycle(networks["NIK"], year, DEADLINE.replace(year=year), REMIND.replace(year=year),
                                       now=OPENED.replace(year=year))
        with count_queries() as closing:
            reviews.close(cycle, now=DEADLINE.replace(year=year))
        db.session.commit()
        return len(opening), len(closing)

    small = measure(3, 2027)
    large = measure(30, 2028)
    assert small == large, (small, large)
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 3 + 30  # the 3 lapsed in 2027
    lapsed = db.session.scalar(select(func.count()).select_from(Membership).where(
        Membership.status == MembershipStatus.LAPSED))
    assert lapsed == 33


def test_the_dates_are_checked_and_a_year_has_one_review(app, networks, five):
    with pytest.raises(reviews.DomainError):
        reviews.open_cycle(networks["NIK"], 2027, OPENED - timedelta(days=1), OPENED - timedelta(days=2), now=OPENED)
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
    assert "Gjennomgangen ble avsluttet" in page and "<form method=\"post\" novalidate" not in page
    assert client.get("/reviews/answer/not-a-token").status_code == 400


def test_the_coordinator_previews_then_starts(app, client, five, create_coordinator, deliver, mail_outbox):
    sign_in(client, create_coordinator("NIK").email)
    deadline = (datetime.now(UTC) + timedelta(days=21)).date()
    remind = deadline - timedelta(days=7)
    data = {"year": str(deadline.year), "deadline": deadline.isoformat(), "remind_on": remind.isoformat()}
    preview = post(client, "/reviews/NIK/new", {**data, "step": "preview"}, page="/reviews/NIK/new")
    page = preview.get_data(as_text=True)
    assert "5 aktive medlemmer blir spurt." in page and "Hvert år går vi gjennom medlemslisten" in page
    assert db.session.scalar(select(ReviewCycle)) is None
    bad = post(client, "/reviews/NIK/new", {**data, "remind_on": (deadline + timedelta(days=1)).isoformat(),
                                            "step": "start"}, page="/reviews/NIK/new")
    assert bad.status_code == 422 and "før fristen" in bad.get_data(as_text=True)
    started = post(client, "/reviews/NIK/new", {**data, "step": "start"}, page="/reviews/NIK/new")
    assert started.status_code == 303
    deliver()
    assert len(mail_outbox) == 5
    report = client.get(started.headers["Location"] + "/report")
    assert report.status_code == 200
    csv = client.get(started.headers["Location"] + "/export.csv")
    assert csv.mimetype == "text/csv" and csv.get_data(as_text=True).count("\n") == 6


def test_mandate_versions_are_kept_and_the_cycle_records_the_one_it_evaluated(app, client, create_coordinator, networks, five):
    from datetime import date

    sign_in(client, create_coordinator("NIK").email)
    for effective_on, text in (("2024-01-01", "Mandat 2024: fire formål."), ("2026-06-01", "Mandat 2026: revidert.")):
        response = post(client, "/mandate/NIK/new", {"text": text, "effective_on": effective_on, "note": "Revisjon"},
                        page="/mandate/NIK/new")
        assert response.status_code == 303
    again = post(client, "/mandate/NIK/new", {"text": "x", "effective_on": "2026-06-01"}, page="/mandate/NIK/new")
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
