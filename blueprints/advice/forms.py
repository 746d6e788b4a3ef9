from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField, TextAreaField, URLField
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from blueprints.newsletters.forms import network_choices
from blueprints.reviews.forms import DeadlineForm
from blueprints.validators import PrintableText, WebAddress


class AdviceRequestForm(DeadlineForm):
    title = StringField(
        _l("What is asked"),
        validators=[InputRequired(_l("Say what you ask for advice on.")), Length(max=200), PrintableText()],
    )
    body = TextAreaField(
        _l("Background and questions"),
        validators=[
            InputRequired(_l("Write the background and the questions.")),
            Length(max=10000),
            PrintableText(multiline=True),
        ],
    )
    document_url = URLField(
        _l("Link to the document (optional)"), validators=[Optional(), Length(max=500), WebAddress()]
    )
    networks = SelectMultipleField(
        _l("Ask the active members of"),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[InputRequired(_l("Choose at least one network."))],
    )

    def __init__(self, networks, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.networks.choices = network_choices(networks)


class AnswerForm(FlaskForm):
    body = TextAreaField(
        _l("Your advice"),
        validators=[
            InputRequired(_l("Write your advice before sending it.")),
            Length(max=10000),
            PrintableText(multiline=True),
        ],
    )
