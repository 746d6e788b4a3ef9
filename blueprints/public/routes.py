from flask import current_app, redirect, render_template, session
from flask_login import current_user
from sqlalchemy import func, select

from blueprints.public import bp
from blueprints.public.forms import LanguageForm
from blueprints.util import network_or_404
from extensions import db
from models import Meeting, MeetingKind, MeetingStatus, Network, Organisation, home
from models.meeting import OSLO
from models.review import PURPOSES, current_mandate
from models.types import utcnow


@bp.get("/")
def index():
    networks = db.session.scalars(select(Network).order_by(Network.id)).all()
    if current_user.is_authenticated:  # the home: what waits for me
        return render_template(
            "public/home.html",
            networks=networks,
            mine=home.member_home(current_user) if current_user.memberships else None,
            work=home.coordinator_home(current_user) if current_user.is_coordinator else None,
        )
    counts = dict(
        db.session.execute(
            select(Organisation.kind, func.count()).where(Organisation.active).group_by(Organisation.kind)
        ).all()
    )
    return render_template("public/index.html", networks=networks, organisation_counts=counts)


@bp.get("/networks/<code>")
def network(code):
    """A network's public page: its mandate and purposes, how to join, the year's meetings (no personal data)."""
    network = network_or_404(code)
    year = utcnow().astimezone(OSLO).year
    meetings = db.session.scalars(
        select(Meeting)
        .where(
            Meeting.networks.any(Network.id == network.id),
            Meeting.year == year,
            Meeting.status != MeetingStatus.CANCELLED,
            Meeting.kind != MeetingKind.EMERGENCY,
        )
        .order_by(Meeting.starts_at)
    ).all()
    return render_template(
        "public/network.html",
        network=network,
        mandate=current_mandate(network),
        purposes=PURPOSES,
        meetings=meetings,
        year=year,
    )


@bp.post("/language")
def set_language():
    """Remember the reader's language choice (a state change: POST with CSRF)."""
    form = LanguageForm()
    if form.validate_on_submit():
        session["locale"] = form.locale.data
        if current_user.is_authenticated:  # remembered for their next visit, and their mail's form
            current_user.set_language(form.locale.data)
            db.session.commit()
    return redirect(form.next_url, code=303)


@bp.get("/privacy")
def privacy():
    """The privacy statement (*personvernerklæring*): purpose, legal basis, retention, rights, contact."""
    return render_template(
        "public/privacy.html",
        retention_days=current_app.config["PRIVACY_RETENTION_DAYS"],
        mail_days=current_app.config["MAIL_BODY_RETENTION_DAYS"],
        contact=current_app.config["PRIVACY_CONTACT"],
    )


@bp.get("/accessibility")
def accessibility():
    """The accessibility statement (*tilgjengelighetserklæring*)."""
    return render_template("public/accessibility.html", contact=current_app.config["PRIVACY_CONTACT"])
