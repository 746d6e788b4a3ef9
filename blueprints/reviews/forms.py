from datetime import datetime, time

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, IntegerField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from blueprints.account.forms import OwnDetailsForm
from blueprints.validators import EmailAddress, PrintableText
from models.meeting import OSLO
from models.review import DEFAULT_DEADLINE, DEFAULT_REMINDER, PURPOSES, SCALE
from models.types import utcnow


def oslo_end_of(day):
    """The last minute of ``day`` in Norway: a deadline "23 March" means all of that day."""
    return datetime.combine(day, time(23, 59), tzinfo=OSLO)


class DeadlineForm(FlaskForm):
    """A deadline for answers and the day of the one reminder (the review, a request for advice)."""

    deadline = DateField(_l("Deadline for answers"), validators=[InputRequired(_l("Give the deadline."))])
    remind_on = DateField(
        _l("Reminder to those who have not answered"),
        validators=[InputRequired(_l("Give the reminder date."))],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        today = utcnow().astimezone(OSLO).date()
        if self.deadline.data is None and not self.deadline.raw_data:
            self.deadline.data = today + DEFAULT_DEADLINE
        if self.remind_on.data is None and not self.remind_on.raw_data and self.deadline.data:
            self.remind_on.data = self.deadline.data - DEFAULT_REMINDER

    # A date that did not parse (" ", "2027-02-30") is None here, its error already given.
    def validate_deadline(self, field):
        if field.data is not None and field.data <= utcnow().astimezone(OSLO).date():
            raise ValidationError(_l("The deadline must lie ahead."))

    def validate_remind_on(self, field):
        if field.data is None:
            return
        if field.data < utcnow().astimezone(OSLO).date():
            raise ValidationError(_l("The reminder cannot be in the past."))
        if self.deadline.data and field.data >= self.deadline.data:
            raise ValidationError(_l("The reminder must come before the deadline."))

    @property
    def deadline_at(self):
        return oslo_end_of(self.deadline.data)

    @property
    def remind_at(self):
        """The reminder goes in the morning of its day (at once, if that is today and the morning is past)."""
        return max(datetime.combine(self.remind_on.data, time(8, 0), tzinfo=OSLO), utcnow())


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
    change_wish = TextAreaField(
        _l("What should change? (optional)"),
        validators=[Optional(), Length(max=3000), PrintableText(multiline=True)],
    )

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
        TextAreaField(
            _l("Comment (optional)"),
            validators=[Optional(), Length(max=2000), PrintableText(multiline=True)],
        ),
    )
del _key, _label


class MandateForm(FlaskForm):
    text = TextAreaField(
        _l("The mandate"),
        validators=[
            InputRequired(_l("Write the mandate's text.")),
            Length(max=50000),
            PrintableText(multiline=True),
        ],
    )
    effective_on = DateField(
        _l("In effect from"), validators=[InputRequired(_l("Give the date it takes effect."))]
    )
    note = TextAreaField(
        _l("What changed (optional)"),
        validators=[Optional(), Length(max=2000), PrintableText(multiline=True)],
    )
