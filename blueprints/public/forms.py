from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from blueprints.util import safe_next
from models.language import AUTONYMS, LOCALES


class LanguageForm(FlaskForm):
    locale = SelectField(
        choices=[SelectChoice(code, AUTONYMS[code]) for code in LOCALES],
        validators=[InputRequired()],
    )
    next = HiddenField()

    @property
    def next_url(self):
        return safe_next(self.next.data)
