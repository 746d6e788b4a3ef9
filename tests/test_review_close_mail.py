"""The close tells people: each lapsed member one mail in their own written form with a one-click
way back, each coordinator one digest of the main-contact roles it vacated – once, however many
ticks; a review cannot start with nobody to ask; a new coordinator's welcome mail."""

import re
import time
from datetime import UTC, datetime, timedelta

import itsdangerous
import pytest
from sqlalchemy import func, select

from extensions import db
from models import AuditEntry, Member, MembershipStatus, OutboxMessage, ReviewCycle, ReviewResponse, tokens
from models import review as reviews
from models.coordinators import appoint
from tests.conftest import csrf_token_from, post, sign_in
from tests.helpers import fresh_cycle, says

# The review opened a month ago (so its close, three weeks on, lies a week back: within the grace
# period on the day the tests run, whatever the day – the mailed link's page reads the clock).
NOW = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=30)


def outbox(**where):
    return db.session.scalars(select(OutboxMessage).filter_by(**where).order_by(OutboxMessage.id)).all()


def take_back_path(message):
    found = re.search(r"http://localhost(/reviews/back/[A-Za-z0-9_.\-]+\?lang=n[bn])", message.body_text)
    assert found, message.body_text
    return found.group(1)


@pytest.fixture
def people(create_member, create_coordinator, municipality):
    """In NIK: an nn and an nb member who will not answer, a main contact (Bergen) who will not
    either, one who answers; a coordinator of NIK who reads nynorsk."""
    bergen, oslo = municipality("4601"), municipality("0301")
    nynorsk = create_member(bergen, name="Synnøve Nynorsk", language="nn")
    bokmal = create_member(oslo, name="Berit Bokmål", language="nb")
    main = create_member(bergen, name="Hanne Hovedkontakt", language="nb")
    main.memberships[0].make_main_contact()
    answering = create_member(oslo, name="Svein Svarer")
    coordinator = create_coordinator("NIK", name="Kora Koordinator", language="nn")
    db.session.commit()
    return {"nn": nynorsk, "nb": bokmal, "main": main, "answering": answering, "coordinator": coordinator}


def closed_by_the_tick(networks, people):
    cycle, _opened = fresh_cycle(networks["NIK"], opened=NOW)
    response = db.session.scalar(
        select(ReviewResponse).where(ReviewResponse.member_id == people["answering"].id)
    )
    reviews.answer(response, True, {}, {}, now=NOW + timedelta(days=1))
    db.session.commit()
    asked = len(outbox())
    done = reviews.tick(NOW + timedelta(days=22))
    assert done["closed"] == 1 and done["lapsed"] == 3
    return cycle, outbox()[asked:]


def test_each_lapsed_member_gets_one_mail_in_their_own_form_and_each_coordinator_one_digest(
    app, networks, people
):
    cycle, sent = closed_by_the_tick(networks, people)
    to = {m.recipient: m for m in sent}
    assert len(sent) == len(to) == 4  # three lapsed, one coordinator; the one who answered: nothing
    assert people["answering"].email not in to

    nn = to[people["nn"].email]
    assert nn.subject == "Du står ikkje lenger på medlemslista til NIK"
    assert says(nn.body_text, "Du svara ikkje på den årlege gjennomgangen av NIK")
    assert "Set meg tilbake på medlemslista til NIK" in nn.body_text and "Hei Synnøve Nynorsk" in nn.body_text
    for key in ("nb", "main"):
        nb = to[people[key].email]
        assert nb.subject == "Du står ikke lenger på medlemslisten til NIK"
        assert "Sett meg tilbake på medlemslisten til NIK" in nb.body_text
        assert people[key].name in nb.body_text
    # Each mail its own link, each for its own response.
    paths = {take_back_path(to[people[k].email]) for k in ("nn", "nb", "main")}
    assert len(paths) == 3

    digest = to[people["coordinator"].email]
    assert digest.subject == "Den årlege gjennomgangen av NIK er avslutta"
    assert says(digest.body_text, "Medlemmer tekne av lista fordi dei ikkje svara: 3.")
    assert says(digest.body_text, "Bergen: Hanne Hovedkontakt")
    assert f"/reviews/cycle/{cycle.id}" in digest.body_text
    assert "Synnøve Nynorsk" not in digest.body_text  # only the vacated roles are named

    # A second tick, and a coordinator's close pressed afterwards: nothing more is sent.
    before = len(outbox())
    assert reviews.tick(NOW + timedelta(days=23)) == {"reminded": 0, "closed": 0, "lapsed": 0}
    with pytest.raises(reviews.DomainError):
        reviews.close(db.session.get(ReviewCycle, cycle.id), NOW + timedelta(days=23))
    db.session.rollback()
    assert len(outbox()) == before


