from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import InputRequired, Optional, ValidationError

from blueprints.forms import long_text, network_choices, networks_field
from blueprints.validators import Length, PrintableText


class EmergencyForm(FlaskForm):
    title = StringField(
        _l("Title"),
        validators=[InputRequired(_l("Give the emergency a title.")), Length(max=200), PrintableText()],
    )
    description = long_text(_l("Short description (optional)"), max=2000)
    networks = networks_field(_l("Networks"))
    observers_may_post = BooleanField(
        _l("Members of observer organisations (FHI, IMDi) may post information packages")
    )

    def __init__(self, networks, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.networks.choices = network_choices(networks)


# -- the situation report (report.py) --------------------------------------------------------------


class ReportDayForm(FlaskForm):
    """The day the situation report covers (a GET form: its choices are the emergency's days)."""

    class Meta:
        csrf = False

    day = SelectField(_l("Period"), validators=[Optional()], default="", validate_choice=False)

    def validate_day(self, field):
        if field.data and field.data not in {choice.value for choice in field.choices}:
            raise ValidationError(_l("Choose one of the emergency's days."))
