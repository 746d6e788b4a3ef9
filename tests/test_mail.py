"""Mail reaches a real SMTP server; the operator's check command says what went wrong; each mail
is written once (its HTML) and its plain-text part says the same."""

import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest

from models import outbox
from tests.conftest import free_port


def test_the_mail_check_sends_a_real_message(runner, mail_outbox):
    result = runner.invoke(args=["mail", "check", "koordinator@helsedir.example"])
    assert result.exit_code == 0, result.output
    assert len(mail_outbox) == 1
    message = mail_outbox[0]
    assert message.envelope_recipients == ["koordinator@helsedir.example"]
    assert "migrasjonshelsenettverkene" in message["Subject"]
    assert "kommer fram" in message.get_content()


def test_the_mail_check_reports_an_unreachable_server(app_factory):
    app = app_factory(MAIL_PORT=free_port())
    result = app.test_cli_runner().invoke(args=["mail", "check", "koordinator@helsedir.example"])
    assert result.exit_code == 1
    assert "Could not send through 127.0.0.1" in result.output


# -- each mail written once: the text part is read off the HTML ---------------------------------

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"


def ns(**values):
    return SimpleNamespace(**values)


def mail_contexts():
    """Every mail with the values its callers give it (names with "&" and "'" that HTML escapes)."""
    nik = ns(code="NIK", name="Nasjonalt nettverk for innvandrerhelse i kommunene")
    nifs = ns(code="NIFS", name="Nettverk for innvandrerhelse i spesialisthelsetjenesten")
    bergen = ns(name="Bergen kommune", display_name="Bergen kommune (Vestland)")
    member = ns(
        name="Kari O'Neill Nordmann",
        email="kari.nordmann@bergen.kommune.example",
        job_title="Helsesykepleier",
        unit="Helsestasjon for flyktninger & asylsøkere",
        manager_name="Per Leder",
        organisation=bergen,
    )
    deadline = date(2026, 3, 20)
    meeting = ns(
        title="Nettverksmøte: vaksinasjon & tolk",
        status="planned",
        starts_at=datetime(2026, 4, 14, 8, 0, tzinfo=UTC),
        ends_at=datetime(2026, 4, 14, 10, 0, tzinfo=UTC),
        online_link="https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc",
        place="Helsedirektoratet, Universitetsgata 2, Oslo",
        description="Vi går gjennom de nye rådene.\nTa med erfaringer fra egen kommune.\n\nMøtet tas ikke opp.",
        agenda="1. Situasjonen nå\n2. Tiltak i kommunene",
    )
    request = ns(
        title="Høring: veileder for helsetjenester til asylsøkere",
        codes="NIK, NIFS",
        deadline=deadline,
        body="Vi ber om innspill til kapittel 3 og 4.\nSvar gjerne kort.\n\nSend det innen fristen.",
        document_url="https://www.helsedirektoratet.no/hoeringer/utkast-veileder",
    )
    newsletter = ns(
        title="Nytt fra nettverkene",
        codes="NIK",
        sent_at=datetime(2026, 2, 2, 9, 0, tzinfo=UTC),
        body="# Kurs\n\nEt **nytt** kurs om [tolking](https://www.tolkeportalen.no/kurs).\n\n"
        "- Bergen, 3. mars\n- Oslo, 10. mars\n\n> Påmelding via kommunen.",
    )
    newsletter.version = lambda locale: ns(title=newsletter.title, body=newsletter.body, language="nb")
    inputs = [
        ns(
            title="Tolkekurs i Bergen",
            body="Vi holder *kurs* for helsepersonell.",
            link="https://www.bergen.kommune.no/tolkekurs",
            member=ns(name=member.name, organisation=bergen),
        )
    ]
    url = "http://localhost/t/IjEyMyI.aBc-dEf_123"
    emergency = ns(title="Meslingutbrudd & tolk", network_codes="NIK, NIFS")
    arabic, somali = ns(name="arabisk"), ns(name="somali")
    package = ns(
        title="Informasjon om meslinger",
        purpose="Til helsestasjoner & frivillige.\nDel gjerne videre.",
        by_language=[
            (
                arabic,
                [ns(url="https://www.helsenorge.no/ar/meslinger/", language_code="ar", source="Helsenorge")],
            ),
            (somali, [ns(url="https://www.fhi.no/so/meslinger/", language_code="so", source=None)]),
        ],
    )
    signal = ns(emergency=emergency, text="Rykte om at vaksinen gjør syk.\nMange spør på arabisk.")
    return {
        "package": {
            "emergency": emergency,
            "package": package,
            "url": "http://localhost/emergencies/packages/3",
        },
        "signal_reply": {
            "signal": signal,
            "reply": ns(body="Takk! Vi sender materiell på arabisk i dag."),
            "url": "http://localhost/emergencies/signals/9",
        },
        "advice_reminder": {"request": request, "url": "http://localhost/advice/7"},
        "advice_request": {"request": request, "url": "http://localhost/advice/7"},
        "anchoring_decided": {
            "member": member,
            "confirmed": False,
            "anchoring": ns(decided_by_name="Per Leder", reason="Ikke i min enhet & ikke avklart"),
            "url": "http://localhost/me/",
        },
        "anchoring_request": {
            "anchoring": ns(manager_name="Per Leder"),
            "member": member,
            "networks": [nik, nifs],
            "url": url,
            "reminder": True,
        },
        "confirm_new_email": {
            "member": member,
            "new_email": "kari@ny.example",
            "requested_by": ns(name="Kåre Koordinator"),
            "url": url,
            "hours": 24,
        },
        "coordinator_appointed": {
            "member": member,
            "networks": [nik, nifs],
            "url": "http://localhost/coordinator/",
        },
        "email_changed": {
            "member": member,
            "old_email": member.email,
            "new_email": "kari@ny.example",
            "reset_url": "http://localhost/forgot-password",
        },
        "emergency_call_in": {
            "name": member.name,
            "reminder": True,
            "meeting": meeting,
            "ack_url": "http://localhost/meetings/3/received/" + url.rsplit("/", 1)[1],
            "url": "http://localhost/meetings/3",
        },
        "invitation": {
            "inviter": ns(name="Kåre Koordinator"),
            "organisation": bergen,
            "network": nik,
            "message": "Hei! Vi trenger deg i nettverket.\n\nHilsen Kåre",
            "url": "http://localhost/register/?organisation=12",
        },
        "meeting_invite": {"member": member, "meeting": meeting, "url": "http://localhost/meetings/3"},
        "newsletter": {
            "newsletter": newsletter,
            "inputs": inputs,
            "archive_url": "http://localhost/newsletter/5",
            "unsubscribe_url": "http://localhost/newsletter/unsubscribe/abc?x=1&y=2",
        },
        "notice": {
            "name": member.name,
            "lines": ["Medlemskapet ditt i NIK er avsluttet.", "Du kan melde deg inn igjen på Min side."],
            "url": "http://localhost/me/",
            "link_text": "Åpne medlemsoversikten",
        },
        "registration_attempt": {
            "member": member,
            "sign_in_url": "http://localhost/sign-in",
            "reset_url": "http://localhost/forgot-password",
        },
        "reset_password": {"member": member, "url": url},
        "sign_in_link": {"member": member, "url": url, "minutes": 15},
        "coordinator_welcome": {
            "member": member,
            "networks": [nik, nifs],
            "granted_by": "Kåre O'Koordinator & co",
            "days": 7,
            "url": url,
        },
        "review_lapsed": {
            "name": member.name,
            "network": nik,
            "cycle": ns(deadline=deadline),
            "until": datetime(2026, 6, 18, 9, 0, tzinfo=UTC),
            "url": url,
        },
        "review_closed": {
            "name": member.name,
            "network": nik,
            "lapsed": 3,
            "vacated": [("Bergen kommune", "Kari O'Neill Nordmann")],
            "grace_days": 90,
            "url": "http://localhost/reviews/cycle/4",
        },
        "review_reminder": {"name": member.name, "network": nik, "cycle": ns(deadline=deadline), "url": url},
        "review_request": {"name": member.name, "network": nik, "cycle": ns(deadline=deadline), "url": url},
        "verify_email": {"member": member, "url": url, "hours": 48},
    }