def test_the_mailed_link_takes_the_member_back_with_one_button_and_no_sign_in(app, client, networks, people):
    _cycle, sent = closed_by_the_tick(networks, people)
    path = take_back_path(next(m for m in sent if m.recipient == people["nn"].email))
    page = client.get(path)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Set meg tilbake på lista" in text and "Synnøve Nynorsk" in text
    done = post(client, path, page=path)
    assert done.status_code == 200 and says(done.get_data(as_text=True), "Velkomen tilbake")
    db.session.expire_all()
    assert people["nn"].memberships[0].status == MembershipStatus.ACTIVE
    restored = db.session.scalar(select(ReviewResponse).where(ReviewResponse.member_id == people["nn"].id))
    assert restored.restored_at is not None
    entry = db.session.scalar(
        select(AuditEntry)
        .where(
            AuditEntry.action == "membership.status",
            AuditEntry.member_id == people["nn"].id,
            AuditEntry.after["status"].as_string() == "active",
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    assert entry is not None and entry.actor_id == people["nn"].id  # the member did it, by the link

    # The link is spent: a second press changes nothing and says how it stands.
    again = post(client, path, page=path)
    assert again.status_code == 409 and "Du står allereie på medlemslista til NIK igjen" in again.get_data(
        as_text=True
    )
    # The others are untouched.
    assert people["nb"].memberships[0].status == MembershipStatus.LAPSED


def test_the_link_past_the_grace_period_sends_the_member_to_the_coordinator(app, client, networks, people):
    _cycle, sent = closed_by_the_tick(networks, people)
    path = take_back_path(next(m for m in sent if m.recipient == people["nb"].email))
    response = db.session.scalar(select(ReviewResponse).where(ReviewResponse.member_id == people["nb"].id))
    response.lapsed_at = datetime.now(UTC) - reviews.GRACE - timedelta(days=1)
    db.session.commit()
    page = client.get(path)
    assert page.status_code == 200 and "be koordinatoren" in page.get_data(as_text=True)
    refused = client.post(path, data={"csrf_token": csrf_token_from(page)})
    assert refused.status_code == 409
    db.session.expire_all()
    assert people["nb"].memberships[0].status == MembershipStatus.LAPSED


def test_two_ticks_at_once_tell_each_lapsed_member_once_and_each_coordinator_once(
    app, app_factory, networks, people
):
    from tests.conftest import at_once, postgres_only

    postgres_only(app)
    fresh_cycle(networks["NIK"], opened=NOW)
    asked = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    crons = [app_factory(), app_factory()]

    def run(wait, cron):
        with cron.app_context():
            wait()
            try:
                return reviews.tick(NOW + timedelta(days=22))
            finally:
                db.session.remove()

    done = at_once(run, [(cron,) for cron in crons])
    assert sum(d["closed"] for d in done) == 1 and sum(d["lapsed"] for d in done) == 4
    db.session.expire_all()
    sent = outbox()[asked:]
    recipients = sorted(m.recipient for m in sent)
    expected = sorted(
        [*(people[k].email for k in ("nn", "nb", "main", "answering")), people["coordinator"].email]
    )
    assert recipients == expected  # one each


def test_two_members_taking_themselves_back_with_the_same_link_at_once_restore_once(app, networks, people):
    from tests.conftest import postgres_only, twice_at_once

    postgres_only(app)
    _cycle, sent = closed_by_the_tick(networks, people)
    path = take_back_path(next(m for m in sent if m.recipient == people["nb"].email))
    answers = twice_at_once([app.test_client(), app.test_client()], path, page=path)
    assert sorted(a.status_code for a in answers) == [200, 409]
    restores = db.session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.action == "membership.status",
            AuditEntry.member_id == people["nb"].id,
            AuditEntry.before["status"].as_string() == "lapsed",
        )
    )
    assert restores == 1


# -- no review with nobody to ask ----------------------------------------------------------------


def test_a_review_with_no_active_members_is_refused_on_the_form_and_no_cycle_is_made(
    app, client, networks, create_coordinator, create_member, municipality
):
    create_member(municipality("4601"), status="lapsed")  # in NIK, and not active: NIFS has nobody
    coordinator = create_coordinator("NIFS")
    sign_in(client, coordinator.email)
    year = datetime.now(UTC).year
    deadline = (datetime.now(UTC) + timedelta(days=21)).date()
    form = {
        "year": year,
        "deadline": deadline.isoformat(),
        "remind_on": (deadline - timedelta(days=7)).isoformat(),
    }
    for step in ("preview", "start"):
        refused = post(client, "/reviews/NIFS/new", {**form, "step": step}, page="/reviews/NIFS/new")
        assert refused.status_code == 422
        assert says(
            refused.get_data(as_text=True),
            "NIFS har ingen aktive medlemmer: det er ingen å spørre, så gjennomgangen kan ikke starte.",
        )
    assert db.session.scalar(select(func.count()).select_from(ReviewCycle)) == 0
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    with pytest.raises(reviews.DomainError):
        reviews.open_cycle(
            networks["NIFS"],
            year,
            datetime.now(UTC) + timedelta(days=21),
            datetime.now(UTC) + timedelta(days=14),
        )


