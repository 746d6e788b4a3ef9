"""Emergencies: the list, opening one, its page, and closing it."""

from flask import redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from blueprints.emergencies import bp
from blueprints.emergencies.forms import EmergencyForm
from blueprints.forms import ConfirmForm
from blueprints.util import carry_out, chosen_networks, coordinated_networks, load
from models import Emergency
from models import emergency as emergencies
from models import package as packages
from models import signal as signals
from models.policy import allows, require


@bp.get("/")
@login_required
def index():
    """The open emergencies of my networks (and, for coordinators, every one of theirs, open or closed)."""
    require("emergency.list")
    managed = (
        emergencies.of_networks(current_user.coordinated_network_ids) if current_user.is_coordinator else []
    )
    return render_template(
        "emergencies/index.html", current=emergencies.open_for(current_user), managed=managed
    )


@bp.route("/new", methods=["GET", "POST"])
def new():
    require("emergency.open")
    form = EmergencyForm(coordinated_networks())
    if form.validate_on_submit() and (
        done := carry_out(
            lambda: emergencies.open_emergency(
                chosen_networks(form.networks.data),
                form.title.data,
                form.description.data,
                by=current_user,
                observers_may_post=form.observers_may_post.data,
            ),
            _("The emergency is open: members can now report what they hear."),
            lambda emergency: redirect(url_for(".show", emergency_id=emergency.id), code=303),
            on_refusal=form.title,
        )
    ):
        return done
    return render_template("emergencies/new.html", form=form), 422 if form.errors else 200


@bp.get("/<int:emergency_id>")
@login_required
def show(emergency_id):
    """The emergency: what it is, how to report, its packages, and (for coordinators) the way to the board."""
    emergency = load(Emergency, emergency_id, "emergency.read")
    return render_template(
        "emergencies/show.html",
        emergency=emergency,
        manages=allows(current_user, "emergency.manage", emergency),
        situation=allows(current_user, "situation.report", emergency),  # the link to the report
        board=allows(current_user, "board.read", emergency),  # the link to the situation board
        # The report button, and the member's own signals here.
        reports=emergency.may_report and allows(current_user, "signal.report", emergency),
        my_signals=signals.reported_by(emergency, current_user),
        packages=packages.of_emergency(emergency, current_user),
        may_post_package=allows(current_user, "package.post", emergency)
        and packages.may_post(emergency, current_user),
        call_ins=emergencies.call_ins(emergency),
        form=ConfirmForm(),
    )


@bp.post("/<int:emergency_id>/close")
def close(emergency_id):
    emergency = load(Emergency, emergency_id, "emergency.manage")
    return carry_out(
        lambda: emergencies.close(emergency, by=current_user),
        _("The emergency is closed. Its signals, packages and reports are kept for the evaluation."),
        url_for(".show", emergency_id=emergency.id),
    )
