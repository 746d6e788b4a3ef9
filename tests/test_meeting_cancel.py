"""No meeting planned (or moved) into the past; cancelling asks first and takes a message that goes
into every cancellation mail and stays on the meeting's page."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from extensions import db
from models import Meeting, MeetingKind, QuotaCounter
from models import meeting as meetings
from models.meeting import OSLO
from tests.conftest import post, postgres_only, sign_in, twice_at_once
from tests.helpers import answered, audited, form, tabs


def oslo_now():
    return datetime.now(UTC).astimezone(OSLO)


def counts():
    db.session.expire_all()
    return (
        db.session.scalar(select(func.count()).select_from(Meeting)),
        db.session.scalar(select(func.coalesce(func.sum(QuotaCounter.used), 0))),
    )


def soon_meeting(network, days=10, title="Tolking"):
    start = (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)
    return meetings.plan(
        [network],
        kind="professional_meeting",
        title=title,
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        format="digital",
    )


# -- no planning in the past ------------------------------------------------------------------------


def test_a_meeting_in_the_past_is_refused_next_to_the_date_and_nothing_is_kept(client, create_coordinator):
    sign_in(client, create_coordinator("NIK").email)
    before = counts()
    tries = [((oslo_now() - timedelta(days=30)).date(), "10:00")]  # last month
    if oslo_now().hour >= 1:  # an hour ago, today (just after midnight that is yesterday: skipped)
        tries.append((oslo_now().date(), (oslo_now() - timedelta(hours=1)).strftime("%H:%M")))
    for day, start in tries:
        response = post(
            client,
            "/meetings/new",
            form(date=day.isoformat(), start=start, end="23:59"),
            page="/meetings/new",
        )
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        error = page.split('id="date-error"', 1)[1].split("</", 1)[0]
        assert (
            "Starttidspunktet har allerede vært" in error
            and "Velg en dato og et tidspunkt fram i tid." in error
        )
        assert counts() == before  # no meeting, no quota place
        assert audited("meeting.planned") == 0
    # A time ahead (tomorrow) is planned as before.
    tomorrow = (oslo_now() + timedelta(days=1)).date().isoformat()
    assert post(client, "/meetings/new", form(date=tomorrow), page="/meetings/new").status_code == 303
    assert counts() == (before[0] + 1, before[1] + 1)


def test_an_emergency_call_in_in_the_past_is_refused_and_mails_nobody(
    client, create_coordinator, mail_outbox
):
    sign_in(client, create_coordinator("NIK").email)
    yesterday = (oslo_now() - timedelta(days=1)).date().isoformat()
    response = post(client, "/meetings/new", form(kind="emergency", date=yesterday), page="/meetings/new")
    assert response.status_code == 422 and "Starttidspunktet har allerede vært" in response.get_data(
        as_text=True
    )
    assert counts()[0] == 0 and audited("meeting.planned") == 0


def test_a_meeting_is_not_moved_into_the_past_but_a_begun_one_keeps_its_time(
    client, create_coordinator, networks
):
    coordinator = create_coordinator("NIK")
    meeting = soon_meeting(networks["NIK"])
    db.session.commit()
    meeting_id, start, year = meeting.id, meeting.starts_at, meeting.year
    sign_in(client, coordinator.email)
    page = f"/meetings/{meeting_id}/edit"
    last_week = (oslo_now() - timedelta(days=7)).date().isoformat()
    data = {k: v for k, v in form(date=last_week, version=0).items() if k not in ("kind", "networks")}
    response = post(client, page, data, page=page)
    assert response.status_code == 422
    error = response.get_data(as_text=True).split('id="date-error"', 1)[1].split("</", 1)[0]
    assert "Starttidspunktet har allerede vært" in error
    db.session.expire_all()
    moved = db.session.get(Meeting, meeting_id)
    assert (moved.starts_at, moved.sequence) == (start, 0)
    assert meetings.quota_status(networks["NIK"], year)[MeetingKind.PROFESSIONAL] == (1, 4)
    # The model's rule holds the same without the form.
    with_errors = []
    try:
        meetings.reschedule(moved, start - timedelta(days=20), start - timedelta(days=20, hours=-1))
    except meetings.InThePast as error:
        with_errors.append(error)
    db.session.rollback()
    assert with_errors


def test_planning_in_the_past_is_refused_by_the_model(app, networks):
    before = counts()
    start = datetime.now(UTC) - timedelta(minutes=5)
    try:
        meetings.plan(
            [networks["NIK"]],
            kind="network_meeting",
            title="For sent",
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            format="digital",
        )
        raise AssertionError("planned in the past")
    except meetings.InThePast:
        db.session.rollback()
    assert counts() == before


# -- cancelling asks first --------------------------------------------------------------------------


def test_the_cancel_button_leads_to_a_page_that_says_who_is_told(
    client, create_member, create_coordinator, networks, municipality, mail_outbox
):
    coordinator = create_coordinator("NIK")
    kari = create_member(municipality("4601"), name="Kari Nordmann")
    ola = create_member(municipality("0301"), name="Ola Hansen")
    meeting = soon_meeting(networks["NIK"])
    for person in (kari, ola):
        meetings.sign_up(person, meeting)
    db.session.commit()
    mail_outbox.clear()
    sign_in(client, coordinator.email)
    show = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    # The meeting page has a link to the confirmation, no form that cancels at once.
    assert f'href="/meetings/{meeting.id}/cancel"' in show
    assert f'action="/meetings/{meeting.id}/cancel"' not in show
    response = client.get(f"/meetings/{meeting.id}/cancel")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Avlyse «Tolking»?" in page
    assert "2 påmeldte får avlysningen på e-post" in page
    assert "Kari Nordmann" in page and "Ola Hansen" in page
    assert "Møtet gir tilbake plassen sin i årets kvote." in page
    assert 'name="message"' in page and "Avlys møtet" in page and "Behold møtet" in page
    # Looking changes nothing.
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).status == "planned" and audited("meeting.cancelled") == 0
    assert not mail_outbox


def test_the_confirmation_page_of_a_meeting_nobody_signed_up_for_says_nobody_is_mailed(
    client, create_coordinator, networks
):
    coordinator = create_coordinator("NIK")
    meeting = soon_meeting(networks["NIK"])
    db.session.commit()
    sign_in(client, coordinator.email)
    page = client.get(f"/meetings/{meeting.id}/cancel").get_data(as_text=True)
    assert "Ingen har meldt seg på, så ingen får e-post." in page


def test_the_message_goes_into_every_cancellation_mail_in_each_recipients_language(
    client, create_member, create_coordinator, networks, municipality, deliver, mail_outbox
):
    coordinator = create_coordinator("NIK")
    people = {
        "nb": create_member(municipality("4601"), language="nb"),
        "nn": create_member(municipality("0301"), language="nn"),
        "en": create_member(municipality("4601"), language="en"),
    }
    meeting = soon_meeting(networks["NIK"])
    for person in people.values():
        meetings.sign_up(person, meeting)
    db.session.commit()
    deliver()
    mail_outbox.clear()
    sign_in(client, coordinator.email)
    message = "Foredragsholderen er syk.\n\nVi planlegger et nytt møte i januar."
    response = post(
        client, f"/meetings/{meeting.id}/cancel", {"message": message}, page=f"/meetings/{meeting.id}/cancel"
    )
    assert response.status_code == 303
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Møtet er avlyst; 3 påmeldte får beskjed." in shown
    assert "Hvorfor det ble avlyst" in shown and "Foredragsholderen er syk." in shown
    deliver()
    by_address = {m["To"]: m for m in mail_outbox}
    assert sorted(by_address) == sorted(p.email for p in people.values())
    intro = {
        "nb": "Melding fra koordinatoren:",
        "nn": "Melding frå koordinatoren:",
        "en": "The coordinator's message:",
    }
    for locale, person in people.items():
        mail = by_address[person.email]
        text = mail.get_body(("plain",)).get_content()
        html = mail.get_body(("html",)).get_content()
        assert intro[locale] in text, locale
        # The message itself as written, in both parts, in every language.
        assert "Foredragsholderen er syk." in text and "Vi planlegger et nytt møte i januar." in text
        assert "Foredragsholderen er syk." in html and "Vi planlegger et nytt møte i januar." in html
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).cancel_message == message


def test_without_a_message_the_mail_has_none_and_the_page_no_reason(
    client, create_member, create_coordinator, networks, municipality, deliver, mail_outbox
):
    coordinator = create_coordinator("NIK")
    member = create_member(municipality("4601"))
    meeting = soon_meeting(networks["NIK"])
    meetings.sign_up(member, meeting)
    db.session.commit()
    deliver()
    mail_outbox.clear()
    sign_in(client, coordinator.email)
    response = post(client, f"/meetings/{meeting.id}/cancel", page=f"/meetings/{meeting.id}/cancel")
    assert response.status_code == 303
    assert "Hvorfor det ble avlyst" not in client.get(response.headers["Location"]).get_data(as_text=True)
    deliver()
    assert (
        len(mail_outbox) == 1
        and "Melding fra koordinatoren" not in mail_outbox[0].get_body(("plain",)).get_content()
    )


def test_a_message_too_long_is_refused_on_the_page_and_nothing_is_cancelled(
    client, create_coordinator, networks
):
    coordinator = create_coordinator("NIK")
    meeting = soon_meeting(networks["NIK"])
    db.session.commit()
    sign_in(client, coordinator.email)
    url = f"/meetings/{meeting.id}/cancel"
    response = post(client, url, {"message": "x" * 2001}, page=url)
    assert response.status_code == 422 and 'id="message-error"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).status == "planned" and audited("meeting.cancelled") == 0


def test_the_confirmation_page_of_a_cancelled_meeting_has_no_button(client, create_coordinator, networks):
    coordinator = create_coordinator("NIK")
    meeting = soon_meeting(networks["NIK"])
    meetings.cancel(meeting, "Flyttet")
    db.session.commit()
    sign_in(client, coordinator.email)
    page = client.get(f"/meetings/{meeting.id}/cancel").get_data(as_text=True)
    assert "Møtet er allerede avlyst." in page and "<button" not in page.split("<main", 1)[1]


def test_a_member_may_not_open_the_confirmation_page(client, create_member, networks, municipality):
    member = create_member(municipality("4601"))
    meeting = soon_meeting(networks["NIK"])
    db.session.commit()
    sign_in(client, member.email)
    assert client.get(f"/meetings/{meeting.id}/cancel").status_code == 403


def test_a_cancellation_with_a_message_sent_twice_at_once_cancels_once_and_mails_once(
    app, create_member, create_coordinator, networks, municipality, deliver, mail_outbox
):
    postgres_only(app)
    coordinator = create_coordinator("NIK")
    people = [create_member(municipality("4601")), create_member(municipality("0301"), language="nn")]
    meeting = soon_meeting(networks["NIK"])
    for person in people:
        meetings.sign_up(person, meeting)
    db.session.commit()
    deliver()
    mail_outbox.clear()
    url = f"/meetings/{meeting.id}/cancel"
    statuses = answered(
        twice_at_once(tabs(app, coordinator.email), url, {"message": "Syk foredragsholder"}, page=url)
    )
    assert statuses == [303, 303]
    assert audited("meeting.cancelled") == 1
    db.session.expire_all()
    cancelled = db.session.get(Meeting, meeting.id)
    assert (cancelled.status, cancelled.cancel_message, cancelled.sequence) == (
        "cancelled",
        "Syk foredragsholder",
        1,
    )
    assert meetings.quota_status(networks["NIK"], cancelled.year)[MeetingKind.PROFESSIONAL] == (0, 4)
    deliver()
    assert sorted(m["To"] for m in mail_outbox) == sorted(p.email for p in people)
    assert all("Syk foredragsholder" in m.get_body(("plain",)).get_content() for m in mail_outbox)
