from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField
from wtforms.validators import InputRequired

from blueprints.validators import EmailAddress, Length, PrintableText, StrongPassword


class SignInForm(FlaskForm):
    email = EmailField(
        _l("E-mail address"),
        validators=[InputRequired(_l("Enter your e-mail address.")), Length(max=254), EmailAddress()],
    )
    password = PasswordField(
        _l("Password"), validators=[InputRequired(_l("Enter your password.")), Length(max=200)]
    )
    remember = BooleanField(_l("Keep me signed in on this device"))
    next = HiddenField()


class SignInLinkForm(FlaskForm):
    """Asks for a sign-in link by e-mail (on the sign-in page, beside the password form: its fields
    are prefixed ``link-`` so the page's ids stay unique)."""

    email = EmailField(
        _l("E-mail address"),
        validators=[InputRequired(_l("Enter your e-mail address.")), Length(max=254), EmailAddress()],
    )
    next = HiddenField()


class EmailForm(FlaskForm):
    """Asks only for an address: password reset and a new verification link."""

    email = EmailField(
        _l("E-mail address"),
        validators=[InputRequired(_l("Enter your e-mail address.")), Length(max=254), EmailAddress()],
    )


class NewPasswordForm(FlaskForm):
    # The account's address, for the strength check; not editable.
    email = HiddenField()
    password = PasswordField(
        _l("New password"),
        validators=[
            InputRequired(_l("Choose a password.")),
            Length(max=200),
            PrintableText(),
            StrongPassword(),
        ],
    )
