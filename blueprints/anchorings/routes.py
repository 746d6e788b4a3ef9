from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from blueprints.anchorings import bp
from blueprints.anchorings.forms import DecisionForm, RecordForm
from blueprints.util import carry_out, load, token_error, token_link
from extensions import db, limiter
from models import Anchoring, Member, Membership
from models.accounts import anchoring_for, decide_anchoring, record_anchoring
from models.policy import require


@bp.route("/<token>", methods=["GET", "POST"])
@limiter.limit("30 per 15 minutes")
@token_link(anchoring_for)
def decide(anchoring, token):
    member = anchoring.member
    form = DecisionForm(name=anchoring.manager_name)
    if form.validate_on_submit():
        return carry_out(
            lambda: decide_anchoring(
                anchoring, form.decision.data == "confirm", form.name.data.strip(), form.comment.data
            ),
            redirect_to=lambda _result: render_template(
                "anchorings/decided.html", anchoring=anchoring, member=member
            ),
            on_refusal=token_error,  # answered meanwhile: another click, the other tab
        )
    networks = [m.network for m in member.memberships if m.status in ("pending_anchoring", "active")]
    return render_template(
        "anchorings/decide.html", form=form, anchoring=anchoring, member=member, networks=networks
    ), 422 if form.errors else 200


def pending_for(coordinator):
    """Pending anchorings of members in the networks ``coordinator`` coordinates."""
    return db.session.scalars(
        Anchoring.pending_in(coordinator.coordinated_network_ids).options(
            selectinload(Anchoring.member).selectinload(Member.organisation),
            selectinload(Anchoring.member).selectinload(Member.memberships).selectinload(Membership.network),
        )
    ).all()


@bp.get("/pending")
def pending():
    require("anchoring.list")
    return render_template("anchorings/pending.html", anchorings=pending_for(current_user), form=RecordForm())


@bp.post("/<int:anchoring_id>/record")
def record(anchoring_id):
    anchoring = load(Anchoring, anchoring_id, "anchoring.record")
    if not anchoring.is_pending:
        abort(409)
    form = RecordForm()

    def refused(error):
        if anchoring.is_pending:
            form.reason.errors.append(error.message)
            return None
        # answered meanwhile (the manager, another coordinator)
        flash(error.message, "info")
        return redirect(url_for("anchorings.pending"), code=303)

    if form.validate_on_submit() and (
        done := carry_out(
            lambda: record_anchoring(anchoring, current_user, form.reason.data.strip()),
            _("The anchoring of %(name)s is recorded.", name=anchoring.member.name),
            url_for("anchorings.pending"),
            on_refusal=refused,
        )
    ):
        return done
    return render_template(
        "anchorings/pending.html", anchorings=pending_for(current_user), form=form, failed=anchoring.id
    ), 422
