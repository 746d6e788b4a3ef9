"""Members' signals: what they hear in their communities, reported to the listening post while an
emergency is open (``models.signal.report``), and one's own signal with the coordinators' replies."""

from flask import render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from blueprints.emergencies import bp
from blueprints.emergencies.forms import SignalForm
from blueprints.util import carry_out, load
from extensions import db
from models import Emergency, Organisation, Signal
from models import emergency as emergencies
from models import signal as signals
from models.organisation import OrganisationKind
from models.personal_data import PersonalData

COMMON = 15  # the language groups shown at once (by rank); the others are behind "Other languages"


@bp.route("/<int:emergency_id>/signals/new", methods=["GET", "POST"])
@login_required
def report_signal(emergency_id):
    """The form a member fills on a phone: what, which language groups, where, how urgent, a short
    text.  A closed emergency: the page says so and has no form."""
    emergency = load(Emergency, emergency_id, "signal.report")
    languages = emergencies.languages()
    municipalities = signals.municipalities()
    own = current_user.organisation
    prefilled = str(own.id) if own.kind == OrganisationKind.MUNICIPALITY and own.active else ""
    form = SignalForm(languages, municipalities, data={"municipality": prefilled})
    refusal = None

    def refused(error):
        nonlocal refusal
        field = "text" if isinstance(error, PersonalData) else getattr(error, "field", None)
        if field is not None:
            getattr(form, field).errors.append(error.message)
        else:  # the emergency closed meanwhile: the page now says so
            refusal = error.message
            db.session.refresh(emergency)
        return None

    if (
        emergency.may_report
        and form.validate_on_submit()
        and (
            done := carry_out(
                lambda: signals.report(
                    emergency,
                    current_user,
                    form.kind.data,
                    form.urgency.data,
                    form.text.data,
                    form.languages.data or [],
                    db.session.get(Organisation, int(form.municipality.data))
                    if form.municipality.data
                    else None,
                ),
                _("Thank you! Your signal has reached the coordinators."),
                url_for(".show", emergency_id=emergency.id),
                on_refusal=refused,
            )
        )
    ):
        return done
    refused_post = bool(form.errors or refusal) or (form.is_submitted() and not emergency.may_report)
    common = {
        language.code for language in languages if language.rank is not None and language.rank <= COMMON
    }
    return render_template(
        "emergencies/signal_new.html",
        emergency=emergency,
        form=form,
        common=common,
        refusal=refusal,
    ), 422 if refused_post else 200


@bp.get("/signals/<int:signal_id>")
@login_required
def own_signal(signal_id):
    """One's own signal: what was sent, how the coordinators have marked it, and their replies."""
    signal = load(Signal, signal_id, "signal.own")
    return render_template("emergencies/signal.html", signal=signal, replies=signals.replies_to(signal))
