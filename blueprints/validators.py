"""Validators every form shares: the same code checks a field as the user types and on submit."""

import unicodedata

from email_validator import EmailNotValidError, validate_email
from flask_babel import format_number
from flask_babel import lazy_gettext as _l
from wtforms import validators
from wtforms.validators import ValidationError

# Norwegian words that people build passwords from, for the strength estimator (zxcvbn) to
# weigh as it weighs the common passwords of its own lists (which are English: see
# ``StrongPassword``).  Compared without case, and with the digits and signs around them.
NORWEGIAN_PASSWORD_WORDS = (
    "passord",
    "hemmelig",
    "hemmelighet",
    "velkommen",
    "sommer",
    "vinter",
    "høst",
    "host",
    "vår",
    "januar",
    "februar",
    "mars",
    "april",
    "mai",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "desember",
    "mandag",
    "tirsdag",
    "onsdag",
    "torsdag",
    "fredag",
    "lørdag",
    "søndag",
    "norge",
    "noreg",
    "oslo",
    "bergen",
    "trondheim",
    "stavanger",
    "tromsø",
    "kristiansand",
    "drammen",
    "fredrikstad",
    "bodø",
    "ålesund",
    "kommune",
    "fylke",
    "helse",
    "sykehus",
    "nettverk",
    "migrasjon",
    "migrasjonshelse",
    "elsker",
    "elskerdeg",
    "kjæreste",
    "glad",
    "sol",
    "fotball",
    "rosenborg",
    "brann",
    "vålerenga",
    "lillemor",
    "mamma",
    "pappa",
    "bamse",
    "katt",
    "hund",
    "pusekatt",
    "jesus",
    "gud",
    "qwerty",
    "asdf",
    "zxcv",
    "æøå",
)
MIN_PASSWORD_LENGTH = 12


class Length(validators.Length):
    """WTForms' length rule, used by every form: too long is refused with a message that names the
    limit and the length written ("Skriv høyst 200 tegn – her er det 365."), and the field gets no
    ``maxlength`` attribute – a browser cuts text typed or pasted past it without a word, and the
    writer never learns that the end of their text is gone.  The limit is shown beside the field
    instead (``limit_hint``, read by the ``field`` macro in templates/_forms.html)."""

    def __init__(self, min=-1, max=-1, message=None):
        super().__init__(min, max, message)
        self.field_flags.pop("maxlength", None)
        self.limit = max if max != -1 else None

    def __call__(self, form, field):
        length = len((field.data or "").replace("\r\n", "\n"))  # a line break counts once, as typed
        if self.limit is not None and self.message is None and length > self.limit:
            raise ValidationError(
                _l(
                    "Write at most %(max)s characters – this is %(length)s.",
                    max=format_number(self.limit),
                    length=format_number(length),
                )
            )
        super().__call__(form, field)

    def limit_hint(self):
        """The limit as the page shows it beside the field: "Høyst 5 000 tegn"."""
        return _l("At most %(n)s characters", n=format_number(self.limit))


class PrintableText:
    """Refuse control characters (NUL and the like): PostgreSQL cannot store NUL, and
    no one types them.  Line breaks and tabs are allowed where ``multiline`` is set."""

    def __init__(self, multiline=False):
        self.allowed = {"\n", "\r", "\t"} if multiline else set()

    def __call__(self, form, field):
        if any(unicodedata.category(ch) == "Cc" and ch not in self.allowed for ch in field.data or ""):
            raise ValidationError(_l("Remove the invisible control characters from the text."))


class WebAddress:
    """A full http(s) address.  WTForms' ``URL`` lets any scheme through ("javascript://…"),
    and these addresses end up as links on pages and in mail."""

    def __call__(self, form, field):
        from urllib.parse import urlsplit

        try:
            parts = urlsplit((field.data or "").strip())
        except ValueError:  # "https://[::1/": not an address (urlsplit refuses it)
            raise ValidationError(_l("Give a full address, starting with https://")) from None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname or "." not in parts.hostname:
            raise ValidationError(_l("Give a full address, starting with https://"))
        field.data = field.data.strip()


