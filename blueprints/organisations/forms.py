from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SearchField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional

from blueprints.validators import Length, PrintableText
from models import OrganisationKind
from models.language import LanguageDecision


class OrganisationSearchForm(FlaskForm):
    """The search on the organisation directory, read from the query string (no CSRF: GET)."""

    class Meta:
        csrf = False

    q = SearchField(_l("Name or number"), validators=[Optional(), Length(max=100), PrintableText()])
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice("", _l("All kinds"))]
        + [SelectChoice(k.value, k.label) for k in OrganisationKind],
        validators=[Optional()],
        default="",
    )
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=10_000)], default=1)


EDITABLE_KINDS = (
    OrganisationKind.OBSERVER,
    OrganisationKind.VOLUNTARY_ORGANISATION,
    OrganisationKind.HOSPITAL_TRUST,
    OrganisationKind.OTHER,
)


class OrganisationForm(FlaskForm):
    """A coordinator adds or edits an organisation that is not official reference data."""

    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice(k.value, k.label) for k in EDITABLE_KINDS],
        validators=[InputRequired(_l("Choose the kind of organisation."))],
    )
    name = StringField(
        _l("Name"), validators=[InputRequired(_l("Enter the name.")), Length(max=200), PrintableText()]
    )
    short_name = StringField(
        _l("Short name (optional)"), validators=[Optional(), Length(max=40), PrintableText()]
    )


class LanguageDecisionForm(FlaskForm):
    """An organisation's målvedtak, as its own decision says it."""

    language_decision = RadioField(
        _l("Written form (målvedtak)"),
        choices=[SelectChoice(d.value, d.label) for d in LanguageDecision],
        validators=[InputRequired(_l("Choose the written form."))],
    )
