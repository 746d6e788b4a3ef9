"""Requests for advice: coordinators post them and read the answers; members answer in the app."""

from flask import redirect, render_template, url_for
from flask import request as flask_request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from blueprints.advice import bp
from blueprints.advice.forms import AdviceRequestForm, AnswerForm
from blueprints.coordinator.exports import export as export_file
from blueprints.util import carry_out, chosen_networks, coordinated_networks, load
from models import AdviceRequest
from models import advice as advices
from models.policy import allows, require


@bp.get("/")
@login_required
def index():
    """The open requests to my networks; for coordinators, also every request they manage."""
    require("advice.list")
    requests, answered = advices.open_for(current_user)
    managed = advices.managed_by(current_user) if current_user.is_coordinator else []
    return render_template("advice/index.html", requests=requests, answered=answered, managed=managed)


@bp.route("/new", methods=["GET", "POST"])
def new():
    require("advice.post")
    form = AdviceRequestForm(coordinated_networks())
    if form.validate_on_submit() and (
        done := carry_out(
            lambda: advices.post(
                form.title.data,
                form.body.data,
                form.document_url.data,
                chosen_networks(form.networks.data),
                form.deadline_at,
                form.remind_at,
                current_user,
            ),
            lambda posted: _("The request is posted: %(n)s members are asked by e-mail.", n=posted[1]),
            lambda posted: redirect(url_for(".answers", request_id=posted[0].id), code=303),
            on_refusal=form.deadline,
        )
    ):
        return done
    return render_template("advice/new.html", form=form), 422 if form.errors else 200


@bp.route("/<int:request_id>", methods=["GET", "POST"])
@login_required
def show(request_id):
    """The request, and the member's own answer (given or changed until the deadline)."""
    request = load(AdviceRequest, request_id, "advice.read")
    managed = allows(current_user, "advice.answers", request)
    asked = allows(current_user, "advice.answer", request)
    if flask_request.method == "POST":
        require("advice.answer", request)
    mine = advices.answer_of(request, current_user)
    form = AnswerForm(obj=mine)
    if (
        asked
        and form.validate_on_submit()
        and (
            done := carry_out(
                lambda: advices.answer(request, current_user, form.body.data),
                _("Thank you! Your advice is recorded; you can change it until the deadline."),
                url_for(".show", request_id=request.id),
                on_refusal=form.body,
            )
        )
    ):
        return done
    return render_template(
        "advice/show.html", request=request, form=form, mine=mine, asked=asked, managed=managed
    ), 422 if form.errors else 200


@bp.get("/<int:request_id>/answers")
@login_required
def answers(request_id):
    request = load(AdviceRequest, request_id, "advice.answers")
    return render_template(
        "advice/answers.html",
        request=request,
        answers=advices.answers(request),
        asked=advices.count_asked(request),
    )


@bp.get("/<int:request_id>/answers.xlsx", defaults={"fmt": "xlsx"})
@bp.get("/<int:request_id>/answers.csv", defaults={"fmt": "csv"})  # first: url_for's default
@login_required
def export(request_id, fmt):
    request = load(AdviceRequest, request_id, "advice.answers")
    header = [_("Name"), _("E-mail"), _("Organisation"), _("Answered"), _("Changed"), _("Advice")]
    rows = (
        [a.member.name, a.member.email, a.member.organisation.name, a.answered_at, a.updated_at, a.body]
        for a in advices.answers(request)
    )
    return export_file(
        f"innspill-{request.id}", fmt, header, rows, title=_("Advice %(title)s", title=request.title)
    )