# -- a new coordinator's welcome -------------------------------------------------------------------


def welcome_path(message):
    found = re.search(r"http://localhost(/welcome/[A-Za-z0-9_.\-]+)", message.body_text)
    assert found, message.body_text
    return found.group(1)


def test_a_new_coordinator_is_welcomed_by_who_appointed_them_not_sent_a_reset_mail(
    app, networks, create_coordinator
):
    appointer = create_coordinator("NIK", "NIFS", name="Åse Ansetter")
    member, created = appoint(
        "ny.koordinator@helsedir.example",
        [networks["NIK"], networks["NIFS"]],
        "Nora Ny",
        granted_by=appointer,
    )
    db.session.commit()
    assert created
    (mail,) = outbox(recipient=member.email)
    assert mail.subject == "Velkommen som koordinator for NIK, NIFS"
    text = mail.body_text
    assert says(text, "Åse Ansetter har gjort deg til koordinator for NIK")
    assert "NIFS" in text and "planlegge årets møter" in text and "nyhetsbrevet" in text
    assert says(text, "Lenken virker én gang, i 7 dager")
    assert "Velg nytt passord" not in mail.subject and "ikke bedt om nytt passord" not in text
    assert "/reset-password/" not in text and "/welcome/" in text


def test_a_coordinator_made_on_the_command_line_is_welcomed_by_the_operator_in_their_form(
    app, runner, networks
):
    result = runner.invoke(
        args=[
            "create-coordinator",
            "nn.koordinator@helsedir.example",
            "--network",
            "NONEMI",
            "--name",
            "Nils",
        ]
    )
    assert result.exit_code == 0, result.output
    (mail,) = outbox(recipient="nn.koordinator@helsedir.example")
    assert says(mail.body_text, "Driftsansvarlig for medlemsregisteret") and "NONEMI" in mail.body_text
    # An existing member appointed to one more network keeps the short "you are now" mail.
    member = Member.by_email("nn.koordinator@helsedir.example")
    member.language = "nn"
    db.session.commit()
    appoint(member.email, [networks["NIK"]])
    db.session.commit()
    later = outbox(recipient=member.email)[-1]
    assert later.subject == "Du er no koordinator for NIK" and "/welcome/" not in later.body_text


@pytest.mark.parametrize(
    ("after", "works"),
    [(timedelta(hours=2, minutes=5), True), (timedelta(days=6), True), (timedelta(days=8), False)],
)
def test_the_welcome_link_lasts_days_not_hours(app, client, networks, monkeypatch, after, works):
    real = time.time
    monkeypatch.setattr(  # the mail was sent ``after`` ago
        itsdangerous.timed,
        "time",
        type("T", (), {"time": staticmethod(lambda: real() - after.total_seconds())}),
    )
    member, _created = appoint("ny@helsedir.example", [networks["NIK"]], "Nora Ny")
    db.session.commit()
    monkeypatch.undo()
    path = welcome_path(outbox(recipient=member.email)[-1])
    page = client.get(path)
    if works:
        assert page.status_code == 200 and "Velg passordet ditt" in page.get_data(as_text=True)
    else:
        assert page.status_code == 400 and "utløpt" in page.get_data(as_text=True)


def test_the_welcome_link_works_once_and_signs_the_coordinator_in(app, client, networks):
    member, _created = appoint("ny@helsedir.example", [networks["NIK"]], "Nora Ny")
    db.session.commit()
    path = welcome_path(outbox(recipient=member.email)[-1])
    chosen = post(client, path, {"password": "Et langt og godt passord for Nora"}, page=path)
    assert chosen.status_code == 303
    assert client.get("/coordinator/").status_code == 200  # signed in as coordinator
    other = app.test_client()
    again = other.get(path)
    assert again.status_code == 400 and "allerede brukt" in again.get_data(as_text=True)
    # A reset link cannot stand in for the welcome link, nor the other way round.
    reset = tokens.make("reset_password", member=member.id, version=member.auth_version)
    assert other.get(f"/welcome/{reset}").status_code == 400
