"""Written forms: the languages the app speaks, and which one each person's mail is written in.

The Language Act (språklova) binds the Directorate: pages in bokmål and nynorsk side by side, a
person answered in the written form they use, an organisation written to in the form it has
adopted (its *målvedtak*).  So a member carries their own choice (``Member.language``, or none:
then their organisation's), and an organisation carries its målvedtak (``LanguageDecision``); a
neutral organisation's members get bokmål unless they chose otherwise.  English is offered too,
for the members who read it better.
"""

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from babel import dates
from flask import g, request, session
from flask_babel import get_locale, get_timezone, get_translations
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, select

from models.types import LabelledEnum

if TYPE_CHECKING:
    from datetime import date

    from sqlalchemy import ColumnElement

    from models.member import Member

LOCALES = ("nb", "nn", "en")
DEFAULT = "nb"
# Each language named in itself, as a language switch names them (not translated).
AUTONYMS = {"nb": "Norsk bokmål", "nn": "Norsk nynorsk", "en": "English"}
# The written forms of Norwegian: content written in one of them is Norwegian to a reader of the other.
NORWEGIAN = ("nb", "nn")


class LanguageDecision(LabelledEnum):
    """An organisation's *målvedtak*: the written form it has adopted for its dealings with the state."""

    NEUTRAL = "neutral", _l("Neutral")
    BOKMAL = "nb", _l("Bokmål")
    NYNORSK = "nn", _l("Nynorsk")

    @property
    def written_form(self) -> str:
        """The form the state writes to it in: its own, or bokmål for a neutral one."""
        return DEFAULT if self is LanguageDecision.NEUTRAL else self.value


def template_translations() -> Any:
    """The catalogue the templates translate with: Flask-Babel's ``get_translations()``, looked up
    once for the locale in force and kept beside it in Flask-Babel's request state (each lookup
    walks four layers of context and names the locale; a page has dozens of texts).  Keyed by
    the very locale object Flask-Babel holds, so ``force_locale`` (mail in the reader's written
    form) gets its own catalogue; where that state is not there, it is the plain lookup."""
    state = g.get("_flask_babel")
    locale = getattr(state, "babel_locale", None)
    kept = getattr(state, "tracker_translations", None)
    if locale is not None and kept is not None and kept[0] is locale:
        return kept[1]
    translations = get_translations()
    if state is not None and getattr(state, "babel_locale", None) is not None:
        state.tracker_translations = (state.babel_locale, translations)
    return translations


def install_template_translations(jinja_env: Any) -> None:
    """Templates' ``_()``, ``ngettext`` and their contextual forms through ``template_translations``
    (replacing Flask-Babel's, which look the catalogue up again for every text)."""
    jinja_env.install_gettext_callables(
        gettext=lambda s: template_translations().ugettext(s),
        ngettext=lambda s, p, n: template_translations().ungettext(s, p, n),
        pgettext=lambda c, s: template_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: template_translations().unpgettext(c, s, p, n),
        newstyle=True,
    )


def named_locale() -> str | None:
    """The language the reader of this request named: ``?lang=`` on the address, their choice
    with the language switch, their browser's preference; None if none names one we speak."""
    for choice in (request.args.get("lang"), session.get("locale")):
        if isinstance(choice, str) and choice in LOCALES:
            return choice
    return request.accept_languages.best_match(LOCALES)


def mail_locale(member: "Member") -> str:
    """The written form of mail to ``member``: their own choice, else their organisation's."""
    if member.language in LOCALES:
        return member.language
    organisation = member.organisation
    return organisation.language_decision.written_form if organisation is not None else DEFAULT


def manager_locale(member: "Member") -> str:
    """The written form of mail to ``member``'s line manager, who works at the same organisation:
    the organisation's målvedtak, or where it has none (neutral), the member's own form."""
    organisation = member.organisation
    if organisation is not None and organisation.language_decision is not LanguageDecision.NEUTRAL:
        return organisation.language_decision.written_form
    return mail_locale(member)


def mail_locale_sql() -> "ColumnElement[Any]":
    """``mail_locale`` as an SQL expression over ``Member`` (for bulk mail: one query, no per-row loads)."""
    from models.member import Member
    from models.organisation import Organisation

    decided = (
        select(case((Organisation.language_decision == LanguageDecision.NYNORSK, "nn"), else_=DEFAULT))
        .where(Organisation.id == Member.organisation_id)
        .scalar_subquery()
    )
    return case((Member.language.in_(LOCALES), Member.language), else_=decided)


def from_label(text: str) -> LanguageDecision | None:
    """A målvedtak as a spreadsheet cell may write it ("nynorsk", "Bokmål", "nøytral", "nn" …)."""
    key = text.strip().casefold()
    for decision, words in _DECISION_WORDS.items():
        if key in words:
            return decision
    return None


_DECISION_WORDS = {
    LanguageDecision.NYNORSK: {"nn", "nynorsk", "nno"},
    LanguageDecision.BOKMAL: {"nb", "bokmål", "bokmal", "nob"},
    LanguageDecision.NEUTRAL: {"neutral", "nøytral", "noytral", "nøytralt", ""},
}


# -- dates as each language writes them -----------------------------------------------------------
#
# Templates and mails write dates with Norwegian patterns ("d. MMMM y": "2. februar 2026"); the
# month names follow the locale, and English drops the day's full stop ("2 February 2026").  These
# are the ``datetimeformat`` and ``dateformat`` filters (times in Europe/Oslo, Flask-Babel's zone).


def _pattern(pattern: str | None, locale: Any) -> str:
    if pattern is None:
        return "medium"  # Flask-Babel's default for both filters
    if locale.language == "en" and "d. " in pattern:
        return pattern.replace("d. ", "d ")
    return pattern


@lru_cache(maxsize=8192)
def _formatted(kind: str, value: "date | datetime", pattern: str, locale: Any, zone: Any) -> str:
    """``value`` written with ``pattern`` in ``locale``, a moment in ``zone`` (as Flask-Babel's
    ``format_date`` and ``format_datetime`` write it).  A pure function of its arguments, kept for
    the process: a list writes the same days again and again, and each writing took Flask-Babel's
    layers of request state and Babel's pattern formatting (about 0.1–0.4 ms)."""
    if kind == "datetime":
        return dates.format_datetime(value, pattern, tzinfo=zone, locale=locale)
    if isinstance(value, datetime):  # a moment: its day where the reader is
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        value = zone.normalize(moment.astimezone(zone))
    return dates.format_date(value, pattern, locale=locale)


def _locale_and_zone() -> tuple[Any, Any]:
    """The locale and time zone in force, read straight from Flask-Babel's request state where it
    holds them (``force_locale`` sets the locale there), else through its functions (which put
    them there)."""
    state = g.get("_flask_babel")
    locale = getattr(state, "babel_locale", None) or get_locale()
    zone = getattr(state, "babel_tzinfo", None) or get_timezone()
    return locale, zone


def datetimeformat(value: "datetime | None", pattern: str | None = None) -> str:
    if value is None:
        return ""
    locale, zone = _locale_and_zone()
    return _formatted("datetime", value, _pattern(pattern, locale), locale, zone)


def dateformat(value: "date | datetime | None", pattern: str | None = None) -> str:
    if value is None:
        return ""
    locale, zone = _locale_and_zone()
    return _formatted("date", value, _pattern(pattern, locale), locale, zone)
