"""The coordinator's records read well in the reader's language: the audit log as sentences
(actor, verb, object, the changed values formatted, reasons translated), the outbox's statuses by
their labels, and no ISO date on a page."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from extensions import db
from models import AuditEntry, MeetingKind, Membership, OutboxMessage, audit
from models import meeting as meetings
from models.membership import lapse_many
from models.outbox import OutboxStatus
from models.review import LAPSE_REASON
from tests.conftest import sign_in

OSLO = ZoneInfo("Europe/Oslo")
YEAR = datetime.now(UTC).year + 1


def visible_text(html):
    """What a reader sees of the audit table: its body's text, tags and entities gone."""
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    assert body, "no table of entries on the page"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body.group(1))).split())


def page(client, url, lang="nb"):
    response = client.get(url, headers={"Accept-Language": lang})
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def kari(create_coordinator):
    return create_coordinator("NIK", name="Kari Koordinator")


@pytest.fixture
def moved_meeting(networks, kari):
    """A professional meeting planned for 30 November at 10:00 Oslo time, moved to 12:00 by Kari
    (the new time given in Oslo time, as the form gives it)."""
    starts = datetime(YEAR, 11, 30, 9, tzinfo=UTC)  # 10:00 in Oslo (winter time)
    with audit.acting_as(kari):
        meeting = meetings.plan(
            [networks["NIK"]],
            kind=MeetingKind.PROFESSIONAL,
            title="Fagmøte 1",
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            format="digital",
        )
        db.session.commit()
        later = datetime(YEAR, 11, 30, 12, tzinfo=OSLO)
        meetings.reschedule(meeting, later, later + timedelta(hours=2))
        db.session.commit()
    return meeting


def test_every_action_has_a_phrase_in_every_language(app):
    assert set(audit.PHRASES) == set(audit.ACTIONS)
    for action in audit.ACTIONS:
        phrase = audit.PHRASES.get(action)
        assert phrase is not None, f"{action} has no phrase in audit.PHRASES"
        for text in filter(None, (phrase.about, phrase.own)):
            with force_locale("en"):
                english = str(text)
            for lang in ("nb", "nn"):
                with force_locale(lang):
                    assert str(text) != english, f"{action}: no {lang} translation of {english!r}"
                    assert set(re.findall(r"%\((\w+)\)s", str(text))) == set(
                        re.findall(r"%\((\w+)\)s", english)
                    ), f"{action}: the {lang} translation has other slots"
    for field, label in audit.FIELDS.items():
        with force_locale("en"):
            english = str(label)
        for lang in ("nb", "nn"):
            with force_locale(lang):
                assert str(label) != english or english in {"status", "type"}, f"{field}: no {lang} label"


def test_a_moved_meeting_reads_as_a_sentence_in_oslo_time(client, kari, moved_meeting):
    entry = db.session.scalar(select(AuditEntry).filter_by(action="meeting.changed"))
    # Both times are kept the same way (UTC), whatever zone the form gave.
    assert entry.before["starts_at"].endswith("+00:00") and entry.after["starts_at"].endswith("+00:00")
    sign_in(client, kari.email)

    nb = page(client, "/coordinator/audit?action=meeting.changed")
    assert (
        f"Kari Koordinator endret møtet «Fagmøte 1»: tid 30. november {YEAR} kl. 10:00 → 12:00"
        in visible_text(nb)
    )
    en = page(client, "/coordinator/audit?action=meeting.changed", "en")
    assert (
        f"Kari Koordinator changed the meeting “Fagmøte 1”: time 30. November {YEAR} at 10:00 → 12:00"
        in visible_text(en)
    )
    planned = visible_text(page(client, "/coordinator/audit?action=meeting.planned"))
    assert (
        f"Kari Koordinator planla møtet «Fagmøte 1»: type: Fagmøte; nettverk: NIK; tid: 30. november {YEAR} kl. 10:00"
        in planned
    )
    for html in (nb, en):
        text = visible_text(html)
        assert (
            "\\u" not in html
            and "{" not in text
            and "meeting.changed" not in text
            and "starts_at" not in text
        )


def test_a_lapse_shows_the_status_labels_and_the_reason_translated(client, kari, create_member, municipality):
    member = create_member(municipality("4601"), name="Ola Nordmann")
    with audit.acting_as(label="flask reviews tick"):
        lapse_many(select(Membership.id).where(Membership.member_id == member.id), LAPSE_REASON)
        db.session.commit()
    sign_in(client, kari.email)

    nb = visible_text(page(client, "/coordinator/audit?action=membership.status"))
    assert (
        "Kommandoen flask reviews tick endret medlemskapet til Ola Nordmann i NIK: status Aktiv → Falt ut. "
        "Begrunnelse: Ingen svar på den årlige gjennomgangen" in nb
    )
    en = visible_text(page(client, "/coordinator/audit?action=membership.status", "en"))
    assert (
        "The command flask reviews tick changed the membership of Ola Nordmann in NIK: status Active → Lapsed. "
        "Reason: No answer to the yearly review" in en
    )
    assert "lapsed" not in nb and "active" not in nb


