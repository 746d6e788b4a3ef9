"""Calendar invitations as Outlook needs them (RFC 5545 and its iTIP, RFC 5546), and the mail around them:
every invitation, update, cancellation, call-in and feed is parsed and checked for the properties the
RFCs require; each mail's Message-ID, Reply-To and (bulk mail) List-Id."""

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import icalendar
from babel.dates import format_date

from extensions import db
from models import advice as advices
from models import meeting as meetings
from models import outbox, tokens
from models.meeting import OSLO, MeetingKind
from tests.conftest import post, sign_in
from tests.helpers import form

NOTICE = {"name": "Kari", "lines": ["Noe skjedde."], "url": "https://x.example/", "link_text": "Se det"}


def attachment(message):
    """The calendar of a delivered mail: (its method parameter, the parsed calendar).  It is both an
    alternative of the mail's body (where Outlook and Gmail look for an invitation) and an attached
    file, the two alike."""
    (part,) = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    (alternative,) = [
        p for p in message.walk() if p.get_content_type() == "text/calendar" and not p.is_attachment()
    ]
    assert alternative.get_content() == part.get_content()
    assert alternative.get_param("method") == part.get_param("method")
    return part.get_param("method"), icalendar.Calendar.from_ical(part.get_content())


def conforms(calendar, method, attendee=None):
    """The calendar holds what RFC 5545 requires of every iCalendar object and RFC 5546 of ``method``
    (REQUEST, CANCEL: an ORGANIZER and the ATTENDEE; PUBLISH: an ORGANIZER); returns its events."""
    assert str(calendar["version"]) == "2.0" and str(calendar["prodid"]).startswith("-//")
    assert str(calendar["method"]) == method
    events = calendar.walk("VEVENT")
    assert events
    zones = {str(zone["tzid"]): zone for zone in calendar.walk("VTIMEZONE")}
    for event in events:
        for name in ("uid", "dtstamp", "dtstart", "dtend", "sequence", "summary", "organizer", "status"):
            assert name in event, name
        assert event.decoded("dtstamp").utcoffset() == timedelta(0)  # DTSTAMP is in UTC
        assert str(event["organizer"]).startswith("mailto:") and event["organizer"].params["CN"]
        for name in ("dtstart", "dtend"):  # a VTIMEZONE for every TZID, and it tells the right time
            tzid = event[name].params["TZID"]
            assert tzid == "Europe/Oslo" and tzid in zones
            moment = event.decoded(name)
            local = moment.replace(tzinfo=None)
            assert zones[tzid].to_tz().utcoffset(local) == OSLO.utcoffset(local)
        for part in zones[tzid].walk():
            if part.name in ("STANDARD", "DAYLIGHT"):
                assert {"dtstart", "tzoffsetfrom", "tzoffsetto"} <= {k.lower() for k in part}
        if method == "PUBLISH":
            assert "attendee" not in event
        else:
            assert "attendee" in event
            guest = event["attendee"]
            assert str(guest) == f"mailto:{attendee.email}" and guest.params["CN"] == attendee.name
            assert guest.params["PARTSTAT"] == "ACCEPTED" and guest.params["RSVP"] == "FALSE"
            assert str(event["organizer"]) != str(guest)
        if method != "PUBLISH":  # published, an event says either
            assert str(event["status"]) == ("CANCELLED" if method == "CANCEL" else "CONFIRMED")
    return events


def test_invitation_update_cancellation_and_feed_are_each_a_complete_itip_object(
    app, client, create_member, create_coordinator, municipality, deliver, mail_outbox
):
    coordinator = create_coordinator("NIK")
    member = create_member(municipality("4601"), name="Kari O'Neill")
    # Across the change to summer time: the VTIMEZONE has to tell both offsets right.
    start = datetime(datetime.now(UTC).year + 1, 3, 27, 10, tzinfo=OSLO)
    meeting = meetings.plan(
        [coordinator.coordinator_roles[0].network],
        kind=MeetingKind.PROFESSIONAL,
        title="Tolking",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        format="digital",
        online_link="https://teams.example/m/2",
    )
    meetings.sign_up(member, meeting)
    db.session.commit()
    meetings.reschedule(meeting, start + timedelta(days=3), start + timedelta(days=3, hours=2))
    db.session.commit()
    meetings.cancel(meeting)
    db.session.commit()
    deliver()

    sent = {m["Subject"]: m for m in mail_outbox}
    assert len(sent) == 3
    methods, events = [], []
    for message in mail_outbox:
        method, calendar = attachment(message)
        methods.append(method)
        events += conforms(calendar, method, attendee=member)
    assert methods == ["REQUEST", "REQUEST", "CANCEL"]  # the part's method is the calendar's own
    assert len({str(e["uid"]) for e in events}) == 1  # one event, updated and then cancelled
    assert [int(e["sequence"]) for e in events] == [0, 1, 2]  # SEQUENCE rises with each change
    assert [e.decoded("dtstart").hour for e in events] == [10, 10, 10]  # 10:00 in Oslo, winter and summer
    assert [e.decoded("dtstart").utcoffset() for e in events][:2] == [timedelta(hours=1), timedelta(hours=2)]

    # The personal feed: published (no attendee), with the same UID and a VTIMEZONE.
    token = tokens.make("calendar_feed", member=member.id, version=member.auth_version)
    feed = client.get(f"/meetings/calendar/{token}.ics")
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    (in_feed,) = conforms(icalendar.Calendar.from_ical(feed.get_data()), "PUBLISH")
    assert str(in_feed["uid"]) == str(events[0]["uid"]) and int(in_feed["sequence"]) == 2
    assert str(in_feed["status"]) == "CANCELLED" and not in_feed.walk("VALARM")
    # The file a member downloads from the meeting page is published too.
    sign_in(client, member.email)
    download = client.get(f"/meetings/{meeting.id}.ics")
    conforms(icalendar.Calendar.from_ical(download.get_data()), "PUBLISH")


