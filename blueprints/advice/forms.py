from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, URLField
from wtforms.validators import InputRequired, Optional

from blueprints.forms import DeadlineForm, long_text, network_choices, networks_field
from blueprints.validators import Length, PrintableText, WebAddress


class AdviceRequestForm(DeadlineForm):
    title = StringField(
        _l("What is asked"),
        validators=[InputRequired(_l("Say what you ask for advice on.")), Length(max=200), PrintableText()],
    )
    body = long_text(
        _l("Background and questions"), max=10000, required=_l("Write the background and the questions.")
    )
    document_url = URLField(
        _l("Link to the document (optional)"), validators=[Optional(), Length(max=500), WebAddress()]
    )
    networks = networks_field(_l("Ask the active members of"))

    def __init__(self, networks, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.networks.choices = network_choices(networks)


class AnswerForm(FlaskForm):
    body = long_text(_l("Your advice"), max=10000, required=_l("Write your advice before sending it."))
