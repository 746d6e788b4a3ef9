"""The newsletter: members send input; coordinators handle the queue, compose, preview, test and
send issues; members read the archive; anyone with the link in a mail can unsubscribe."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from blueprints.forms import ConfirmForm
from blueprints.newsletters import bp
from blueprints.newsletters.forms import DeclineForm, IncludeForm, InputForm, NewsletterForm, SubmitInputForm
from blueprints.util import (
    carry_out,
    chosen_networks,
    coordinated_networks,
    form_refused,
    load,
    token_link,
    wants_fragment,
)
from extensions import csrf, db, limiter
from models import Member, Network, NewsInput, Newsletter, tokens
from models import newsletter as newsletters
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
        return carry_out(
            lambda: newsletters.submit(
                current_user, network, form.title.data, form.body.data, form.link.data
            ),
            _("Thank you! Your input is with the coordinator."),
            url_for(".submit_input"),
            on_refusal=lambda _error: abort(403),  # no longer active, since the page was drawn
        )
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
    newsletter = load(
        Newsletter, newsletter_id, lambda n: "newsletter.read" if n.sent_at else "newsletter.preview"
    )
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
    item = load(NewsInput, input_id, "news_input.handle")
    back = url_for(".edit", newsletter_id=item.newsletter_id) if item.newsletter_id else url_for(".queue")
    if not item.may_edit:
        flash(_("This input has been handled and can no longer change."), "info")
        return redirect(back, code=303)
    form = InputForm(obj=item)
    if form.validate_on_submit():
        return carry_out(
            lambda: newsletters.edit_input(item, form.title.data, form.body.data, form.link.data),
            _("The input is saved."),
            back,
        )
    return render_template("newsletters/edit_input.html", form=form, item=item), 422 if form.errors else 200


@bp.post("/input/<int:input_id>/include")
@login_required
def include(input_id):
    item = load(NewsInput, input_id, "news_input.handle")
    drafts = newsletters.drafts_for(current_user)
    form = IncludeForm(drafts)
    if not form.validate_on_submit():
        return form_refused(form, url_for(".queue"), _("Choose an issue."))
    newsletter = next(n for n in drafts if n.id == form.newsletter.data)
    return carry_out(
        lambda: newsletters.include(item, newsletter, current_user),
        _("«%(title)s» is included in «%(issue)s».", title=item.title, issue=newsletter.title),
        url_for(".queue"),
    )


@bp.post("/input/<int:input_id>/decline")
@login_required
def decline(input_id):
    item = load(NewsInput, input_id, "news_input.handle")
    form = DeclineForm()
    if not form.validate_on_submit():
        return form_refused(form, url_for(".queue"))
    return carry_out(
        lambda: newsletters.decline(item, form.note.data, current_user),
        _("«%(title)s» is declined; the member sees your note.", title=item.title),
        url_for(".queue"),
    )


@bp.post("/input/<int:input_id>/withdraw")
@login_required
def withdraw(input_id):
    item = load(NewsInput, input_id, "news_input.handle")
    return carry_out(
        lambda: newsletters.withdraw(item),
        _("«%(title)s» is back in the queue.", title=item.title),
        url_for(".edit", newsletter_id=item.newsletter_id) if item.newsletter_id else url_for(".queue"),
    )


# -- coordinators: issues -----------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
def new():
    require("newsletter.compose")
    form = NewsletterForm(coordinated_networks())
    if form.validate_on_submit():
        return carry_out(
            lambda: newsletters.create(
                form.title.data,
                form.body.data or "",
                chosen_networks(form.networks.data),
                current_user,
                **form.written_forms,
            ),
            _("The issue is saved as a draft."),
            lambda newsletter: redirect(
                url_for(
                    ".show" if request.form.get("then") == "preview" else ".edit", newsletter_id=newsletter.id
                ),
                code=303,
            ),
        )
    return render_template("newsletters/edit.html", form=form, newsletter=None), 422 if form.errors else 200


@bp.route("/<int:newsletter_id>/edit", methods=["GET", "POST"])
@login_required
def edit(newsletter_id):
    newsletter = load(Newsletter, newsletter_id, "newsletter.edit")
    if not newsletter.may_change:
        return redirect(url_for(".show", newsletter_id=newsletter.id), code=303)
    form = NewsletterForm(coordinated_networks(), obj=newsletter)
    if request.method == "GET":
        form.networks.data = [n.code for n in newsletter.networks]
    if form.validate_on_submit():
        then = ".show" if request.form.get("then") == "preview" else ".edit"

        def refused(error):  # sent meanwhile
            flash(error.message, "error")
            return redirect(url_for(".show", newsletter_id=newsletter_id), code=303)

        return carry_out(
            lambda: newsletters.update_draft(
                newsletter,
                form.title.data,
                form.body.data or "",
                chosen_networks(form.networks.data),
                **form.written_forms,
            ),
            _("The draft is saved."),
            url_for(then, newsletter_id=newsletter_id),
            on_refusal=refused,
        )
    return render_template(
        "newsletters/edit.html", form=form, newsletter=newsletter, confirm=ConfirmForm()
    ), 422 if form.errors else 200


@bp.post("/<int:newsletter_id>/test")
@login_required
def send_test(newsletter_id):
    newsletter = load(Newsletter, newsletter_id, "newsletter.send_test")
    return carry_out(
        lambda: newsletters.send_test(newsletter, current_user),
        _("A test is on its way to %(email)s.", email=current_user.email),
        url_for(".show", newsletter_id=newsletter_id),
    )


@bp.post("/<int:newsletter_id>/send")
@login_required
def send(newsletter_id):
    newsletter = load(Newsletter, newsletter_id, "newsletter.send")
    return carry_out(
        lambda: newsletters.send(newsletter, current_user),
        lambda count: _("The issue is being sent to %(n)s members.", n=count),
        url_for(".show", newsletter_id=newsletter_id),
        on_refusal="info",  # sent already (pressed twice, two tabs): said as such
    )


# -- anyone with the link: unsubscribing ---------------------------------------------------------


def subscriber(token):
    """The member an unsubscribe link is for (one who has not deleted their account), and the
    networks it names (an issue's; None in a link mailed before the letter was chosen per network)."""
    payload = tokens.read("unsubscribe", token)
    member = db.session.get(Member, payload.get("member"))
    if member is None or member.deleted_at is not None:
        raise tokens.TokenError(_("This link is not valid. Check that you copied all of it."))
    network_ids = payload.get("networks")
    return member, (None if network_ids is None else [int(n) for n in network_ids])


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@limiter.limit("30 per 15 minutes")
@token_link(subscriber)
def unsubscribe(found, token):
    """GET asks (mail scanners follow links); POST stops the newsletter of the link's networks
    (or, with scope=all, of every network), or starts it again."""
    member, network_ids = found
    form = ConfirmForm()
    if form.validate_on_submit():
        subscribe = request.form.get("subscribe") == "yes"
        scope = None if request.form.get("scope") == "all" else network_ids
        networks = newsletters.subscription_networks(member, scope)
        if newsletters.set_subscribed(member, subscribe, [n.id for n in networks]):
            db.session.commit()
        codes = ", ".join(n.code for n in networks)
        flash(
            _("You will get the newsletter of %(networks)s again.", networks=codes)
            if subscribe
            else _(
                "You will no longer get the newsletter of %(networks)s. Your membership is unchanged.",
                networks=codes,
            ),
            "success",
        )
        return redirect(url_for(".unsubscribe", token=token), code=303)
    return render_template(
        "newsletters/unsubscribe.html",
        member=member,
        form=form,
        networks=newsletters.subscription_networks(member, network_ids),
    )


@bp.route("/unsubscribe/<token>/one-click", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: a mail program POSTs "List-Unsubscribe=One-Click"; the signed token is the key
@limiter.limit("30 per 15 minutes")
@token_link(subscriber)
def one_click(found, token):
    """The address in the mail's List-Unsubscribe header: a POST (a mail program's own button)
    stops the newsletter of the link's networks at once, with no sign-in and no form – the same
    outcome however often; a GET (a program that opens it in a browser) shows the page that asks."""
    member, network_ids = found
    if request.method == "GET":
        return render_template(
            "newsletters/unsubscribe.html",
            member=member,
            form=ConfirmForm(),
            networks=newsletters.subscription_networks(member, network_ids),
        )
    networks = newsletters.subscription_networks(member, network_ids)
    if newsletters.set_subscribed(member, False, [n.id for n in networks]):
        db.session.commit()
    return render_template(
        "newsletters/unsubscribe.html",
        member=member,
        form=None,
        networks=networks,
        done=_(
            "You will no longer get the newsletter of %(networks)s. Your membership is unchanged.",
            networks=", ".join(n.code for n in networks),
        ),
    )
