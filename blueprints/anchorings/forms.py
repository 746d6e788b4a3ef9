from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from blueprints.forms import long_text
from blueprints.validators import Length, PrintableText


class DecisionForm(FlaskForm):
    """The line manager's answer (no account needed: the signed link is the key)."""

    name = StringField(
        _l("Your name"), validators=[InputRequired(_l("Give your name.")), Length(max=200), PrintableText()]
    )
    decision = RadioField(
        _l("Your answer"),
        choices=[
            SelectChoice("confirm", _l("I confirm the participation")),
            SelectChoice("decline", _l("I do not confirm the participation")),
        ],
        validators=[InputRequired(_l("Choose an answer."))],
    )
    comment = long_text(_l("Comment (optional)"), max=2000)


class RecordForm(FlaskForm):
    """A coordinator records an anchoring confirmed another way."""

    reason = long_text(
        _l("How was it confirmed?"), max=2000, required=_l("Say how the anchoring was confirmed.")
    )
