from flask import redirect, render_template, session
from sqlalchemy import func, select

from blueprints.public import bp
from blueprints.public.forms import LanguageForm
from extensions import db
from models import Network, Organisation


@bp.get("/")
def index():
    networks = db.session.scalars(select(Network).order_by(Network.id)).all()
    counts = dict(
        db.session.execute(
            select(Organisation.kind, func.count()).where(Organisation.active).group_by(Organisation.kind)
        ).all()
    )
    return render_template("public/index.html", networks=networks, organisation_counts=counts)


@bp.post("/language")
def set_language():
    """Remember the reader's language choice (a state change: POST with CSRF)."""
    form = LanguageForm()
    if form.validate_on_submit():
        session["locale"] = form.locale.data
    return redirect(form.next_url, code=303)
