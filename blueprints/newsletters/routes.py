"""The newsletter: members send input; coordinators handle the queue, compose, preview, test and
send issues; members read the archive; anyone with the link in a mail can unsubscribe."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from blueprints.auth.forms import ConfirmForm
from blueprints.newsletters import bp
from blueprints.newsletters.forms import DeclineForm, IncludeForm, InputForm, NewsletterForm, SubmitInputForm
from blueprints.util import chosen_networks, coordinated_networks, token_error, wants_fragment
from extensions import db, limiter
from models import Member, Network, NewsInput, Newsletter, tokens
from models import newsletter as newsletters
from models.errors import DomainError
from models.outbox import progress
from models.policy import allows, require


def all_networks():
    return db.session.scalars(select(Network).order_by(Network.id)).all()


# -- members: input and the archive ------------------------------------------------------------


@bp.route("/input", methods=["GET", "POST"])
@login_required
def submit_input():
    """Send input to a newsletter, and see what happened to earlier input."""
    networks = all_networks()
    form = SubmitInputForm(networks)
    require("news_input.mine")
    allowed = allows(current_user, "news_input.submit")
    if request.method == "POST":
        require("news_input.submit")
    if form.validate_on_submit():
        network = next((n for n in networks if n.code == form.network.data), None)
        try:
            newsletters.submit(current_user, network, form.title.data, form.body.data, form.link.data)
        except DomainError:  # no longer active, since the page was drawn
            db.session.rollback()
            abort(403)
        db.session.commit()
        flash(_("Thank you! Your input is with the coordinator."), "success")
        return redirect(url_for(".submit_input"), code=303)
    return render_template(
        "newsletters/input.html", form=form, allowed=allowed, items=newsletters.input_of(current_user)
    ), 422 if form.errors else 200


@bp.get("/")
@login_required
def archive():
    require("newsletter.archive")
    drafts = newsletters.drafts_for(current_user) if current_user.is_coordinator else []
    return render_template(
        "newsletters/archive.html", issues=newsletters.archive_for(current_user), drafts=drafts
    )


@bp.get("/<int:newsletter_id>")
@login_required
def show(newsletter_id):
    """A sent issue as members read it; a draft as its preview, for the coordinator."""
    newsletter = db.get_or_404(Newsletter, newsletter_id)
    require("newsletter.read" if newsletter.sent_at else "newsletter.preview", newsletter)
    managed = allows(current_user, "newsletter.edit", newsletter)
    counts = progress(newsletter.batch) if managed and newsletter.sent_at else None
    if counts is not None and wants_fragment("progress"):  # polled while the outbox drains
        return render_block("newsletters/show.html", "progress", newsletter=newsletter, counts=counts)
    return render_template(
        "newsletters/show.html",
        newsletter=newsletter,
        inputs=newsletter.inputs,
        managed=managed,
        counts=counts,
        recipients=newsletters.count_recipients(newsletter) if managed and not newsletter.sent_at else None,
        confirm=ConfirmForm(),
    )


# -- coordinators: the queue --------------------------------------------------------------------


@bp.get("/queue")
def queue():
    require("newsletter.queue")
    drafts = newsletters.drafts_for(current_user)
    return render_template(
        "newsletters/queue.html",
        items=newsletters.queue_for(current_user),
        drafts=drafts,
        include_form=IncludeForm(drafts, formdata=None),
        decline_form=DeclineForm(formdata=None),
    )


@bp.route("/input/<int:input_id>/edit", methods=["GET", "POST"])
@login_required
def edit_input(input_id):
    item = require("news_input.handle", db.get_or_404(NewsInput, input_id))
    back = url_for(".edit", newsletter_id=item.newsletter_id) if item.newsletter_id else url_for(".queue")
    if not item.may_edit:
        flash(_("This input has been handled and can no longer change."), "info")
        return redirect(back, code=303)
    form = InputForm(obj=item)
    if form.validate_on_submit():
        try:
            newsletters.edit_input(item, form.title.data, form.body.data, form.link.data)
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            db.session.commit()
            flash(_("The input is saved."), "success")
        return redirect(back, code=303)
    return render_template("newsletters/edit_input.html", form=form, item=item), 422 if form.errors else 200


@bp.post("/input/<int:input_id>/include")
@login_required
def include(input_id):
    item = require("news_input.handle", db.get_or_404(NewsInput, input_id))
    drafts = newsletters.drafts_for(current_user)
    form = IncludeForm(drafts)
    if not form.validate_on_submit():
        flash(" ".join(str(e) for e in form.newsletter.errors) or _("Choose an issue."), "error")
        return redirect(url_for(".queue"), code=303)
    newsletter = next(n for n in drafts if n.id == form.newsletter.data)
    try:
        newsletters.include(item, newsletter, current_user)
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(
            _("«%(title)s» is included in «%(issue)s».", title=item.title, issue=newsletter.title), "success"
        )
    return redirect(url_for(".queue"), code=303)


@bp.post("/input/<int:input_id>/decline")
@login_required
def decline(input_id):
    item = require("news_input.handle", db.get_or_404(NewsInput, input_id))
    form = DeclineForm()
    if not form.validate_on_submit():
        flash(" ".join(str(e) for e in form.note.errors), "error")
        return redirect(url_for(".queue"), code=303)
    try:
        newsletters.decline(item, form.note.data, current_user)
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(_("«%(title)s» is declined; the member sees your note.", title=item.title), "success")
    return redirect(url_for(".queue"), code=303)


@bp.post("/input/<int:input_id>/withdraw")
@login_required
def withdraw(input_id):
    item = require("news_input.handle", db.get_or_404(NewsInput, input_id))
    newsletter_id = item.newsletter_id
    if ConfirmForm().validate_on_submit():
        try:
            newsletters.withdraw(item)
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            db.session.commit()
            flash(_("«%(title)s» is back in the queue.", title=item.title), "success")
    if newsletter_id:
        return redirect(url_for(".edit", newsletter_id=newsletter_id), code=303)
    return redirect(url_for(".queue"), code=303)


# -- coordinators: issues -----------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
def new():
    require("newsletter.compose")
    form = NewsletterForm(coordinated_networks())
    if form.validate_on_submit():
        newsletter = newsletters.create(
            form.title.data, form.body.data or "", chosen_networks(form.networks.data), current_user
        )
        db.session.commit()
        flash(_("The issue is saved as a draft."), "success")
        return redirect(url_for(".edit", newsletter_id=newsletter.id), code=303)
    return render_template("newsletters/edit.html", form=form, newsletter=None), 422 if form.errors else 200


@bp.route("/<int:newsletter_id>/edit", methods=["GET", "POST"])
@login_required
def edit(newsletter_id):
    newsletter = require("newsletter.edit", db.get_or_404(Newsletter, newsletter_id))
    if not newsletter.may_change:
        return redirect(url_for(".show", newsletter_id=newsletter.id), code=303)
    form = NewsletterForm(coordinated_networks(), obj=newsletter)
    if request.method == "GET":
        form.networks.data = [n.code for n in newsletter.networks]
    if form.validate_on_submit():
        try:
            newsletters.update_draft(
                newsletter, form.title.data, form.body.data or "", chosen_networks(form.networks.data)
            )
        except DomainError as error:  # sent meanwhile
            db.session.rollback()
            flash(str(error), "error")
            return redirect(url_for(".show", newsletter_id=newsletter_id), code=303)
        db.session.commit()
        flash(_("The draft is saved."), "success")
        if request.form.get("then") == "preview":
            return redirect(url_for(".show", newsletter_id=newsletter.id), code=303)
        return redirect(url_for(".edit", newsletter_id=newsletter.id), code=303)
    return render_template(
        "newsletters/edit.html", form=form, newsletter=newsletter, confirm=ConfirmForm()
    ), 422 if form.errors else 200


@bp.post("/<int:newsletter_id>/test")
@login_required
def send_test(newsletter_id):
    newsletter = require("newsletter.send_test", db.get_or_404(Newsletter, newsletter_id))
    email = current_user.email
    if ConfirmForm().validate_on_submit():
        try:
            newsletters.send_test(newsletter, current_user)
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            db.session.commit()
            flash(_("A test is on its way to %(email)s.", email=email), "success")
    return redirect(url_for(".show", newsletter_id=newsletter_id), code=303)


@bp.post("/<int:newsletter_id>/send")
@login_required
def send(newsletter_id):
    newsletter = require("newsletter.send", db.get_or_404(Newsletter, newsletter_id))
    if ConfirmForm().validate_on_submit():
        try:
            count = newsletters.send(newsletter, current_user)
        except DomainError as error:  # sent already (pressed twice, two tabs): said as such
            db.session.rollback()
            flash(str(error), "info")
        else:
            db.session.commit()
            flash(_("The issue is being sent to %(n)s members.", n=count), "success")
    return redirect(url_for(".show", newsletter_id=newsletter_id), code=303)


# -- anyone with the link: unsubscribing ---------------------------------------------------------


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@limiter.limit("30 per 15 minutes")
def unsubscribe(token):
    """GET asks (mail scanners follow links), POST stops the newsletter, or starts it again."""
    try:
        member = db.session.get(Member, tokens.read("unsubscribe", token).get("member"))
        if member is None or member.deleted_at is not None:
            raise tokens.TokenError(_("This link is not valid. Check that you copied all of it."))
    except tokens.TokenError as error:
        return token_error(error)
    form = ConfirmForm()
    if form.validate_on_submit():
        subscribe = request.form.get("subscribe") == "yes"
        if newsletters.set_subscribed(member, subscribe):
            db.session.commit()
        flash(
            _("You will get the newsletter again.")
            if subscribe
            else _("You will no longer get the newsletter. Your membership is unchanged."),
            "success",
        )
        return redirect(url_for(".unsubscribe", token=token), code=303)
    return render_template("newsletters/unsubscribe.html", member=member, form=form)
