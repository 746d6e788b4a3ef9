from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, TelField
from wtforms.validators import InputRequired, Optional

from blueprints.forms import OwnDetailsForm, long_text, written_form_field
from blueprints.validators import EmailAddress, Length, PrintableText


def text(label, required=True, max=200):
    return StringField(
        label, validators=[InputRequired() if required else Optional(), Length(max=max), PrintableText()]
    )


class ProfileForm(OwnDetailsForm):
    name = text(_l("Full name"))
    phone = TelField(_l("Phone (optional)"), validators=[Optional(), Length(max=40), PrintableText()])
    job_title = text(_l("Job title"))
    unit = text(_l("Unit or department"))
    manager_name = text(_l("Your line manager's name"))
    manager_email = EmailField(
        _l("Your line manager's e-mail address"),
        validators=[InputRequired(), Length(max=254), EmailAddress()],
    )
    language = written_form_field()


class LeaveForm(FlaskForm):
    reason = long_text(_l("Why are you leaving? (optional)"), max=500)


class DeleteForm(FlaskForm):
    password = PasswordField(
        _l("Your password"),
        validators=[InputRequired(_l("Enter your password to confirm.")), Length(max=200)],
    )


class EmailChangeForm(FlaskForm):
    """A new sign-in address; the password says it is the member asking."""

    new_email = EmailField(
        _l("New e-mail address"),
        validators=[InputRequired(_l("Enter the new address.")), Length(max=254), EmailAddress()],
    )
    password = PasswordField(
        _l("Your password"),
        validators=[InputRequired(_l("Enter your password to confirm.")), Length(max=200)],
    )
