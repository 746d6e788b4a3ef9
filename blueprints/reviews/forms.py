from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, IntegerField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional

from blueprints.forms import DeadlineForm, OwnDetailsForm, long_text
from blueprints.validators import EmailAddress, Length, PrintableText
from models.meeting import OSLO
from models.review import PURPOSES, SCALE
from models.types import utcnow


class OpenReviewForm(DeadlineForm):
    year = IntegerField(_l("Year"), validators=[InputRequired(_l("Give the year.")), NumberRange(2020, 2100)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.year.data is None:
            self.year.data = utcnow().astimezone(OSLO).year


class AnswerForm(OwnDetailsForm):
    """The member's answer: still taking part, their line manager and unit, and the evaluation."""

    decision = RadioField(
        _l("Do you still take part in the network?"),
        choices=[
            SelectChoice("stay", _l("Yes, I still take part")),
            SelectChoice("leave", _l("No, take me off the list")),
        ],
        validators=[InputRequired(_l("Say whether you still take part."))],
    )
    unit = StringField(
        _l("Unit or department"),
        validators=[InputRequired(_l("Give your unit.")), Length(max=200), PrintableText()],
    )
    manager_name = StringField(
        _l("Your line manager's name"),
        validators=[InputRequired(_l("Give your line manager's name.")), Length(max=200), PrintableText()],
    )
    manager_email = EmailField(
        _l("Your line manager's e-mail address"),
        validators=[
            InputRequired(_l("Give your line manager's e-mail address.")),
            Length(max=254),
            EmailAddress(),
        ],
    )
    change_wish = long_text(_l("What should change? (optional)"), max=3000)

    def scores(self):
        return {
            key: int(self[f"score_{key}"].data) if self[f"score_{key}"].data else None for key, _ in PURPOSES
        }

    def comments(self):
        return {key: (self[f"comment_{key}"].data or "").strip() or None for key, _ in PURPOSES}

    def purposes(self):
        """(label, score field, comment field) for each purpose, for the template."""
        return [(label, self[f"score_{key}"], self[f"comment_{key}"]) for key, label in PURPOSES]


SCORE_CHOICES = [SelectChoice(str(value), str(value)) for value in SCALE]
for _key, _label in PURPOSES:
    setattr(
        AnswerForm,
        f"score_{_key}",
        RadioField(
            _label,
            choices=SCORE_CHOICES,
            validators=[Optional()],
            description=_l("1 = not at all, 5 = very well. Leave it if you do not know."),
        ),
    )
    setattr(
        AnswerForm,
        f"comment_{_key}",
        long_text(_l("Comment (optional)"), max=2000),
    )
del _key, _label


class MandateForm(FlaskForm):
    text = long_text(_l("The mandate"), max=50000, required=_l("Write the mandate's text."))
    effective_on = DateField(
        _l("In effect from"), validators=[InputRequired(_l("Give the date it takes effect."))]
    )
    note = long_text(_l("What changed (optional)"), max=2000)
