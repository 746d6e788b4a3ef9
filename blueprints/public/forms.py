from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from blueprints.util import safe_next


class LanguageForm(FlaskForm):
    locale = SelectField(
        choices=[SelectChoice("nb", "Norsk bokmål"), SelectChoice("en", "English")],
        validators=[InputRequired()],
    )
    next = HiddenField()

    @property
    def next_url(self):
        return safe_next(self.next.data)
