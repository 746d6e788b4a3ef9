"""Validators every form shares: the same code checks a field as the user types and on submit."""

import unicodedata

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

# The most common passwords in Norwegian and international leaks: refused outright.
COMMON_PASSWORDS = {
    "123456789012", "passord12345", "passord123456", "password1234", "password12345", "qwertyuiop12",
    "sommer2024!!", "sommer2025!!", "sommer2026!!", "vinter2025!!", "vinter2026!!", "høst2026!!!!",
    "123456123456", "111111111111", "abc123abc123", "iloveyou1234", "welcome12345", "velkommen123",
    "velkommen1234", "qwerty123456", "asdfghjklæø1", "norge1234567", "oslo12345678", "bergen123456",
}
MIN_PASSWORD_LENGTH = 12


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

        parts = urlsplit((field.data or "").strip())
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
            raise ValidationError(_l("Line %(n)s is not a link: write an address starting with https://, "
                                     "with a label before it if you like.", n=bad.args[0])) from bad
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
    """At least 12 characters, not a common password and not the address itself.

    Length beats complexity rules (NSM's and NIST's advice): a passphrase is welcome.
    """

    def __init__(self, email_field="email"):
        self.email_field = email_field

    def __call__(self, form, field):
        password = field.data or ""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValidationError(
                _l("Use at least %(n)s characters – a few words in a row is a good password.", n=MIN_PASSWORD_LENGTH)
            )
        if len(set(password)) < 5 or password.casefold() in COMMON_PASSWORDS:
            raise ValidationError(_l("This password is too easy to guess. Try a few unrelated words."))
        email_field = getattr(form, self.email_field, None)
        email = (email_field.data or "").casefold() if email_field else ""
        local = email.split("@")[0]
        if local and len(local) >= 4 and local in password.casefold():
            raise ValidationError(_l("The password must not contain your e-mail address."))
