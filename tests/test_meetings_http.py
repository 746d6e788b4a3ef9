"""Meetings over HTTP: the year plan, planning within the quotas, sign-up with a calendar invitation."""

import re
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from sqlalchemy import select, update

from extensions import db
from models import Meeting, MeetingKind, Signup
from models import meeting as meetings
from models.meeting import OSLO
from tests.conftest import post, sign_in
from tests.helpers import answered, audited, figure, form, says, tabs

# The coming year and the one after, whatever today is: a meeting is planned ahead of now, never in the past.
YEAR = datetime.now(UTC).year + 1
NEXT = YEAR + 1


def test_the_coordinator_plans_and_the_year_plan_shows_the_quota(client, create_coordinator):
    sign_in(client, create_coordinator("NIK").email)
    page = client.get(f"/meetings/plan/NIK/{YEAR}").get_data(as_text=True)
    assert says(page, "0 av 2") and says(page, "2 nettverksmøter er ikke planlagt ennå.")
    response = post(
        client, "/meetings/new", form(kind="network_meeting", title="Vårmøtet"), page="/meetings/new"
    )
    assert response.status_code == 303
    page = client.get(f"/meetings/plan/NIK/{YEAR}").get_data(as_text=True)
    assert (
        says(page, "1 av 2") and "Vårmøtet" in page and says(page, "1 nettverksmøte er ikke planlagt ennå.")
    )
    meeting = db.session.scalar(select(Meeting))
    assert meeting.starts_at == datetime(YEAR, 3, 10, 9, 0, tzinfo=UTC)  # 10:00 in Oslo in winter


