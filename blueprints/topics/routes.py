"""Propose, support, accept and decline topics: load → authorise → the operation → commit → answer."""

from flask import flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from blueprints.auth.forms import ConfirmForm
from blueprints.topics import bp
from blueprints.topics.forms import TopicDecisionForm, TopicForm
from blueprints.util import network_or_404
from extensions import db
from models import DomainError, Meeting
from models import meeting as meetings
from models import topic as topics
from models.policy import require


def back_to_plan(network):
    return redirect(url_for("meetings.year_plan", code=network.code) + "#topics", code=303)


def form_errors(form):
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def refused(error):
    db.session.rollback()
    flash(error.message, "error")


@bp.post("/plan/<code>/topics")
@login_required
def propose(code):
    network = require("topic.propose", network_or_404(code))
    form = TopicForm()
    if not form.validate_on_submit():
        flash(form_errors(form), "error")
        return back_to_plan(network)
    try:
        topics.propose(
            network,
            current_user._get_current_object(),
            form.title.data,
            form.meeting_kind.data,
            form.description.data,
        )
    except DomainError as error:
        refused(error)
    else:
        db.session.commit()
        flash(_("Thank you for the proposal."), "success")
    return back_to_plan(network)


@bp.post("/topics/<int:proposal_id>/support")
@login_required
def support(proposal_id):
    proposal = require("topic.support", db.get_or_404(topics.TopicProposal, proposal_id))
    ConfirmForm().validate_on_submit()
    try:
        topics.support(proposal, current_user)
    except DomainError as error:
        refused(error)
    else:
        db.session.commit()
    return back_to_plan(proposal.network)


@bp.post("/topics/<int:proposal_id>/<any(accept, decline):decision>")
@login_required
def decide(proposal_id, decision):
    proposal = require("topic.decide", db.get_or_404(topics.TopicProposal, proposal_id))
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
        flash(form_errors(form), "error")
        return back_to_plan(proposal.network)
    try:
        if decision == "accept":
            proposal.accept_into(db.session.get(Meeting, int(form.meeting.data)), by=current_user)
        else:
            proposal.decline(form.reason.data, by=current_user)
    except DomainError as error:
        refused(error)
    else:
        db.session.commit()
        flash(_("The proposal is decided; the proposer is told."), "success")
    return back_to_plan(proposal.network)
