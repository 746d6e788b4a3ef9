from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    SearchField,
    SelectMultipleField,
    StringField,
    TelField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from blueprints.forms import written_form_field
from blueprints.validators import EmailAddress, Length, PrintableText, StrongPassword
from extensions import db
from models import Network, Organisation, OrganisationKind

LEADERSHIP_KINDS = (OrganisationKind.MUNICIPALITY, OrganisationKind.COUNTY_MUNICIPALITY)


def text_field(label, required=True, max=200, message=None):
    validators = [InputRequired(message) if required else Optional(), Length(max=max), PrintableText()]
    return StringField(label, validators=validators)


class RegistrationForm(FlaskForm):
    """One set of rules, used both by the inline checks (one field at a time) and by the submit."""

    name = text_field(_l("Full name"), message=_l("Enter your name."))
    email = EmailField(
        _l("Work e-mail address"),
        validators=[InputRequired(_l("Enter your work e-mail address.")), Length(max=254), EmailAddress()],
    )
    phone = TelField(_l("Phone (optional)"), validators=[Optional(), Length(max=40), PrintableText()])
    job_title = text_field(_l("Job title"), message=_l("Enter your job title."))
    unit = text_field(_l("Unit or department"), message=_l("Enter your unit or department."))
    organisation_query = SearchField(
        _l("Find your organisation"), validators=[Optional(), Length(max=100), PrintableText()]
    )
    organisation = IntegerField(
        _l("Organisation"),
        validators=[InputRequired(_l("Choose your organisation from the list."))],
    )
    networks = SelectMultipleField(
        _l("Networks to join"),
        coerce=str,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[InputRequired(_l("Choose at least one network."))],
    )
    manager_name = text_field(_l("Your line manager's name"), message=_l("Enter your line manager's name."))
    manager_email = EmailField(
        _l("Your line manager's e-mail address"),
        validators=[
            InputRequired(_l("Enter your line manager's e-mail address.")),
            Length(max=254),
            EmailAddress(),
        ],
    )
    language = written_form_field()
    leadership_informed = BooleanField(_l("The municipal leadership is informed of my participation"))
    password = PasswordField(
        _l("Password"),
        validators=[
            InputRequired(_l("Choose a password.")),
            Length(max=200),
            PrintableText(),
            StrongPassword(),
        ],
    )
    consent = BooleanField(
        _l("I agree that the Directorate of Health processes these details to run the networks"),
        validators=[InputRequired(_l("You must agree before we can register you."))],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.all_networks = db.session.scalars(select(Network).order_by(Network.id)).all()
        self.networks.choices = [SelectChoice(n.code) for n in self.all_networks]
        self._organisation = None

    @property
    def chosen_organisation(self):
        """The organisation picked, if it exists and is active (looked up once).  A number beyond
        any id (the column is a 32-bit integer) is no organisation, not a question to the database."""
        if (
            self._organisation is None
            and isinstance(self.organisation.data, int)
            and 0 < self.organisation.data < 2**31
        ):
            org = db.session.get(Organisation, self.organisation.data)
            self._organisation = org if org is not None and org.active else None
        return self._organisation

    @property
    def offered_networks(self):
        org = self.chosen_organisation
        return [n for n in self.all_networks if org is None or n.accepts(org)]

    @property
    def chosen_networks(self):
        return [n for n in self.all_networks if n.code in (self.networks.data or [])]

    @property
    def asks_leadership(self):
        org = self.chosen_organisation
        return org is None or org.kind in LEADERSHIP_KINDS

    def validate_organisation(self, field):
        if self.chosen_organisation is None:
            raise ValidationError(_l("Choose your organisation from the list."))

    def validate_networks(self, field):
        org = self.chosen_organisation
        refused = [n.code for n in self.chosen_networks if org is not None and not n.accepts(org)]
        if refused:
            raise ValidationError(
                _l(
                    "%(networks)s is not open to %(organisation)s.",
                    networks=", ".join(refused),
                    organisation=org.name,
                )
            )

    def validate_manager_email(self, field):
        if field.data and self.email.data and field.data.lower() == self.email.data.strip().lower():
            raise ValidationError(_l("Give your line manager's address, not your own."))

    def validate_leadership_informed(self, field):
        org = self.chosen_organisation
        if org is not None and org.kind in LEADERSHIP_KINDS and not field.data:
            raise ValidationError(
                _l("Participation from a municipality requires that its leadership is informed.")
            )

    def errors_for(self, name):
        """Validate the whole form and return the errors of one field (inline checks)."""
        self.validate()
        return self[name].errors