def test_a_fifth_professional_meeting_is_refused_next_to_the_field(client, create_coordinator):
    sign_in(client, create_coordinator("NIK").email)
    for month in ("02", "04", "06", "08"):
        assert (
            post(
                client,
                "/meetings/new",
                form(date=f"{YEAR}-{month}-10", title=f"Fagmøte {month}"),
                page="/meetings/new",
            ).status_code
            == 303
        )
    response = post(
        client, "/meetings/new", form(date=f"{YEAR}-10-10", title="Det femte"), page="/meetings/new"
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = page.split('id="kind-error"')[1].split("</p>")[0]
    assert says(error, f"har allerede planlagt 4 fagmøter i {YEAR}") and "«Fagmøte 02»" in error
    assert db.session.scalar(select(db.func.count()).select_from(Meeting)) == 4


def test_a_joint_meeting_shows_in_both_year_plans(client, create_coordinator):
    sign_in(client, create_coordinator("NIK", "NIFS").email)
    assert (
        post(
            client,
            "/meetings/new",
            form(
                networks=("NIK", "NIFS"), title="Felles fagmøte", format="hybrid", place="Helsedirektoratet"
            ),
            page="/meetings/new",
        ).status_code
        == 303
    )
    for code in ("NIK", "NIFS"):
        page = client.get(f"/meetings/plan/{code}/{YEAR}").get_data(as_text=True)
        assert "Felles fagmøte" in page and "felles: NIK, NIFS" in page and says(page, "1 av 4")
        assert "Hybrid: Helsedirektoratet og digitalt" in page


def test_bad_meeting_input_is_shown_next_to_the_fields(client, create_coordinator):
    sign_in(client, create_coordinator("NIK").email)
    response = post(
        client,
        "/meetings/new",
        form(start="12:00", end="11:00", format="hybrid", online_link="teams"),
        page="/meetings/new",
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field, text in (("end", "slutte etter"), ("place", "trenger et sted"), ("online_link", "https://")):
        assert text in page.split(f'id="{field}-error"')[1].split("</p>")[0]


def htmx(target):
    return {
        "HX-Request": "true",
        "HX-Target": target,
        "HX-Current-URL": f"http://localhost/meetings/plan/NIK/{YEAR}",
    }


def test_the_form_opens_and_saves_in_place_on_the_year_plan(client, create_coordinator):
    sign_in(client, create_coordinator("NIK").email)
    opened = client.get("/meetings/new?network=NIK", headers=htmx("editor"))
    fragment = opened.get_data(as_text=True)
    assert opened.status_code == 200 and "<html" not in fragment and 'id="meeting-form"' in fragment
    assert 'hx-post="/meetings/new?network=NIK"' in fragment and "autofocus" in fragment

    refused = post(
        client,
        "/meetings/new?network=NIK",
        form(title="", date=f"{YEAR}-05-04"),
        page=f"/meetings/plan/NIK/{YEAR}",
        headers=htmx("meeting-form"),
    )
    fragment = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "<html" not in fragment
    assert "Gi møtet en tittel." in fragment and f'value="{YEAR}-05-04"' in fragment  # what was typed stays
    assert db.session.scalar(select(Meeting)) is None

    saved = post(
        client,
        "/meetings/new?network=NIK",
        form(title="Maimøtet", date=f"{YEAR}-05-04"),
        page=f"/meetings/plan/NIK/{YEAR}",
        headers=htmx("meeting-form"),
    )
    fragment = saved.get_data(as_text=True)
    assert saved.status_code == 200 and saved.headers["HX-Retarget"] == "#plan"
    assert saved.headers["HX-Push-Url"] == f"/meetings/plan/NIK/{YEAR}"
    assert 'id="plan"' in fragment and "<html" not in fragment
    assert (
        "Maimøtet er planlagt." in fragment and says(fragment, "1 av 4") and 'id="editor"></div>' in fragment
    )
    topic_title = fragment.split('id="topic-title"')[1].split(">")[0]
    assert "Maimøtet" not in topic_title  # the meeting's fields do not fill the topic proposal form

    meeting = db.session.scalar(select(Meeting))
    opened = client.get(f"/meetings/{meeting.id}/edit?network=NIK", headers=htmx("editor"))
    assert 'value="Maimøtet"' in opened.get_data(as_text=True)
    changed = post(
        client,
        f"/meetings/{meeting.id}/edit?network=NIK",
        form(title="Maimøtet", date=f"{NEXT}-05-04"),
        page=f"/meetings/plan/NIK/{YEAR}",
        headers=htmx("meeting-form"),
    )
    # Moved into next year: the place moves with it, and the plan shown is the meeting's new year.
    assert changed.headers["HX-Push-Url"] == f"/meetings/plan/NIK/{NEXT}"
    assert says(changed.get_data(as_text=True), f"NIK: møter i {NEXT}")
    assert meetings.quota_status(meeting.networks[0], YEAR)[MeetingKind.PROFESSIONAL] == (0, 4)


def test_without_htmx_the_form_is_a_page_of_its_own(client, create_coordinator):
    sign_in(client, create_coordinator("NIK").email)
    page = client.get("/meetings/new?network=NIK").get_data(as_text=True)
    assert "<html" in page and says(page, "<h1") and "autofocus" not in page
    response = post(client, "/meetings/new?network=NIK", form(title="Maimøtet"), page="/meetings/new")
    assert response.status_code == 303 and response.headers["Location"].startswith("/meetings/")


def test_attachments_are_links_one_a_line(client, create_coordinator):
    sign_in(client, create_coordinator("NIK").email)
    response = post(
        client,
        "/meetings/new",
        form(attachments="https://dok.example/a.pdf\nbare tekst"),
        page="/meetings/new",
    )
    assert response.status_code == 422
    error = response.get_data(as_text=True).split('id="attachments-error"')[1].split("</p>")[0]
    assert "Linje 2 er ikke en lenke" in error
    attachments = "Program – https://dok.example/program.pdf\n\nhttps://dok.example/b.pdf"
    response = post(client, "/meetings/new", form(attachments=attachments), page="/meetings/new")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert (
        '<a class="ds-link" href="https://dok.example/program.pdf" rel="noopener noreferrer">Program</a>'
        in page
    )
    assert (
        '<a class="ds-link" href="https://dok.example/b.pdf" rel="noopener noreferrer">Vedlegg 2 (b.pdf)</a>'
        in page
    )


def test_a_member_signs_up_and_gets_the_invitation_with_a_calendar_file(
    client, create_member, create_coordinator, municipality, deliver, mail_outbox
):
    coordinator = create_coordinator("NIK")
    member = create_member(municipality("4601"))
    start = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0)
    meeting = meetings.plan(
        [coordinator.coordinator_roles[0].network],
        kind=MeetingKind.PROFESSIONAL,
        title="Tolking",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        format="digital",
        online_link="https://teams.example/m/2",
    )
    db.session.commit()
    sign_in(client, member.email)
    assert post(client, f"/meetings/{meeting.id}/signup", page=f"/meetings/{meeting.id}").status_code == 303
    assert (
        post(client, f"/meetings/{meeting.id}/signup", page=f"/meetings/{meeting.id}").status_code == 303
    )  # twice: one sign-up
    assert db.session.scalar(select(db.func.count()).select_from(Signup)) == 1
    deliver()
    (invitation,) = mail_outbox
    assert invitation["To"] == member.email and "Tolking" in invitation["Subject"]
    attachment = next(p for p in invitation.iter_attachments() if p.get_content_type() == "text/calendar")
    event = next(iter(icalendar.Calendar.from_ical(attachment.get_content()).walk("VEVENT")))
    assert event.decoded("dtstart") == start.astimezone(OSLO)
    assert str(event["url"]) == "https://teams.example/m/2"
    assert client.get(f"/meetings/{meeting.id}.ics").mimetype == "text/calendar"


def test_the_calendar_file_is_right_across_a_daylight_saving_change(app, networks):
    # Oslo moves to summer time on the last Sunday of March: 10:00 is 09:00 UTC before, 08:00 UTC after.
    change = max(d for d in range(25, 32) if datetime(YEAR, 3, d).weekday() == 6)
    winter = meetings.plan(
        [networks["NIK"]],
        kind="emergency",
        title="Før",
        format="digital",
        starts_at=datetime(YEAR, 3, change - 1, 10, tzinfo=OSLO),
        ends_at=datetime(YEAR, 3, change - 1, 11, tzinfo=OSLO),
    )
    summer = meetings.plan(
        [networks["NIK"]],
        kind="emergency",
        title="Etter",
        format="digital",
        starts_at=datetime(YEAR, 3, change + 1, 10, tzinfo=OSLO),
        ends_at=datetime(YEAR, 3, change + 1, 11, tzinfo=OSLO),
    )
    db.session.commit()
    for meeting, utc_hour in ((winter, 9), (summer, 8)):
        event = next(
            iter(icalendar.Calendar.from_ical(meetings.ics(meeting, "nettverk@helsedir.no")).walk("VEVENT"))
        )
        start = event.decoded("dtstart")
        assert (start.hour, start.astimezone(UTC).hour) == (10, utc_hour)
        assert str(start.tzinfo) == "Europe/Oslo"
        assert event.walk("VALARM")


def test_attendance_and_minutes_after_the_meeting(
    app, client, create_member, create_coordinator, municipality
):
    coordinator = create_coordinator("NIK")
    member = create_member(municipality("4601"))
    start = datetime.now(UTC) + timedelta(days=1)
    meeting = meetings.plan(
        [coordinator.coordinator_roles[0].network],
        kind="professional_meeting",
        title="Tolking",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        format="digital",
    )
    meetings.sign_up(member, meeting)
    db.session.commit()
    coordinator_client = app.test_client()
    sign_in(coordinator_client, coordinator.email)
    too_early = post(
        coordinator_client, f"/meetings/{meeting.id}/attendance", {"attended": [member.id]}, page="/"
    )
    assert too_early.status_code == 303
    told = coordinator_client.get(too_early.headers["Location"]).get_data(as_text=True)
    assert "Oppmøte registreres etter at møtet har begynt." in told
    db.session.expire_all()
    assert meeting.signups[0].attended is not True and meeting.status == "planned"
    assert audited("meeting.attendance") == 0
    db.session.execute(
        update(Meeting).values(
            starts_at=start - timedelta(days=2), ends_at=start - timedelta(days=2, hours=-1)
        )
    )
    db.session.commit()
    assert (
        post(
            coordinator_client, f"/meetings/{meeting.id}/attendance", {"attended": [member.id]}, page="/"
        ).status_code
        == 303
    )
    assert (
        post(
            coordinator_client,
            f"/meetings/{meeting.id}/minutes",
            {"minutes": "Vi snakket om tolking."},
            page="/",
        ).status_code
        == 303
    )
    db.session.expire_all()
    assert meeting.signups[0].attended and meeting.status == "held"
    sign_in(client, member.email)
    page = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert "Vi snakket om tolking." in page and "Holdt" in page


def test_members_of_other_networks_do_not_see_the_meeting(
    client, create_member, create_coordinator, networks
):
    from models import Organisation

    meeting = meetings.plan(
        [networks["NIK"]],
        kind="network_meeting",
        title="Kun NIK",
        format="digital",
        starts_at=datetime(YEAR, 5, 1, 10, tzinfo=OSLO),
        ends_at=datetime(YEAR, 5, 1, 11, tzinfo=OSLO),
    )
    db.session.commit()
    trust = db.session.scalar(select(Organisation).filter_by(name="Helse Bergen HF"))
    sign_in(client, create_member(trust, networks=("NONEMI",)).email)
    assert client.get(f"/meetings/{meeting.id}").status_code == 403
    assert client.get(f"/meetings/plan/NIK/{YEAR}").status_code == 403


def test_the_day_before_those_signed_up_are_reminded_once(
    runner, create_member, networks, municipality, deliver, mail_outbox
):
    member = create_member(municipality("4601"))
    tomorrow = datetime.now(UTC) + timedelta(hours=20)
    later = datetime.now(UTC) + timedelta(days=5)
    soon = meetings.plan(
        [networks["NIK"]],
        kind="professional_meeting",
        title="I morgen",
        format="digital",
        starts_at=tomorrow,
        ends_at=tomorrow + timedelta(hours=1),
    )
    far = meetings.plan(
        [networks["NIK"]],
        kind="professional_meeting",
        title="Om fem dager",
        format="digital",
        starts_at=later,
        ends_at=later + timedelta(hours=1),
    )
    meetings.sign_up(member, soon)
    meetings.sign_up(member, far)
    db.session.commit()
    assert (
        figure(runner.invoke(args=["meetings", "remind"]).output, "Meeting reminders written to the outbox")
        == 1
    )
    assert (
        figure(runner.invoke(args=["meetings", "remind"]).output, "Meeting reminders written to the outbox")
        == 0
    )
    deliver()
    reminders = [m["Subject"] for m in mail_outbox if m["Subject"].startswith("Påminnelse")]
    assert reminders == ["Påminnelse: I morgen"]  # beside the two invitations the sign-ups sent


def test_twenty_planners_at_once_over_http_leave_exactly_four(live_server, create_coordinator, networks):
    """Against a live server: 3 planned, 20 coordinators' sessions ask for the 4th and 5th at once."""
    import urllib.error

    from tests.conftest import PASSWORD, at_once
    from tests.helpers import Browser

    for month in (2, 3, 4):
        meetings.plan(
            [networks["NIK"]],
            kind="professional_meeting",
            title=f"Fagmøte {month}",
            format="digital",
            starts_at=datetime(YEAR, month, 1, 10, tzinfo=OSLO),
            ends_at=datetime(YEAR, month, 1, 11, tzinfo=OSLO),
        )
    db.session.commit()
    email = create_coordinator("NIK").email
    browsers = []
    for _ in range(20):
        browser = Browser(live_server.url)
        status, home = browser.post("/sign-in", {"email": email, "password": PASSWORD}, page="/sign-in")
        assert status == 200 and 'action="/sign-out"' in home  # the 303 followed to the home, signed in
        browsers.append(browser)

    def attempt(ready, i, browser):
        ready()
        try:
            _status, page = browser.post(
                "/meetings/new",
                {**form(date=f"{YEAR}-{5 + i % 7:02d}-10", title=f"Forsøk {i}")},
                page="/meetings/new",
            )
        except urllib.error.HTTPError as refusal:
            assert refusal.code == 422, refusal  # the refusal is answered with 422 and the message
            page = refusal.read().decode()
        return (
            "planned"
            if "er planlagt" in page
            else "refused"
            if says(page, "har allerede planlagt 4")
            else page[:200]
        )

    outcomes = at_once(attempt, list(enumerate(browsers)))
    assert outcomes.count("planned") == 1 and outcomes.count("refused") == 19, outcomes[:3]
    db.session.expire_all()
    assert len(meetings.planned(networks["NIK"], YEAR, MeetingKind.PROFESSIONAL)) == 4


def test_a_change_sends_the_updated_invitation_with_the_same_uid_and_a_higher_sequence(
    app, client, create_member, create_coordinator, municipality, deliver, mail_outbox
):
    coordinator = create_coordinator("NIK")
    member = create_member(municipality("4601"))
    start = (datetime.now(UTC) + timedelta(days=20)).replace(microsecond=0)
    meeting = meetings.plan(
        [coordinator.coordinator_roles[0].network],
        kind="professional_meeting",
        title="Tolking",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        format="digital",
    )
    meetings.sign_up(member, meeting)
    db.session.commit()
    first = icalendar.Calendar.from_ical(meetings.ics(meeting, "nettverk@helsedir.no"))
    sign_in(client, coordinator.email)
    new_day = (start + timedelta(days=1)).astimezone(OSLO)
    response = post(
        client,
        f"/meetings/{meeting.id}/edit",
        {
            "title": "Tolking (flyttet)",
            "date": new_day.date().isoformat(),
            "start": "13:00",
            "end": "14:00",
            "format": "digital",
        },
        page=f"/meetings/{meeting.id}/edit",
    )
    assert response.status_code == 303
    deliver()
    (update_mail,) = [m for m in mail_outbox if "Tolking (flyttet)" in m["Subject"]]  # beside the sign-up's
    attachment = next(p for p in update_mail.iter_attachments() if p.get_content_type() == "text/calendar")
    before = next(iter(first.walk("VEVENT")))
    after = next(iter(icalendar.Calendar.from_ical(attachment.get_content()).walk("VEVENT")))
    assert str(after["uid"]) == str(before["uid"]) and int(after["sequence"]) == int(before["sequence"]) + 1
    assert after.decoded("dtstart").hour == 13 and str(after["summary"]) == "Tolking (flyttet)"


def test_moving_a_meeting_into_a_full_year_is_refused(client, create_coordinator, networks):
    for year in (YEAR, NEXT):
        for month in (3, 10):
            meetings.plan(
                [networks["NIK"]],
                kind="network_meeting",
                title=f"Nettverksmøte {month}.{year}",
                format="digital",
                starts_at=datetime(year, month, 1, 10, tzinfo=OSLO),
                ends_at=datetime(year, month, 1, 12, tzinfo=OSLO),
            )
    db.session.commit()
    meeting = db.session.scalar(select(Meeting).filter_by(title=f"Nettverksmøte 10.{YEAR}"))
    sign_in(client, create_coordinator("NIK").email)
    response = post(
        client,
        f"/meetings/{meeting.id}/edit",
        {
            "title": meeting.title,
            "date": f"{NEXT}-05-01",
            "start": "10:00",
            "end": "12:00",
            "format": "digital",
        },
        page="/",
    )
    assert response.status_code == 422 and says(
        response.get_data(as_text=True), f"har allerede sine 2 nettverksmøter i {NEXT}"
    )
    db.session.expire_all()
    assert meeting.starts_at == datetime(YEAR, 10, 1, 10, tzinfo=OSLO) and meeting.sequence == 0


def test_the_personal_calendar_feed_lists_my_networks_meetings_until_a_new_password(
    client, create_member, networks, municipality
):
    from models import tokens

    member = create_member(municipality("4601"))
    soon = datetime.now(UTC) + timedelta(days=5)
    meetings.plan(
        [networks["NIK"]],
        kind="professional_meeting",
        title="NIK-møte",
        format="digital",
        starts_at=soon,
        ends_at=soon + timedelta(hours=1),
    )
    meetings.plan(
        [networks["NONEMI"]],
        kind="professional_meeting",
        title="NONEMI-møte",
        format="digital",
        starts_at=soon,
        ends_at=soon + timedelta(hours=1),
    )
    db.session.commit()
    sign_in(client, member.email)
    page = client.get("/me/").get_data(as_text=True)
    feed = (
        page.split('id="feed-url" type="text" readonly value="')[1]
        .split('"')[0]
        .replace("http://localhost", "")
    )
    # The feed link is a signed token that names the member, not the member's id in the path.
    token = feed.rsplit("/", 1)[-1].removesuffix(".ics")
    assert tokens.read("calendar_feed", token)["member"] == member.id
    assert f"/{member.id}" not in feed.replace(token, "")
    calendar = icalendar.Calendar.from_ical(client.application.test_client().get(feed).get_data())
    assert [str(e["summary"]) for e in calendar.walk("VEVENT")] == ["NIK-møte"]
    member.set_password("en helt ny og lang frase")
    db.session.commit()
    assert client.application.test_client().get(feed).status_code == 400


def test_two_coordinators_changing_the_same_meeting_the_second_is_told_not_overwritten(
    app, create_coordinator, networks
):
    start = datetime(YEAR, 9, 1, 10, tzinfo=OSLO)
    meeting = meetings.plan(
        [networks["NIK"]],
        kind="professional_meeting",
        title="Tolking",
        format="digital",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
    )
    db.session.commit()
    first, second = app.test_client(), app.test_client()
    sign_in(first, create_coordinator("NIK").email)
    sign_in(second, create_coordinator("NIK").email)
    url = f"/meetings/{meeting.id}/edit"

    def opened(client):
        page = client.get(url).get_data(as_text=True)
        return re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)

    versions = opened(first), opened(second)
    details = {"date": f"{YEAR}-09-01", "start": "10:00", "end": "12:00", "format": "digital"}
    assert (
        post(
            first, url, {**details, "title": "Tolking i praksis", "version": versions[0]}, page=url
        ).status_code
        == 303
    )
    told = post(second, url, {**details, "title": "Tolk og helse", "version": versions[1]}, page=url)
    page = told.get_data(as_text=True)
    assert told.status_code == 409
    assert "Noen andre endret møtet mens du redigerte det" in page and "«Tolking i praksis»" in page
    assert 'value="Tolk og helse"' in page  # what the second typed is kept, not lost
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).title == "Tolking i praksis"  # the first change stands
    # Having seen it, the second saves again, knowingly.
    again = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    assert (
        post(second, url, {**details, "title": "Tolk og helse", "version": again}, page=url).status_code
        == 303
    )
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).title == "Tolk og helse"