class Paragraphs(HTMLParser):
    """The HTML part as a reader sees it: each paragraph's (block's) text, and the links."""

    BLOCKS = frozenset({"p", "li", "h1", "h2", "h3", "blockquote", "ul", "ol", "section", "article", "body"})

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.paragraphs, self.links, self.current, self.hidden = [], [], [], 0
        self.feed(html)
        self.close()
        self.end()

    def end(self):
        text = " ".join("".join(self.current).split())
        if text:
            self.paragraphs.append(text)
        self.current = []

    def handle_starttag(self, tag, attrs):
        if tag in ("head", "title"):
            self.hidden += 1
        if tag in self.BLOCKS or tag == "br":
            self.end()
        if tag == "a":
            self.links.append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        if tag in ("head", "title"):
            self.hidden -= 1
        if tag in self.BLOCKS:
            self.end()

    def handle_data(self, data):
        if not self.hidden:
            self.current.append(data)


def words(text):
    return " " + " ".join(re.findall(r"\w+", text)) + " "


@pytest.mark.parametrize("template", sorted(mail_contexts()))
def test_each_mails_text_part_says_what_its_html_part_says(app, template):
    row = outbox.compose("kari@bergen.kommune.example", "Emne", template, **mail_contexts()[template])
    html, text = row["body_html"], row["body_text"]
    seen = Paragraphs(html)
    assert len(seen.paragraphs) >= 3 and seen.links

    links = re.findall(r"https?://\S+", text)  # as tests/conftest.py's links_in reads them
    assert [href for href in seen.links if href not in links] == []
    for paragraph in seen.paragraphs:
        assert words(paragraph) in words(text), paragraph
    assert re.search(r"</?[a-zA-Z!][^>]*>", text) is None  # no tag
    assert re.search(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);", text) is None  # no entity
    assert "Kari O'Neill Nordmann" in text or template not in (
        "reset_password",
        "verify_email",
        "sign_in_link",
    )
    assert "&#39;" in html or "O'Neill" not in html  # the HTML part escapes what the text part does not


