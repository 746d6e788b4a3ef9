"""Every mail speaks the recipient's language: each template's prose comes from the catalogue, so
the same mail reads in bokmål, nynorsk and English, with the same links and escaped values."""

import re

import pytest
from flask import render_template
from flask_babel import force_locale

from models.markdown import html_to_text
from tests.test_mail import Paragraphs, mail_contexts

LOCALES = ("nb", "nn", "en")

# Words of each template's own bokmål prose (not of the values tests/test_mail.py gives it, which
# are bokmål in every language): the bokmål mail has them, the English one must not.
BOKMAL = {
    "advice_reminder": ("Hei", "påminnelse", "fristen", "innlogging"),
    "advice_request": ("Hei", "medlemmene", "Åpne dokumentet", "innlogging"),
    "anchoring_decided": ("Hei", "bekreftet", "Begrunnelse", "Min side"),
    "anchoring_request": ("Hei", "påminnelse", "Deltaker", "Enhet", "nærmeste leder", "fagmøter"),
    "confirm_new_email": ("Hei", "Koordinatoren", "Bekreft", "timer", "ingenting"),
    "coordinator_appointed": ("Hei", "nå", "koordinatorsiden"),
    "email_changed": ("Hei", "endret", "passord"),
    "emergency_call_in": ("Hei", "Påminnelse", "innkallingen", "Bli med i møtet", "Dagsorden", "møtesiden"),
    "invitation": ("inviterer", "fagmøter", "Registrer"),
    "meeting_invite": ("Hei", "påmeldt", "Tid", "Bli med i møtet", "Sted", "Kalenderinvitasjonen"),
    "newsletter": ("nyhetsbrevet", "arkivet", "Meld deg av"),
    "notice": ("Hei",),
    "registration_attempt": ("Hei", "Noen", "allerede", "eller", "passord"),
    "reset_password": ("Hei", "Velg", "timer", "passord"),
    "sign_in_link": ("Hei", "Åpne", "lenken", "minutter", "nettleseren"),
    "coordinator_welcome": ("Hei", "gjort", "koordinator", "planlegge", "nyhetsbrevet", "dager", "passordet"),
    "review_lapsed": ("Hei", "svarte", "medlemslisten", "klikk", "Sett", "koordinatoren"),
    "review_closed": (
        "Hei",
        "avsluttet",
        "listen",
        "klikk",
        "Hovedkontakter",
        "virksomhetene",
        "resultatene",
    ),
    "review_reminder": ("Hei", "gjennomgangen", "Fristen"),
    "review_request": ("Hei", "Hvert", "Fristen", "årlige gjennomgangen", "innlogging"),
    "verify_email": ("Hei", "Takk", "Bekreft", "lederen"),
    "package": ("Hei", "informasjonspakke", "beredskapshendelsen", "delt lokalt", "Gå til pakken"),
    "signal_reply": ("Hei", "koordinator", "svart", "Svaret", "Det du meldte", "Se signalet ditt"),
}
FOOTER = "Migrasjonshelsenettverkene"


def rendered(template, context):
    """{locale: HTML} for one mail, each rendered as models.outbox.compose renders it."""
    mails = {}
    for locale in LOCALES:
        with force_locale(locale):
            mails[locale] = render_template(f"email/{template}.html", lang=locale, **context)
    return mails


def has_word(text, word):
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text) is not None


def test_every_mail_has_its_bokmal_words_listed():
    assert set(BOKMAL) == set(mail_contexts())


@pytest.mark.parametrize("template", sorted(BOKMAL))
def test_each_mail_reads_in_bokmal_nynorsk_and_english(app, template):
    mails = rendered(template, mail_contexts()[template])
    texts = {locale: html_to_text(html) for locale, html in mails.items()}

    for word in (*BOKMAL[template], FOOTER):
        assert has_word(texts["nb"], word), word  # the words are the template's: bokmål has them
        assert not has_word(texts["en"], word), word
    assert "Hello" in texts["en"] or template == "newsletter"  # an issue has no greeting
    # Nynorsk is its own text (the greeting "Hei" is the same word: a notice differs in its footer).
    assert texts["nn"] != texts["nb"] and "Migrasjonshelsenettverka" in texts["nn"]
    if template != "notice":
        assert Paragraphs(mails["nn"]).paragraphs[:-1] != Paragraphs(mails["nb"]).paragraphs[:-1]
    for locale, html in mails.items():
        assert f'<html lang="{locale}">' in html
        # The links are the same in every language (their markup is outside the translated text).
        assert Paragraphs(html).links == Paragraphs(mails["nb"]).links
        assert "%(" not in html and "%%" not in html


@pytest.mark.parametrize("template", ["anchoring_request", "registration_attempt", "verify_email"])
def test_values_in_translated_sentences_are_escaped(app, template):
    context = mail_contexts()[template]
    member = context["member"]
    context["member"] = type(member)(**{**vars(member), "name": "<b>x</b>", "manager_name": "<i>y</i>"})
    for locale, html in rendered(template, context).items():
        assert "<b>x</b>" not in html and "<i>y</i>" not in html, locale
        assert "&lt;b&gt;x&lt;/b&gt;" in html, locale


@pytest.mark.parametrize(
    ("locale", "one", "many"),
    [
        ("nb", "innen 1 time:", "innen 48 timer:"),
        ("nn", "innan 1 time:", "innan 48 timar:"),
        ("en", "1 hour:", "48 hours:"),
    ],
)
def test_the_hours_a_link_lasts_are_counted_in_each_language(app, locale, one, many):
    context = mail_contexts()["verify_email"]
    with force_locale(locale):
        assert one in render_template("email/verify_email.html", **{**context, "hours": 1})
        assert many in render_template("email/verify_email.html", **{**context, "hours": 48})


def test_a_mail_rendered_without_a_language_says_it_is_bokmal(app):
    assert '<html lang="nb">' in render_template(
        "email/reset_password.html", **mail_contexts()["reset_password"]
    )
