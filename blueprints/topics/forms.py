"""The topic proposal form and the coordinator's decision form."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from blueprints.validators import PrintableText
from models.meeting import MeetingKind


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
    description = TextAreaField(
        _l("Why this topic? (optional)"),
        validators=[Optional(), Length(max=2000), PrintableText(multiline=True)],
    )


class TopicDecisionForm(FlaskForm):
    meeting = SelectField(_l("Into the meeting"), validators=[Optional()])
    reason = TextAreaField(
        _l("Reason (when declining)"),
        validators=[Optional(), Length(max=1000), PrintableText(multiline=True)],
    )
