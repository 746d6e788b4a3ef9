"""Propose, support, accept and decline topics: load → authorise → the operation → commit → answer."""

from flask import flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from blueprints.forms import TopicDecisionForm, TopicForm
from blueprints.topics import bp
from blueprints.util import carry_out, form_refused, load, network_or_404
from extensions import db
from models import Meeting
from models import meeting as meetings
from models import topic as topics


def plan_of(network):
    return url_for("meetings.year_plan", code=network.code) + "#topics"


def back_to_plan(network):
    return redirect(plan_of(network), code=303)


@bp.post("/plan/<code>/topics")
@login_required
def propose(code):
    network = network_or_404(code, "topic.propose")
    form = TopicForm()
    if not form.validate_on_submit():
        return form_refused(form, plan_of(network))
    return carry_out(
        lambda: topics.propose(
            network,
            current_user._get_current_object(),
            form.title.data,
            form.meeting_kind.data,
            form.description.data,
        ),
        _("Thank you for the proposal."),
        plan_of(network),
    )


@bp.post("/topics/<int:proposal_id>/support")
@login_required
def support(proposal_id):
    proposal = load(topics.TopicProposal, proposal_id, "topic.support")
    return carry_out(lambda: topics.support(proposal, current_user), None, plan_of(proposal.network))


@bp.post("/topics/<int:proposal_id>/<any(accept, decline):decision>")
@login_required
def decide(proposal_id, decision):
    proposal = load(topics.TopicProposal, proposal_id, "topic.decide")
    form = TopicDecisionForm()
    # Any meeting of the network may be named here; whether it takes topics is the model's rule.
    form.meeting.choices = [
        SelectChoice(str(meeting_id))
        for meeting_id in db.session.scalars(
            select(Meeting.id)
            .join(meetings.meeting_networks)
            .where(meetings.meeting_networks.c.network_id == proposal.network_id)
        )
    ]
    if decision == "accept" and not form.meeting.data:
        flash(_("Choose the meeting to take the topic into."), "error")
        return back_to_plan(proposal.network)
    if not form.validate_on_submit():
        return form_refused(form, plan_of(proposal.network))
    return carry_out(
        lambda: (
            proposal.accept_into(db.session.get(Meeting, int(form.meeting.data)), by=current_user)
            if decision == "accept"
            else proposal.decline(form.reason.data, by=current_user)
        ),
        _("The topic is on the meeting's agenda; the proposer and its supporters are told.")
        if decision == "accept"
        else _("The proposal is decided; the proposer is told."),
        plan_of(proposal.network),
    )