@pytest.mark.parametrize("template", sorted(mail_contexts()))
def test_each_mail_is_titled_and_headed_by_its_subject(app, template):
    """The subject is the HTML part's <title> and its first heading (the newsletter's heading is the
    issue's own title), and the text part begins with it."""
    subject = "Emne & sånt"
    row = outbox.compose("k@x.example", subject, template, **mail_contexts()[template])
    html, text = row["body_html"], row["body_text"]
    heading = "Nytt fra nettverkene" if template == "newsletter" else subject
    assert re.search(r"<title>(.*?)</title>", html)[1] in ("Emne &amp; sånt", "Nytt fra nettverkene")
    first = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert first is not None and Paragraphs(first[0]).paragraphs == [heading]
    assert html.index(first[0]) < html.index("<p")  # at the top, before the first paragraph
    assert text.startswith(f"{heading}\n{'=' * len(heading)}\n\n")


def test_no_mail_shows_an_address_as_its_link_text(app):
    """A link says what it does ("Bli med i møtet", "Åpne dokumentet"), never its raw address."""
    for template, context in mail_contexts().items():
        html = outbox.compose("k@x.example", "Emne", template, **context)["body_html"]
        for _href, label in re.findall(r'<a href="([^"]*)"[^>]*>(.*?)</a>', html, re.S):
            assert not re.match(r"\s*https?://", label), (template, label)


def test_every_mail_has_one_source_and_is_checked_above():
    """A new mail is one HTML template, and it is only in the checks above once it has a context."""
    assert sorted(TEMPLATES.glob("*.txt")) == []
    mails = {path.stem for path in TEMPLATES.glob("*.html") if not path.name.startswith("_")}
    assert mails == set(mail_contexts())


