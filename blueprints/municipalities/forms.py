from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional

from blueprints.forms import long_text
from blueprints.validators import EmailAddress, Length, PrintableText
from models import ChangeAction


class HandoverForm(FlaskForm):
    colleague = IntegerField(_l("Colleague"), validators=[InputRequired(_l("Choose a colleague."))])


class RemoveForm(FlaskForm):
    """Remove the main contact: the one the page showed, so a second press removes nobody else."""

    membership = IntegerField(validators=[Optional()])


class InviteForm(FlaskForm):
    email = EmailField(
        _l("Colleague's work e-mail address"),
        validators=[InputRequired(_l("Enter the e-mail address.")), Length(max=254), EmailAddress()],
    )
    message = long_text(_l("Message (optional)"), max=1000)


class ChangeRequestForm(FlaskForm):
    action = RadioField(
        _l("What should change?"),
        choices=[SelectChoice(a.value, a.label) for a in ChangeAction],
        validators=[InputRequired(_l("Choose what should change."))],
    )
    email = EmailField(
        _l("E-mail address"),
        validators=[InputRequired(_l("Enter the e-mail address.")), Length(max=254), EmailAddress()],
    )
    new_email = EmailField(
        _l("New e-mail address (for a change)"), validators=[Optional(), Length(max=254), EmailAddress()]
    )
    name = StringField(_l("Name (optional)"), validators=[Optional(), Length(max=200), PrintableText()])
    note = long_text(_l("Note for the coordinator"), max=1000)

    def validate(self, extra_validators=None):
        # Checked here, not in validate_new_email: Optional() stops a field's own chain when empty.
        valid = super().validate(extra_validators)
        if self.action.data == ChangeAction.CHANGE and not self.new_email.data:
            self.new_email.errors.append(_l("Give the new address."))
            valid = False
        elif self.new_email.data and self.new_email.data == self.email.data:
            self.new_email.errors.append(_l("The new address is the same as the old one."))
            valid = False
        return valid
