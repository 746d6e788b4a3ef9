from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, SelectMultipleField, StringField, TextAreaField, URLField
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from blueprints.validators import PrintableText, WebAddress

MARKDOWN_HINT = _l(
    "Markdown: a blank line between paragraphs, **bold**, *italic*, - for lists, "
    "## for a heading, [words](https://…) for a link."
)


def network_choices(networks):
    return [(n.code, f"{n.code} – {n.name}") for n in networks]


class InputForm(FlaskForm):
    """A member's item for the newsletter; the coordinator edits the same fields."""

    title = StringField(
        _l("Title"),
        validators=[InputRequired(_l("Give your input a title.")), Length(max=200), PrintableText()],
    )
    body = TextAreaField(
        _l("Text"),
        description=MARKDOWN_HINT,
        validators=[
            InputRequired(_l("Write the text of your input.")),
            Length(max=5000),
            PrintableText(multiline=True),
        ],
    )
    link = URLField(_l("Link (optional)"), validators=[Optional(), Length(max=500), WebAddress()])


class SubmitInputForm(InputForm):
    network = RadioField(_l("For the newsletter of"), validators=[InputRequired(_l("Choose a newsletter."))])

    def __init__(self, networks, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.network.choices = [*network_choices(networks), ("all", _l("All three networks"))]


class DeclineForm(FlaskForm):
    note = TextAreaField(
        _l("Why not (the member sees this)"),
        validators=[
            InputRequired(_l("Tell the member why the input is not included.")),
            Length(max=1000),
            PrintableText(multiline=True),
        ],
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
    body = TextAreaField(
        _l("Text"),
        description=MARKDOWN_HINT,
        validators=[Optional(), Length(max=50000), PrintableText(multiline=True)],
    )
    networks = SelectMultipleField(
        _l("Send to the active members of"),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[InputRequired(_l("Choose at least one network."))],
    )

    def __init__(self, networks, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.networks.choices = network_choices(networks)