def test_the_text_part_is_read_as_a_plain_text_reader_wants_it(app):
    row = outbox.compose("kari@bergen.kommune.example", "Emne", "newsletter", **mail_contexts()["newsletter"])
    text = row["body_text"]
    assert text.startswith(
        "Nytt fra nettverkene\n====================\n\nNyhetsbrev for NIK – 2. februar 2026\n"
    )
    assert "\nKurs\n----\n\nEt nytt kurs om tolking.\nTolking: https://www.tolkeportalen.no/kurs\n" in text
    assert "\n- Bergen, 3. mars\n- Oslo, 10. mars\n\n> Påmelding via kommunen.\n" in text
    assert (
        "\nTolkekurs i Bergen\n\nVi holder kurs for helsepersonell.\n\nhttps://www.bergen.kommune.no/tolkekurs\n"
        in text
    )
    assert "\nLes nyhetsbrevet i arkivet (innlogging): http://localhost/newsletter/5\n" in text
    assert (
        "Du får dette nyhetsbrevet som medlem av NIK. Meld deg av nyhetsbrevet – du blir stående som "
        "medlem av nettverket.\nMeld deg av nyhetsbrevet: http://localhost/newsletter/unsubscribe/abc?x=1&y=2\n"
    ) in text
    assert 'href="http://localhost/newsletter/unsubscribe/abc?x=1&amp;y=2"' in row["body_html"]
    assert text.endswith("Migrasjonshelsenettverkene – Helsedirektoratet, avdeling levekår.")

    call_in = outbox.compose(
        "k@x.example", "Emne", "emergency_call_in", **mail_contexts()["emergency_call_in"]
    )
    assert call_in["body_text"].startswith("Emne\n====\n\nHei Kari O'Neill Nordmann,\n")  # the subject first
    assert (  # start and end, the place, a labelled link to join, the description and the agenda
        "\nTid: tirsdag 14. april 2026 10:00–12:00\nSted: Helsedirektoratet, Universitetsgata 2, Oslo\n\n"
        "Bli med i møtet: https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc\n\n"
        "Vi går gjennom de nye rådene.\nTa med erfaringer fra egen kommune.\n\nMøtet tas ikke opp.\n\n"
        "Dagsorden\n---------\n\n1. Situasjonen nå\n2. Tiltak i kommunene\n\n"
        "Bekreft at du har mottatt innkallingen: http://localhost/meetings/3/received/"
    ) in call_in["body_text"]


def test_personal_values_reach_both_parts_of_a_mail_composed_once(app):
    """``compose_each``: rendered once, each copy with its own values, escaped only in the HTML."""
    context = {
        key: value
        for key, value in mail_contexts()["emergency_call_in"].items()
        if key not in ("name", "ack_url")
    }
    people = [
        ("a@x.example", "nb", {"name": "Åse O'Brien & Co", "ack_url": "http://localhost/received/a?x=1&y=2"}),
        ("b@x.example", "nb", {"name": "Bjørn", "ack_url": "http://localhost/received/b"}),
    ]
    first, second = outbox.compose_each(
        people, "Emne", "emergency_call_in", personal=("name", "ack_url"), **context
    )
    assert (first["recipient"], second["recipient"]) == ("a@x.example", "b@x.example")
    assert first["body_text"].startswith("Emne\n====\n\nHei Åse O'Brien & Co,\n")
    assert (
        "Bekreft at du har mottatt innkallingen: http://localhost/received/a?x=1&y=2\n" in first["body_text"]
    )
    assert "Hei Åse O&#39;Brien &amp; Co," in first["body_html"]
    assert 'href="http://localhost/received/a?x=1&amp;y=2"' in first["body_html"]
    assert (
        second["body_text"].startswith("Emne\n====\n\nHei Bjørn,\n")
        and "/received/b\n" in second["body_text"]
    )
    assert "\u27e6" not in first["body_text"] + first["body_html"] + second["body_text"] + second["body_html"]
