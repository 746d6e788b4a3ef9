from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, SearchField, SelectField, StringField, URLField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from blueprints.forms import long_text
from blueprints.validators import EmailAddress, Length, PrintableText, WebAddress
from models.outbox import OutboxStatus


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    # A member picked with ``AuditSearchForm``: their id, never their name or address, is in the URL.
    member = IntegerField(_l("Member"), validators=[Optional(), NumberRange(min=1, max=2**31 - 1)])
    action = SelectField(_l("What"), validators=[Optional()], default="")
    network = SelectField(_l("Network"), validators=[Optional()], default="")


class AuditSearchForm(FlaskForm):
    """Find a member in the audit log by name or address: sent by POST, so that what was typed
    stays out of URLs (access logs, browser history)."""

    q = SearchField(
        _l("Member's name or e-mail"), validators=[InputRequired(), Length(max=100), PrintableText()]
    )


class OutboxFilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("", _l("All"))]
        + [SelectChoice(status.value, status.label) for status in OutboxStatus],
        validators=[Optional()],
        default="",
    )


class CoordinatorForm(FlaskForm):
    email = EmailField(
        _l("E-mail address"),
        validators=[InputRequired(_l("Enter the e-mail address.")), Length(max=254), EmailAddress()],
    )
    name = StringField(
        _l("Name (for a new account)"), validators=[Optional(), Length(max=200), PrintableText()]
    )
    network = SelectField(_l("Network"), validators=[InputRequired()])


class DecisionNoteForm(FlaskForm):
    note = long_text(_l("Note (required when rejecting)"), max=1000)


class OverviewForm(FlaskForm):
    """Filters and sort order of the overview, read from the query string."""

    class Meta:
        csrf = False

    network = SelectField(_l("Network"), validators=[Optional()])
    county = SelectField(_l("County"), validators=[Optional()], default="")
    q = SearchField(
        _l("Municipality or organisation"), validators=[Optional(), Length(max=100), PrintableText()]
    )
    sort = SelectField(
        _l("Sort by"),
        choices=[
            SelectChoice("name", _l("Name")),
            SelectChoice("members", _l("Active members")),
            SelectChoice("pending", _l("Pending anchorings")),
            SelectChoice("activity", _l("Last activity")),
        ],
        validators=[Optional()],
        default="name",
    )
    desc = SelectField(
        choices=[SelectChoice("", "↑"), SelectChoice("1", "↓")], validators=[Optional()], default=""
    )


class TeamsChannelForm(FlaskForm):
    url = URLField(
        _l("Incoming-webhook address of the network's Teams channel"),
        validators=[Optional(), Length(max=1000), WebAddress()],
    )

    def validate_url(self, field):
        """The model's rule (``models.teams.check_webhook_url``: https, a Teams host, not internal),
        said next to the field; ``set_channel`` refuses the same addresses."""
        from models.teams import WebhookRefused, check_webhook_url

        if field.errors:  # not an address at all: said once, by WebAddress
            return
        try:
            check_webhook_url(field.data)
        except WebhookRefused as refused:
            raise ValidationError(refused.message) from refused
