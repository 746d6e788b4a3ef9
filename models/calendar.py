"""The calendar writer: a meeting as an iCalendar invitation (or cancellation), and a member's feed.

What Outlook (and RFC 5545/5546) need to file and later update the copy in a member's calendar:

- a ``VTIMEZONE`` for every ``TZID`` the events use (here only Europe/Oslo, written as Outlook
  writes it: the EU rule, last Sunday of March and October, without end);
- an invitation to one member (``METHOD:REQUEST``, and ``METHOD:CANCEL`` once the meeting is
  cancelled) names the ``ORGANIZER`` (the networks' sender, ``MAIL_ORGANISER``) and the member as
  ``ATTENDEE`` – already accepted (``PARTSTAT=ACCEPTED``, signing up was the answer) and asked
  for no reply (``RSVP=FALSE``);
- the UID of a meeting stays; ``SEQUENCE`` (``Meeting.sequence``) moves on with each change and
  ``DTSTAMP`` says when the copy was written, so calendars update the event instead of adding another.

A calendar for no one in particular – the personal feed, a file downloaded from the meeting page,
the emergency call-in sent alike to everyone – is ``METHOD:PUBLISH``, which needs no attendee.
"""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flask_babel import LazyString

from models.meeting import OSLO, MeetingStatus
from models.types import utcnow

if TYPE_CHECKING:
    from collections.abc import Iterable

    from icalendar import Calendar, Event, Timezone

    from models.meeting import Meeting
    from models.member import Member
    from models.outbox import OutboxMessage

SENDER_NAME = "Migrasjonshelsenettverkene"


def _calendar(method: str) -> "Calendar":
    from icalendar import Calendar

    calendar = Calendar()
    calendar.add("prodid", "-//Helsedirektoratet//Migrasjonshelsenettverkene//NB")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    calendar.add_component(oslo_timezone())
    return calendar


def oslo_timezone() -> "Timezone":
    """Europe/Oslo as a ``VTIMEZONE``: CET, and CEST from the last Sunday of March (02:00) to the
    last Sunday of October (03:00) – Norway's rule since 1996, written with RRULEs (no end year)."""
    from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

    timezone = Timezone()
    timezone.add("tzid", str(OSLO))
    for part, start, month, before, after, name in (
        (TimezoneStandard(), datetime(1970, 10, 25, 3), 10, 2, 1, "CET"),
        (TimezoneDaylight(), datetime(1970, 3, 29, 2), 3, 1, 2, "CEST"),
    ):
        part.add("dtstart", start)
        part.add("rrule", {"freq": "yearly", "bymonth": month, "byday": "-1SU"})
        part.add("tzoffsetfrom", timedelta(hours=before))
        part.add("tzoffsetto", timedelta(hours=after))
        part.add("tzname", name)
        timezone.add_component(part)
    return timezone


def ics(meeting: "Meeting", organiser_email: str, attendee: "Member | None" = None) -> bytes:
    """The meeting as an iCalendar object: times in Europe/Oslo, a reminder the day before.

    With an ``attendee``: their invitation (``REQUEST``), or its cancellation (``CANCEL``) once the
    meeting is cancelled.  Without: the meeting published (a download, a mail to many)."""
    cancelled = meeting.status == MeetingStatus.CANCELLED
    method = "PUBLISH" if attendee is None else "CANCEL" if cancelled else "REQUEST"
    calendar = _calendar(method)
    calendar.add_component(_event(meeting, organiser_email, attendee))
    text: bytes = calendar.to_ical()
    return text


def feed(meetings_: "Iterable[Meeting]", organiser_email: str) -> bytes:
    """Many meetings as one calendar, for a subscription."""
    calendar = _calendar("PUBLISH")
    calendar.add("x-wr-calname", SENDER_NAME)
    calendar.add("x-wr-timezone", str(OSLO))
    for meeting in meetings_:
        calendar.add_component(_event(meeting, organiser_email))
    text: bytes = calendar.to_ical()
    return text


def _event(meeting: "Meeting", organiser_email: str, attendee: "Member | None" = None) -> "Event":
    from icalendar import Alarm, Event, vCalAddress, vText

    event = Event()
    event.add("uid", f"meeting-{meeting.id}@{organiser_email.split('@')[-1]}")
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", utcnow())
    event.add("dtstart", meeting.starts_at.astimezone(OSLO))
    event.add("dtend", meeting.ends_at.astimezone(OSLO))
    event.add("summary", meeting.title)
    # The topics taken into the meeting follow its agenda, one a line (the calendar's copy of the page).
    topics = "\n".join(f"– {topic.title}" for topic in meeting.agenda_topics)
    description = "\n\n".join(
        filter(None, [meeting.description, meeting.agenda, topics, meeting.online_link])
    )
    if description:
        event.add("description", description)
    if meeting.place or meeting.online_link:
        event.add("location", meeting.place or meeting.online_link)
    if meeting.online_link:
        event.add("url", meeting.online_link)
    event.add("status", "CANCELLED" if meeting.status == MeetingStatus.CANCELLED else "CONFIRMED")
    organiser = vCalAddress(f"mailto:{organiser_email}")
    codes = ", ".join(network.code for network in meeting.networks)
    organiser.params["cn"] = vText(f"{SENDER_NAME} ({codes})" if codes else SENDER_NAME)
    event["organizer"] = organiser
    if attendee is not None:
        guest = vCalAddress(f"mailto:{attendee.email}")
        guest.params["cn"] = vText(attendee.name)
        guest.params["cutype"] = vText("INDIVIDUAL")
        guest.params["role"] = vText("REQ-PARTICIPANT")
        guest.params["partstat"] = vText("ACCEPTED")
        guest.params["rsvp"] = vText("FALSE")
        event.add("attendee", guest)
    if meeting.status != MeetingStatus.CANCELLED:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", meeting.title)
        alarm.add("trigger", timedelta(days=-1))
        event.add_component(alarm)
    return event


def invite(member: "Member", meeting: "Meeting", subject: str | LazyString) -> "OutboxMessage":
    """A mail to ``member`` with their calendar invitation (or its cancellation) attached."""
    from flask import current_app

    from models.language import mail_locale
    from models.outbox import link, queue

    return queue(
        member.email,
        subject,
        "meeting_invite",
        locale=mail_locale(member),
        member=member,
        meeting=meeting,
        url=link("meetings.show", meeting_id=meeting.id),
        ics=ics(meeting, current_app.config["MAIL_ORGANISER"], attendee=member),
    )
