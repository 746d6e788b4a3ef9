from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from blueprints.forms import long_text, network_choices, networks_field
from blueprints.validators import Length, PrintableText
from models.signal import NOTE_LIMIT, REPLY_LIMIT, TEXT_LIMIT, SignalKind, SignalStatus, Urgency


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


# -- members' signals (signals.py) -----------------------------------------------------------------


class SignalForm(FlaskForm):
    """What a member heard: quick to fill on a phone.  The language groups and the municipalities
    are set per request (their names in the page's language; the active municipalities)."""

    kind = RadioField(
        _l("What is it about?"),
        choices=[SelectChoice(k.value, k.label) for k in SignalKind],
        validators=[InputRequired(_l("Choose what it is about."))],
    )
    # The model refuses a code not in the list (next to this field): no choice check here.
    languages = SelectMultipleField(
        _l("Language groups"),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,
    )
    municipality = SelectField(_l("Municipality"), validate_choice=False)
    urgency = RadioField(
        _l("How urgent is it?"),
        choices=[SelectChoice(u.value, u.label) for u in Urgency],
        validators=[InputRequired(_l("Choose how urgent it is."))],
    )
    text = long_text(
        _l("What have you heard or seen?"), max=TEXT_LIMIT, required=_l("Write what you have heard or seen.")
    )

    def __init__(self, languages, municipalities, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.languages.choices = [(language.code, language.name) for language in languages]
        self.municipality.choices = [("", _l("Not one municipality"))] + [
            (str(m.id), m.name) for m in municipalities
        ]

    def validate_municipality(self, field):
        if field.data and field.data not in {value for value, _label in field.choices}:
            raise ValidationError(_l("Choose a municipality from the list."))


# -- the situation report (report.py) --------------------------------------------------------------


class ReportDayForm(FlaskForm):
    """The day the situation report covers (a GET form: its choices are the emergency's days)."""

    class Meta:
        csrf = False

    day = SelectField(_l("Period"), validators=[Optional()], default="", validate_choice=False)

    def validate_day(self, field):
        if field.data and field.data not in {choice.value for choice in field.choices}:
            raise ValidationError(_l("Choose one of the emergency's days."))


# -- the situation board (board.py) ----------------------------------------------------------------


class BoardFilterForm(FlaskForm):
    """The board's list narrowed (a GET form; kept in the polling address).  The counties and the
    language groups are set per request."""

    class Meta:
        csrf = False

    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice("", _l("All kinds"))] + [SelectChoice(k.value, k.label) for k in SignalKind],
        default="",
    )
    county = SelectField(_l("County"), default="")
    language = SelectField(_l("Language group"), default="")
    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("", _l("All statuses"))]
        + [SelectChoice(s.value, s.label) for s in SignalStatus],
        default="",
    )
    urgency = SelectField(
        _l("Urgency"),
        choices=[SelectChoice("", _l("All urgencies"))] + [SelectChoice(u.value, u.label) for u in Urgency],
        default="",
    )
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=10_000)], default=1)

    def __init__(self, counties, languages, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.county.choices = (
            [SelectChoice("", _l("All counties"))]
            + [SelectChoice(number, name) for number, name in counties]
            + [SelectChoice("none", _l("No municipality"))]
        )
        self.language.choices = [SelectChoice("", _l("All language groups"))] + [
            SelectChoice(lang.code, lang.name) for lang in languages
        ]


class HandleSignalForm(FlaskForm):
    status = RadioField(
        _l("Mark the signal"),
        choices=[SelectChoice(s.value, s.label) for s in SignalStatus if s is not SignalStatus.NEW],
        validators=[InputRequired(_l("Choose seen, followed up or passed on."))],
    )
    note = long_text(
        _l("Note (optional)"),
        max=NOTE_LIMIT,
        description=_l(
            "What was done, or to whom it was passed on. No personal data about residents or patients."
        ),
    )


class MergeSignalForm(FlaskForm):
    into = IntegerField(
        _l("Number of the signal it repeats"),
        validators=[
            InputRequired(_l("Give the number of the signal it repeats.")),
            NumberRange(min=1, max=2**31 - 1, message=_l("Give the number of the signal it repeats.")),
        ],
    )


class ReplySignalForm(FlaskForm):
    body = long_text(_l("Reply to the reporter"), max=REPLY_LIMIT, required=_l("Write the reply."))


# -- information packages (blueprints/emergencies/packages.py) ------------------------------------

from wtforms import FieldList, Form, FormField, URLField  # noqa: E402

from blueprints.validators import WebAddress  # noqa: E402
from models.package import LINK_LIMIT, SOURCE_LIMIT, TITLE_LIMIT, URL_LIMIT  # noqa: E402

MORE_ROWS = 3  # the rows a package form starts with, and adds with "More rows"


class MaterialRow(Form):
    """One piece of material: an address, its language and its source (a row left empty is skipped)."""

    url = URLField(
        _l("Address of the material"), validators=[Optional(), Length(max=URL_LIMIT), WebAddress()]
    )
    language = SelectField(_l("Language of the material"), default="")
    source = StringField(
        _l("Source (optional)"), validators=[Optional(), Length(max=SOURCE_LIMIT), PrintableText()]
    )

    def validate_url(self, field):
        if field.data and not field.data.lower().startswith("https://"):
            raise ValidationError(_l("Give an address starting with https:// (a secure connection)."))

    def validate_language(self, field):
        if self.url.data and not field.data:
            raise ValidationError(_l("Choose the language of the material."))


class PackageForm(FlaskForm):
    title = StringField(
        _l("Title"),
        validators=[InputRequired(_l("Give the package a title.")), Length(max=TITLE_LIMIT), PrintableText()],
    )
    purpose = long_text(_l("What it is for, and whom it is meant to reach"), max=2000)
    links = FieldList(FormField(MaterialRow), min_entries=MORE_ROWS, max_entries=LINK_LIMIT)

    def __init__(self, languages, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language_choices = [
            ("", _l("Choose a language")),
            *((each.code, each.name) for each in languages),
        ]
        self._choose()

    def _choose(self):
        for row in self.links:
            row.form.language.choices = self.language_choices

    def more_rows(self):
        """Draw the form again with more empty rows (the "More rows" button: no JavaScript needed)."""
        for _ in range(min(MORE_ROWS, LINK_LIMIT - len(self.links.entries))):
            self.links.append_entry()
        self._choose()

    def validate_links(self, field):
        if not any(row.form.url.data for row in field):
            field.entries[0].form.url.errors.append(_l("Give at least one link to material."))
            raise ValidationError(_l("Give at least one link to material."))

    @property
    def material(self):
        """The rows with an address, as the model takes them."""
        from models.package import LinkIn

        return [
            LinkIn(row.form.url.data, row.form.language.data, row.form.source.data)
            for row in self.links
            if row.form.url.data
        ]


class ShareForm(FlaskForm):
    note = long_text(_l("Where, and to whom (optional)"), max=1000)
