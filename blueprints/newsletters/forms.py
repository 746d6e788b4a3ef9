from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, URLField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional, ValidationError

from blueprints.forms import long_text, network_choices, networks_field
from blueprints.validators import Length, PrintableText, WebAddress

MARKDOWN_HINT = _l(
    "Markdown: a blank line between paragraphs, **bold**, *italic*, - for lists, "
    "## for a heading, [words](https://…) for a link."
)


class InputForm(FlaskForm):
    """A member's item for the newsletter; the coordinator edits the same fields."""

    title = StringField(
        _l("Title"),
        validators=[InputRequired(_l("Give your input a title.")), Length(max=200), PrintableText()],
    )
    body = long_text(
        _l("Text"), max=5000, required=_l("Write the text of your input."), description=MARKDOWN_HINT
    )
    link = URLField(_l("Link (optional)"), validators=[Optional(), Length(max=500), WebAddress()])


class SubmitInputForm(InputForm):
    network = RadioField(_l("For the newsletter of"), validators=[InputRequired(_l("Choose a newsletter."))])

    def __init__(self, networks, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.network.choices = [*network_choices(networks), ("all", _l("All three networks"))]


class DeclineForm(FlaskForm):
    note = long_text(
        _l("Why not (the member sees this)"),
        max=1000,
        required=_l("Tell the member why the input is not included."),
    )


class IncludeForm(FlaskForm):
    newsletter = SelectField(
        _l("Into the issue"), coerce=int, validators=[InputRequired(_l("Choose an issue."))]
    )

    def __init__(self, drafts, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.newsletter.choices = [(n.id, f"{n.title} ({n.codes})") for n in drafts]


class NewsletterForm(FlaskForm):
    title = StringField(
        _l("Title"),
        validators=[InputRequired(_l("Give the issue a title.")), Length(max=200), PrintableText()],
    )
    body = long_text(_l("Text"), max=50000, description=MARKDOWN_HINT)
    language = RadioField(
        _l("Written in"),
        choices=[SelectChoice("nb", _l("Bokmål")), SelectChoice("nn", _l("Nynorsk"))],
        default="nb",
        validators=[Optional()],  # not given: bokmål
    )
    parallel_title = StringField(
        _l("Title in the other written form (optional)"),
        validators=[Optional(), Length(max=200), PrintableText()],
    )
    parallel_body = long_text(_l("Text in the other written form (optional)"), max=50000)
    networks = networks_field(_l("Send to the active members of"))

    def __init__(self, networks, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.networks.choices = network_choices(networks)

    def validate_parallel_title(self, field):
        if self.parallel_body.data and not (field.data or "").strip():
            raise ValidationError(_l("Give the other written form a title too, or leave both empty."))

    @property
    def written_forms(self):
        """What ``newsletter.create`` and ``update_draft`` take of the written forms."""
        return {
            "language": self.language.data or "nb",
            "parallel_title": (self.parallel_title.data or "").strip() or None,
            "parallel_body": (self.parallel_body.data or "").strip() or None,
        }