def test_the_call_in_mail_has_start_end_agenda_an_ics_and_a_list_id(
    app, client, create_member, create_coordinator, municipality, deliver, mail_outbox
):
    member = create_member(municipality("4601"), name="Kari")
    coordinator = create_coordinator("NIK")
    sign_in(client, coordinator.email)
    response = post(
        client,
        "/meetings/new",
        form(
            kind="emergency",
            networks=("NIK",),
            title="Smitteutbrudd",
            date=f"{datetime.now(UTC).year + 1}-01-20",
            start="10:00",
            end="11:30",
            online_link="https://teams.microsoft.com/l/meetup-join/19%3ameeting_very_long_address",
            description="Et utbrudd i to kommuner.",
            agenda="1. Situasjonen\n2. Tiltak",
        ),
        page="/meetings/new",
    )
    assert response.status_code == 303
    deliver()
    (mail,) = [m for m in mail_outbox if m["To"] == member.email]
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Innkalling ved beredskapshendelse: Smitteutbrudd\n===")  # the subject as heading
    day = format_date(date(datetime.now(UTC).year + 1, 1, 20), "EEEE d. MMMM y", locale="nb")
    assert f"Tid: {day} 10:00–11:30\n" in text  # start and end
    assert "Bli med i møtet: https://teams.microsoft.com/l/meetup-join/" in text  # a label, not the address
    assert "Dagsorden\n---------\n\n1. Situasjonen\n2. Tiltak\n" in text
    html = mail.get_body(("html",)).get_content()
    assert "<title>Innkalling ved beredskapshendelse: Smitteutbrudd</title>" in html
    assert ">https://teams" not in html
    method, calendar = attachment(mail)
    assert method == "PUBLISH"  # one file for everyone called in: no attendee named
    (event,) = conforms(calendar, "PUBLISH")
    assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(minutes=90)
    assert "1. Situasjonen" in str(event["description"])
    assert (
        mail["List-Id"] == f"NIK call-in <call-in.nik.nettverk.{urlsplit(app.config['BASE_URL']).hostname}>"
    )


def test_message_ids_are_on_the_base_url_host_stable_per_row_and_unique(app_factory, mail_outbox):
    app = app_factory(BASE_URL="https://nettverk.helsedir.example/app")
    with app.app_context():
        first = outbox.queue("a@x.example", "Emne", "notice", **NOTICE)
        second = outbox.queue("b@x.example", "Emne", "notice", **NOTICE)
        db.session.commit()
        ids = [first.message_id, second.message_id]
        assert all(i.startswith("<outbox-") and i.endswith("@nettverk.helsedir.example>") for i in ids)
        assert ids[0] != ids[1] and first.message_id == ids[0]  # the same for each try to send it
        assert first.to_message().msgId == ids[0]
        # A database started afresh (or another installation's) gives the same row number again: the
        # moment it was written still tells the two apart.
        again = outbox.OutboxMessage(id=first.id, created_at=first.created_at + timedelta(microseconds=1))
        assert again.message_id != first.message_id
        outbox.deliver(worker="test")
    assert sorted(m["Message-ID"] for m in mail_outbox) == sorted(ids)


def test_reply_to_is_the_configured_address_and_absent_without_one(app_factory, mail_outbox):
    for setting, expected in (("Koordinatorene <nettverk@helsedir.example>", True), (None, False)):
        app = app_factory(MAIL_REPLY_TO=setting)
        with app.app_context():
            outbox.queue("a@x.example", "Emne", "notice", **NOTICE)
            db.session.commit()
            outbox.deliver(worker="test")
            db.session.execute(outbox.OutboxMessage.__table__.delete())
            db.session.commit()
        (message,) = mail_outbox
        assert message["Reply-To"] == (setting if expected else None)
        mail_outbox.clear()


def test_a_request_for_advice_carries_the_list_id_of_its_networks(app, networks, create_member, municipality):
    create_member(municipality("4601"))
    now = datetime.now(UTC)
    advices.post(
        "Høring",
        "Tekst",
        None,
        [networks["NIK"], networks["NIFS"]],
        deadline=now + timedelta(days=20),
        remind_at=now + timedelta(days=10),
        by=None,
    )
    db.session.commit()
    rows = db.session.scalars(db.select(outbox.OutboxMessage)).all()
    assert rows and {row.headers["List-Id"] for row in rows} == {
        "NIK, NIFS advice <advice.nik-nifs.nettverk.localhost>"
    }


def test_the_review_request_carries_the_list_id_of_its_network(app, networks, create_member, municipality):
    from models import review as reviews

    create_member(municipality("4601"))
    opened = datetime.now(UTC).replace(microsecond=0)
    reviews.open_cycle(
        networks["NIK"], opened.year, opened + timedelta(days=21), opened + timedelta(days=14), now=opened
    )
    db.session.commit()
    rows = db.session.scalars(db.select(outbox.OutboxMessage)).all()
    assert rows and {row.headers["List-Id"] for row in rows} == {"NIK review <review.nik.nettverk.localhost>"}
