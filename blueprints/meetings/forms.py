from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    RadioField,
    SearchField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from blueprints.forms import long_text
from blueprints.validators import Length, LinkLines, PrintableText, WebAddress
from models.meeting import OSLO, MeetingFormat, MeetingKind


class MeetingDetailsForm(FlaskForm):
    """What can change about a planned meeting (its kind and networks cannot)."""

    title = StringField(
        _l("Title"),
        validators=[InputRequired(_l("Give the meeting a title.")), Length(max=200), PrintableText()],
    )
    topic = StringField(_l("Topic (optional)"), validators=[Optional(), Length(max=200), PrintableText()])
    description = long_text(_l("Description (optional)"), max=5000)
    date = DateField(_l("Date"), validators=[InputRequired(_l("Give the date."))])
    start = TimeField(_l("Starts"), validators=[InputRequired(_l("Give the start time."))])
    end = TimeField(_l("Ends"), validators=[InputRequired(_l("Give the end time."))])
    format = RadioField(
        _l("Format"),
        choices=[
            SelectChoice(MeetingFormat.DIGITAL.value, _l("Digital")),
            SelectChoice(MeetingFormat.HYBRID.value, _l("Hybrid")),
        ],
        default=MeetingFormat.DIGITAL.value,
        validators=[InputRequired()],
    )
    online_link = URLField(_l("Online link (Teams)"), validators=[Optional(), Length(max=500), WebAddress()])
    place = StringField(
        _l("Place (for hybrid meetings)"), validators=[Optional(), Length(max=300), PrintableText()]
    )
    agenda = long_text(_l("Agenda (optional)"), max=5000)
    attachments = TextAreaField(
        _l("Attachments (optional)"),
        description=_l(
            "Links to documents, one a line. A label may come before the address: Presentation https://…"
        ),
        validators=[Optional(), Length(max=5000), PrintableText(multiline=True), LinkLines()],
    )

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        if self.start.data and self.end.data and self.end.data <= self.start.data:
            self.end.errors.append(_l("The meeting must end after it starts."))
            valid = False
        if self.format.data == MeetingFormat.HYBRID and not (self.place.data or "").strip():
            self.place.errors.append(_l("A hybrid meeting needs a place."))
            valid = False
        return valid

    @property
    def starts_at(self):
        return datetime.combine(self.date.data, self.start.data, tzinfo=OSLO)

    @property
    def ends_at(self):
        return datetime.combine(self.date.data, self.end.data, tzinfo=OSLO)


class MeetingChangeForm(MeetingDetailsForm):
    """Changing a planned meeting: the form carries the version it was opened on."""

    version = IntegerField(widget=HiddenInput(), validators=[Optional()])


class MeetingForm(MeetingDetailsForm):
    """A new meeting: also its kind and the networks taking part."""

    kind = SelectField(
        _l("Kind of meeting"),
        choices=[SelectChoice(k.value, k.label) for k in MeetingKind],
        validators=[InputRequired(_l("Choose the kind of meeting."))],
    )
    networks = SelectMultipleField(
        _l("Networks"),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[InputRequired(_l("Choose at least one network."))],
    )
    # For a call-in: the open emergency it is sent within ("" none; "new": open one with its title).
    # The choices are the open emergencies of the coordinator's networks, set per request.
    emergency = SelectField(
        _l("Emergency (for a call-in)"),
        description=_l(
            "A call-in sent within an emergency is listed on it; members report what they hear there."
        ),
        default="",
        validators=[Optional()],
    )


class MinutesForm(FlaskForm):
    minutes = long_text(_l("Minutes"), max=20000, required=_l("Write the minutes before publishing them."))


class CancelForm(FlaskForm):
    """The confirmation of a cancellation: an optional message to those who are told."""

    message = long_text(
        _l("Message: why the meeting is cancelled (optional)"),
        max=2000,
        description=_l(
            "It goes into the cancellation mail as you write it, and is shown on the meeting page."
        ),
    )


class ReceiptSearchForm(FlaskForm):
    """Who has not confirmed a call-in, searched (read from the query string: a GET, no CSRF)."""

    class Meta:
        csrf = False

    q = SearchField(
        _l("Name, e-mail address or organisation"),
        validators=[Optional(), Length(max=100), PrintableText()],
    )
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=10_000)], default=1)