def test_two_changes_at_the_same_moment_the_database_keeps_one(app_factory, app, networks):
    """Both editors read the same version; the other commits first.  The operation reads the meeting
    afresh under its row lock, so this editor's change is refused as a conflict (not a StaleDataError
    at commit, not a silent overwrite)."""
    start = datetime(YEAR, 9, 1, 10, tzinfo=OSLO)
    meeting = meetings.plan(
        [networks["NIK"]],
        kind="professional_meeting",
        title="Tolking",
        format="digital",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
    )
    db.session.commit()
    mine = db.session.get(Meeting, meeting.id)
    read = mine.sequence  # this editor has read the meeting
    with app_factory().app_context():  # another worker changes it and commits first
        theirs = db.session.get(Meeting, meeting.id)
        meetings.reschedule(theirs, theirs.starts_at, theirs.ends_at, version=theirs.sequence, title="Deres")
        db.session.commit()
        db.session.remove()
    with pytest.raises(meetings.EditConflict):
        meetings.reschedule(mine, mine.starts_at, mine.ends_at, version=read, title="Min")
    db.session.rollback()
    assert db.session.get(Meeting, meeting.id).title == "Deres"


# -- the same request twice at the same moment (two tabs: each its own submission key) ---------------

from tests.conftest import postgres_only, twice_at_once  # noqa: E402