class LinkLines:
    """Links one a line (``https://…`` or ``Label https://…``), at most ``limit`` of them."""

    def __init__(self, limit=20):
        self.limit = limit

    def __call__(self, form, field):
        from models.meeting import parse_links

        try:
            links = parse_links(field.data or "")
        except ValueError as bad:
            raise ValidationError(
                _l(
                    "Line %(n)s is not a link: write an address starting with https://, "
                    "with a label before it if you like.",
                    n=bad.args[0],
                )
            ) from bad
        if len(links) > self.limit:
            raise ValidationError(_l("Give at most %(n)s links.", n=self.limit))


class EmailAddress:
    """A deliverable-looking address (syntax only: no DNS look-up), normalised to lower case."""

    def __call__(self, form, field):
        value = (field.data or "").strip()
        try:
            result = validate_email(value, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValidationError(_l("Enter an e-mail address like name@kommune.no.")) from exc
        field.data = result.normalized.lower()


class StrongPassword:
    """At least 12 characters, and hard to guess: not on the lists of common passwords, not built
    from a common word, a name, a year or a keyboard pattern, and not containing the address.

    Length beats complexity rules (NSM's and NIST's advice): a passphrase is welcome.  The guess
    count comes from zxcvbn (Dropbox's estimator, the Python port on the package index), whose
    frequency lists include the 30,000 most common passwords of the leaked-password corpora
    (Xato's ten million), English words, names and surnames; Norwegian words people build
    passwords from are added (``NORWEGIAN_PASSWORD_WORDS``), and so are the member's address and
    name.  Below 10¹⁰ estimated guesses (under zxcvbn's score 4, "very unguessable: strong
    protection from an offline attack on a slow hash" such as our scrypt) the password is refused:
    "Sommer2024!!" and "Bergen2026Oslo" are, "korrekt hest batteri stift" is not.
    """

    # zxcvbn's own threshold for score 4.
    MIN_GUESSES_LOG10 = 10
    # zxcvbn refuses more than 72 characters (its max_length; a ValueError, a 500 before) and its
    # time grows with the length: the first 72 decide.
    ESTIMATE_CHARACTERS = 72

    def __init__(self, email_field="email", name_field="name"):
        self.email_field = email_field
        self.name_field = name_field

    def __call__(self, form, field):
        password = field.data or ""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValidationError(
                _l(
                    "Use at least %(n)s characters – a few words in a row is a good password.",
                    n=MIN_PASSWORD_LENGTH,
                )
            )
        email_field = getattr(form, self.email_field, None)
        email = (email_field.data or "").casefold() if email_field else ""
        local = email.split("@")[0]
        if local and len(local) >= 4 and local in password.casefold():
            raise ValidationError(_l("The password must not contain your e-mail address."))
        reason = weakness(
            password,
            personal=(
                email,
                local,
                *local.replace("_", ".").split("."),
                *_words(getattr(form, self.name_field, None)),
            ),
        )
        if reason == "common":
            raise ValidationError(
                _l(
                    "This password is on the lists of the most common passwords, which are "
                    "tried first. Choose another – a few unrelated words in a row is a good "
                    "password."
                )
            )
        if reason == "guessable":
            raise ValidationError(
                _l(
                    "This password is too easy to guess: it is built from common words, names, "
                    "years or keyboard patterns. Add a few unrelated words."
                )
            )


def _words(name_field):
    return tuple(
        word for word in ((name_field.data or "") if name_field else "").casefold().split() if len(word) >= 3
    )


def weakness(password, personal=()):
    """Why ``password`` is too easy to guess – "common" (most of it is one entry of the
    leaked-password list), "guessable" (under 10¹⁰ guesses) – or None."""
    from zxcvbn import zxcvbn

    sample = password[: StrongPassword.ESTIMATE_CHARACTERS]
    words = [w for w in (*NORWEGIAN_PASSWORD_WORDS, *personal) if w]
    result = zxcvbn(sample, user_inputs=words)
    if result["guesses_log10"] >= StrongPassword.MIN_GUESSES_LOG10:
        return None
    common = sum(len(m["token"]) for m in result["sequence"] if m.get("dictionary_name") == "passwords")
    return "common" if common * 2 >= len(sample) else "guessable"


def page_number(value):
    """A page number from the query string (``request.args.get("page", 1, type=page_number)``):
    1 to 2**31 − 1, else ``ValueError`` – so the first page is shown instead of a 500 from an
    OFFSET the database cannot take."""
    number = int(value)
    if not 1 <= number <= 2**31 - 1:
        raise ValueError(value)
    return number