def test_a_members_own_change_reads_as_their_own(client, kari, create_member, municipality):
    member = create_member(municipality("4601"), name="Ola Nordmann")
    with audit.acting_as(member):
        member.change_manager("Nina Leder", "nina.leder@bergen.kommune.example")
        db.session.commit()
    sign_in(client, kari.email)
    nb = visible_text(page(client, f"/coordinator/audit?member={member.id}&action=member.manager_changed"))
    assert "Ola Nordmann endret lederen sin: leder Leder " in nb and " → Nina Leder; " in nb
    assert "lederens e-postadresse" in nb and "nina.leder@bergen.kommune.example" in nb
    en = visible_text(
        page(client, f"/coordinator/audit?member={member.id}&action=member.manager_changed", "en")
    )
    assert "Ola Nordmann changed their line manager: line manager Leder " in en


def test_the_filter_offers_every_action_by_its_label_in_order(client, kari):
    sign_in(client, kari.email)
    for lang in ("nb", "en"):
        html = page(client, "/coordinator/audit", lang)
        select_html = re.search(r'<select[^>]*id="action"[^>]*>(.*?)</select>', html, re.S).group(1)
        options = re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select_html)
        values = [value for value, _label in options[1:]]
        labels = [unescape(label) for _value, label in options[1:]]
        assert sorted(values) == sorted(audit.ACTIONS)
        assert labels == sorted(labels, key=str.casefold)
        assert not [label for label in labels if "." in label and " " not in label]  # no action codes
    assert "Møte endret" in page(client, "/coordinator/audit")


def test_the_outbox_shows_statuses_by_their_labels(client, kari, create_member, municipality):
    bergen = municipality("4601")
    for status in (OutboxStatus.FAILED, OutboxStatus.PENDING):
        db.session.add(
            OutboxMessage(
                recipient=create_member(bergen).email,
                subject="Hei",
                body_text="x",
                template="notice",
                status=status,
                last_error="550",
            )
        )
    db.session.commit()
    sign_in(client, kari.email)
    nb = page(client, "/coordinator/outbox")
    cells = re.findall(r'<span class="status status-\w+">([^<]*)</span>', nb)
    assert "Feilet" in cells and "Venter" in cells
    assert "failed" not in cells and "pending" not in cells
    en = re.findall(
        r'<span class="status status-\w+">([^<]*)</span>', page(client, "/coordinator/outbox", lang="en")
    )
    assert "Failed" in en and "Waiting" in en


TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
ISO_ON_PAGE = (
    re.compile(r"\.isoformat\(\)"),
    re.compile(r"\|string\b"),
    re.compile(r"\{\{[^}]*\b\w+\.date\s*\}\}"),
    re.compile(r"\{\{[^}]*\b\w+_(at|on)\s*\}\}"),
)


def test_no_page_prints_an_iso_date():
    """Dates are printed like the rest of the app ("30. november 2026"); only a <time datetime="…">
    attribute (machine-read) and mails' headers may hold ISO."""
    found = []
    for path in TEMPLATES.rglob("*.html"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            outside_time = re.sub(r'datetime="[^"]*"', "", line)
            for pattern in ISO_ON_PAGE:
                if pattern.search(outside_time):
                    found.append(f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_a_second_answer_to_the_review_names_the_day_in_words(
    app, networks, create_coordinator, create_member, municipality
):
    from babel.dates import format_date

    from models import ReviewResponse
    from models import review as reviews

    coordinator = create_coordinator("NIK")
    member = create_member(municipality("4601"))
    now = datetime.now(UTC)
    cycle = reviews.open_cycle(
        networks["NIK"], now.year, now + timedelta(days=21), now + timedelta(days=14), opened_by=coordinator
    )
    db.session.commit()
    response = db.session.scalar(select(ReviewResponse).filter_by(cycle_id=cycle.id, member_id=member.id))
    reviews.answer(response, True, {key: 4 for key, _ in reviews.PURPOSES}, {})
    db.session.commit()
    day = response.answered_at.astimezone(OSLO).date()
    with app.test_request_context(headers={"Accept-Language": "nb"}):
        said = str(reviews.answerable(response))
    assert said == f"Du svarte {format_date(day, 'd. MMMM y', locale='nb')}. Takk!"
    assert not re.search(r"\d{4}-\d{2}-\d{2}", said)


def test_an_organisations_language_decision_is_said_by_its_labels(app, municipality, kari):
    from models.language import LanguageDecision

    bergen = municipality("4601")
    with audit.acting_as(kari):
        bergen.set_language_decision(LanguageDecision.NYNORSK)
        db.session.commit()
    entry = db.session.scalar(select(AuditEntry).filter_by(action="organisation.language_decided"))
    with app.test_request_context(headers={"Accept-Language": "nb"}):
        said = audit.sentence(entry)
    assert said.startswith("Kari Koordinator ") and "«Bergen»" in said
    assert said.endswith("målvedtak Nøytral → Nynorsk"), said