def soon_meeting(network, days=10, kind="professional_meeting", title="Tolking", **values):
    start = (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)
    return meetings.plan(
        [network],
        kind=kind,
        title=title,
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        format="digital",
        **values,
    )


def test_a_meeting_cancelled_twice_at_once_is_cancelled_once(
    app, create_member, create_coordinator, networks, municipality, deliver, mail_outbox
):
    postgres_only(app)
    coordinator = create_coordinator("NIK")
    people = [create_member(municipality("4601")), create_member(municipality("0301"))]
    meeting = soon_meeting(networks["NIK"])
    for person in people:
        meetings.sign_up(person, meeting)
    db.session.commit()
    deliver()
    mail_outbox.clear()
    url = f"/meetings/{meeting.id}/cancel"
    # Both answered as a page (the second: "already cancelled"), not the 409 safety net, not a 500.
    assert answered(twice_at_once(tabs(app, coordinator.email), url, page=f"/meetings/{meeting.id}")) == [
        303,
        303,
    ]
    assert audited("meeting.cancelled") == 1
    assert db.session.get(Meeting, meeting.id).status == "cancelled"
    assert meetings.quota_status(networks["NIK"], meeting.year)[MeetingKind.PROFESSIONAL] == (
        0,
        4,
    )  # given back once
    deliver()
    assert sorted(m["To"] for m in mail_outbox) == sorted(p.email for p in people)
    assert all(m["Subject"] == "Avlyst: Tolking" for m in mail_outbox)


