"""The calendar writer: a meeting as an iCalendar invitation (or cancellation), and a member's feed.

The UID of a meeting stays; SEQUENCE (``Meeting.sequence``) moves on with each change, so calendars
update the event instead of adding another.
"""

from datetime import timedelta
from typing import TYPE_CHECKING

from flask_babel import LazyString

from models.meeting import OSLO, MeetingStatus
from models.types import utcnow

if TYPE_CHECKING:
    from collections.abc import Iterable

    from icalendar import Calendar, Event

    from models.meeting import Meeting
    from models.member import Member
    from models.outbox import OutboxMessage


def _calendar(method: str | None = None) -> "Calendar":
    from icalendar import Calendar

    calendar = Calendar()
    calendar.add("prodid", "-//Helsedirektoratet//Migrasjonshelsenettverkene//NB")
    calendar.add("version", "2.0")
    if method:
        calendar.add("method", method)
    return calendar


def ics(meeting: "Meeting", organiser_email: str) -> bytes:
    """The meeting as an iCalendar invitation: times in Europe/Oslo, a reminder the day before."""
    calendar = _calendar("CANCEL" if meeting.status == MeetingStatus.CANCELLED else "REQUEST")
    calendar.add_component(_event(meeting, organiser_email))
    text: bytes = calendar.to_ical()
    return text


def feed(meetings_: "Iterable[Meeting]", organiser_email: str) -> bytes:
    """Many meetings as one calendar, for a subscription."""
    calendar = _calendar()
    calendar.add("x-wr-calname", "Migrasjonshelsenettverkene")
    for meeting in meetings_:
        calendar.add_component(_event(meeting, organiser_email))
    text: bytes = calendar.to_ical()
    return text


def _event(meeting: "Meeting", organiser_email: str) -> "Event":
    from icalendar import Alarm, Event, vCalAddress, vText

    event = Event()
    event.add("uid", f"meeting-{meeting.id}@{organiser_email.split('@')[-1]}")
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", utcnow())
    event.add("dtstart", meeting.starts_at.astimezone(OSLO))
    event.add("dtend", meeting.ends_at.astimezone(OSLO))
    event.add("summary", meeting.title)
    description = "\n\n".join(filter(None, [meeting.description, meeting.agenda, meeting.online_link]))
    if description:
        event.add("description", description)
    if meeting.place or meeting.online_link:
        event.add("location", meeting.place or meeting.online_link)
    if meeting.online_link:
        event.add("url", meeting.online_link)
    event.add("status", "CANCELLED" if meeting.status == MeetingStatus.CANCELLED else "CONFIRMED")
    organiser = vCalAddress(f"mailto:{organiser_email}")
    organiser.params["cn"] = vText("Migrasjonshelsenettverkene")
    event["organizer"] = organiser
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", meeting.title)
    alarm.add("trigger", timedelta(days=-1))
    event.add_component(alarm)
    return event


def invite(member: "Member", meeting: "Meeting", subject: str | LazyString) -> "OutboxMessage":
    """A mail to ``member`` with the meeting's calendar invitation (or cancellation) attached."""
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
        ics=ics(meeting, current_app.config["MAIL_ORGANISER"]),
    )
