"""The forms and form parts more than one feature uses: a feature imports its shared forms from
here, never from another feature (``validators.py`` keeps the validators)."""

from datetime import datetime, time

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from blueprints.validators import Length, PrintableText
from models.language import AUTONYMS, LOCALES
from models.meeting import OSLO, MeetingKind
from models.review import DEFAULT_DEADLINE, DEFAULT_REMINDER
from models.types import utcnow


class ConfirmForm(FlaskForm):
    """A button that changes state: only the CSRF token (and the submission key the page draws).

    ``CSRFProtect`` checks the token of every POST before the view runs (a bad one is the 400
    page), so a view has nothing to validate for it; the form is what the template draws."""


def long_text(label, max, required=None, description=""):
    """A multi-line text field of printable text; ``required``: the message when it is left empty
    (None: optional)."""
    first = InputRequired(required) if required else Optional()
    return TextAreaField(
        label, description=description, validators=[first, Length(max=max), PrintableText(multiline=True)]
    )


def network_choices(networks):
    return [(n.code, f"{n.code} – {n.name}") for n in networks]


def networks_field(label):
    """Checkboxes for the networks a coordinator sends to; the choices are set per request."""
    return SelectMultipleField(
        label,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[InputRequired(_l("Choose at least one network."))],
    )


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


def written_form_field():
    """A member's written form for pages and mail; empty: their organisation's målvedtak."""
    return SelectField(
        _l("Written form of pages and e-mail"),
        choices=[
            SelectChoice("", _l("As my organisation has decided")),
            *(SelectChoice(code, AUTONYMS[code], render_kw={"lang": code}) for code in LOCALES),
        ],
        validators=[Optional()],
    )


class OwnDetailsForm(FlaskForm):
    """A form about a member's own details, filled from them; the line manager is someone else."""

    def __init__(self, *args, member, **kwargs):
        super().__init__(*args, obj=member, **kwargs)
        self.member = member

    def validate_manager_email(self, field):
        if field.data == self.member.email:
            raise ValidationError(_l("Give your line manager's address, not your own."))


# -- topics: drawn on the year plan (meetings), handled by the topics blueprint ----------------


class TopicForm(FlaskForm):
    title = StringField(
        _l("Topic"),
        validators=[InputRequired(_l("Give the topic a title.")), Length(max=200), PrintableText()],
    )
    meeting_kind = RadioField(
        _l("For"),
        choices=[SelectChoice(k.value, k.label) for k in (MeetingKind.PROFESSIONAL, MeetingKind.NETWORK)],
        default=MeetingKind.PROFESSIONAL.value,
        validators=[InputRequired(_l("Choose the kind of meeting."))],
    )
    description = long_text(_l("Why this topic? (optional)"), max=2000)


class TopicDecisionForm(FlaskForm):
    meeting = SelectField(_l("Into the meeting"), validators=[Optional()])
    reason = long_text(_l("Reason (when declining)"), max=1000)