def test_a_meeting_that_has_begun_or_been_held_is_not_cancelled_by_a_direct_post(
    app, client, create_member, create_coordinator, networks, municipality
):
    coordinator = create_coordinator("NIK")
    member = create_member(municipality("4601"))
    held, begun = soon_meeting(networks["NIK"], title="Holdt"), soon_meeting(networks["NIK"], title="Begynt")
    meetings.sign_up(member, held)
    db.session.flush()
    for meeting in (held, begun):  # both moved into the past, as if time went by
        db.session.execute(
            update(Meeting)
            .where(Meeting.id == meeting.id)
            .values(
                starts_at=datetime.now(UTC) - timedelta(hours=3),
                ends_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )
    db.session.commit()
    meetings.record_attendance(db.session.get(Meeting, held.id), {member.id})
    db.session.commit()
    sign_in(client, coordinator.email)
    for meeting in (held, begun):
        page = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
        assert f"/meetings/{meeting.id}/cancel" not in page  # the page asks meeting.may_cancel
        response = post(client, f"/meetings/{meeting.id}/cancel", page=f"/meetings/{meeting.id}")
        assert response.status_code == 303
        assert "har begynt eller er holdt" in client.get(response.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert [db.session.get(Meeting, m.id).status for m in (held, begun)] == ["held", "planned"]
    assert meetings.quota_status(networks["NIK"], held.year)[MeetingKind.PROFESSIONAL] == (2, 4)  # kept
    assert audited("meeting.cancelled") == 0


def test_one_form_double_clicked_plans_once_two_tabs_plan_twice(app, create_coordinator, networks):
    postgres_only(app)
    email = create_coordinator("NIK").email
    data = form(title="Dobbeltklikk", date=f"{YEAR}-04-10")
    answered(twice_at_once(tabs(app, email), "/meetings/new", data, page="/meetings/new", same_key=True))
    assert db.session.scalar(select(db.func.count()).select_from(Meeting)) == 1
    assert meetings.quota_status(networks["NIK"], YEAR)[MeetingKind.PROFESSIONAL] == (1, 4)
    assert audited("meeting.planned") == 1
    # Two tabs, each its own form: two requests, two meetings (each takes its own quota place).
    statuses = answered(
        twice_at_once(
            tabs(app, email),
            "/meetings/new",
            form(title="To faner", date=f"{YEAR}-05-10"),
            page="/meetings/new",
        )
    )
    assert statuses == [303, 303]
    assert meetings.quota_status(networks["NIK"], YEAR)[MeetingKind.PROFESSIONAL] == (3, 4)


def test_a_sign_up_sent_twice_at_once_signs_up_once_with_one_invitation(
    app, create_member, networks, municipality, deliver, mail_outbox
):
    postgres_only(app)
    member = create_member(municipality("4601"))
    meeting = soon_meeting(networks["NIK"])
    db.session.commit()
    statuses = answered(
        twice_at_once(
            tabs(app, member.email), f"/meetings/{meeting.id}/signup", page=f"/meetings/{meeting.id}"
        )
    )
    assert statuses == [303, 303]  # the second is told "already signed up", not a 409 from the unique index
    assert db.session.scalar(select(db.func.count()).select_from(Signup)) == 1
    deliver()
    assert [m["To"] for m in mail_outbox] == [member.email]


def test_a_withdrawal_sent_twice_at_once_is_clean(
    app, create_member, networks, municipality, deliver, mail_outbox
):
    postgres_only(app)
    member, other = create_member(municipality("4601")), create_member(municipality("0301"))
    meeting = soon_meeting(networks["NIK"])
    meetings.sign_up(member, meeting)
    meetings.sign_up(other, meeting)
    db.session.commit()
    statuses = answered(
        twice_at_once(
            tabs(app, member.email), f"/meetings/{meeting.id}/withdraw", page=f"/meetings/{meeting.id}"
        )
    )
    assert statuses == [303, 303]
    db.session.expire_all()
    assert [s.member_id for s in db.session.scalars(select(Signup))] == [other.id]


def test_attendance_and_minutes_sent_twice_at_once_are_recorded_once(
    app, create_member, create_coordinator, networks, municipality
):
    postgres_only(app)
    coordinator = create_coordinator("NIK")
    member = create_member(municipality("4601"))
    meeting = soon_meeting(networks["NIK"])
    meetings.sign_up(member, meeting)
    db.session.flush()
    db.session.execute(
        update(Meeting).values(
            starts_at=datetime.now(UTC) - timedelta(hours=2), ends_at=datetime.now(UTC) - timedelta(hours=1)
        )
    )
    db.session.commit()
    page = f"/meetings/{meeting.id}"
    assert answered(
        twice_at_once(
            tabs(app, coordinator.email), f"{page}/attendance", {"attended": [member.id]}, page=page
        )
    ) == [303, 303]
    assert answered(
        twice_at_once(
            tabs(app, coordinator.email), f"{page}/minutes", {"minutes": "Vi snakket om tolking."}, page=page
        )
    ) == [303, 303]
    assert audited("meeting.attendance") == 1 and audited("meeting.minutes_published") == 1
    meeting = db.session.get(Meeting, meeting.id)
    assert (
        meeting.status == "held"
        and meeting.signups[0].attended
        and meeting.minutes == "Vi snakket om tolking."
    )


def test_a_change_sent_twice_at_once_is_made_once_and_the_second_tab_is_told(
    app, create_member, create_coordinator, networks, municipality, deliver, mail_outbox
):
    postgres_only(app)
    coordinator = create_coordinator("NIK")
    member = create_member(municipality("4601"))
    meeting = soon_meeting(networks["NIK"], days=40)
    meetings.sign_up(member, meeting)
    db.session.commit()
    deliver()
    mail_outbox.clear()
    day = (meeting.starts_at + timedelta(days=1)).astimezone(OSLO).date().isoformat()
    url = f"/meetings/{meeting.id}/edit"
    statuses = answered(
        twice_at_once(
            tabs(app, coordinator.email),
            url,
            {
                "title": "Tolking (flyttet)",
                "date": day,
                "start": "13:00",
                "end": "14:00",
                "format": "digital",
                "version": meeting.sequence,
            },
            page=url,
        )
    )
    assert sorted(statuses) == [303, 409]  # the second is shown the meeting as the first left it
    assert audited("meeting.changed") == 1
    deliver()
    assert [m["Subject"] for m in mail_outbox] == ["Endret: Tolking (flyttet)"]


def test_withdrawal_attendance_and_minutes_hold_their_rules_on_a_direct_post(
    app, client, create_member, create_coordinator, networks, municipality
):
    coordinator = create_coordinator("NIK")
    member = create_member(municipality("4601"))
    over, cancelled, coming = (soon_meeting(networks["NIK"], title=t) for t in ("Over", "Avlyst", "Kommer"))
    for meeting in (over, cancelled):
        meetings.sign_up(member, meeting)
    db.session.flush()
    meetings.cancel(cancelled)
    db.session.execute(
        update(Meeting)
        .where(Meeting.id.in_([over.id, cancelled.id]))
        .values(
            starts_at=datetime.now(UTC) - timedelta(hours=3), ends_at=datetime.now(UTC) - timedelta(hours=1)
        )
    )
    db.session.commit()
    sign_in(client, member.email)
    assert "Meld meg av" not in client.get(f"/meetings/{over.id}").get_data(as_text=True)
    assert (
        post(client, f"/meetings/{over.id}/withdraw", page="/").status_code == 303
    )  # over: the sign-up is the attendance record now
    staff = app.test_client()
    sign_in(staff, coordinator.email)
    assert (
        post(staff, f"/meetings/{cancelled.id}/attendance", {"attended": [member.id]}, page="/").status_code
        == 303
    )
    assert (
        post(staff, f"/meetings/{coming.id}/minutes", {"minutes": "Skrevet på forhånd"}, page="/").status_code
        == 303
    )
    db.session.expire_all()
    assert db.session.scalar(select(db.func.count()).select_from(Signup)) == 2
    assert db.session.get(Meeting, cancelled.id).status == "cancelled"
    assert all(s.attended is None for s in db.session.scalars(select(Signup)))
    assert db.session.get(Meeting, coming.id).minutes is None
    assert audited("meeting.attendance") == 0 and audited("meeting.minutes_published") == 0


def test_two_reminder_runs_at_once_send_each_reminder_once(
    app, app_factory, create_member, networks, municipality, deliver, mail_outbox
):
    postgres_only(app)
    from tests.conftest import at_once

    people = [create_member(municipality("4601")) for _ in range(5)]
    meeting = soon_meeting(networks["NIK"], days=1, title="I morgen")
    db.session.execute(
        update(Meeting).values(
            starts_at=datetime.now(UTC) + timedelta(hours=20), ends_at=datetime.now(UTC) + timedelta(hours=21)
        )
    )
    db.session.flush()
    for person in people:
        meetings.sign_up(person, db.session.get(Meeting, meeting.id))
    db.session.commit()
    deliver()
    mail_outbox.clear()
    hosts = [app_factory(), app_factory()]

    def run(wait, host):
        with host.app_context():
            wait()
            count = meetings.send_reminders()
            db.session.commit()
            db.session.remove()
            return count

    counts = at_once(run, [(host,) for host in hosts])
    assert sum(counts) == 5
    deliver()
    assert sorted(m["To"] for m in mail_outbox) == sorted(p.email for p in people)
    assert {m["Subject"] for m in mail_outbox} == {"Påminnelse: I morgen"}
