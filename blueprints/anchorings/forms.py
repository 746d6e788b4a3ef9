from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from blueprints.validators import PrintableText


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
    comment = TextAreaField(
        _l("Comment (optional)"), validators=[Optional(), Length(max=2000), PrintableText(multiline=True)]
    )


class RecordForm(FlaskForm):
    """A coordinator records an anchoring confirmed another way."""

    reason = TextAreaField(
        _l("How was it confirmed?"),
        validators=[
            InputRequired(_l("Say how the anchoring was confirmed.")),
            Length(max=2000),
            PrintableText(multiline=True),
        ],
    )
