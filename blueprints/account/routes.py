import json
from datetime import timedelta

from flask import Response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from sqlalchemy import select

from blueprints.account import bp
from blueprints.account.forms import DeleteForm, EmailChangeForm, LeaveForm, ProfileForm
from blueprints.auth.sessions import freshly_signed_in
from blueprints.forms import ConfirmForm
from blueprints.util import carry_out, form_refused, load, token_error, token_link
from extensions import db, limiter
from models import Meeting, Membership, Signup, accounts, email_change, normalise_email, tokens
from models import review as reviews
from models.main_contact import needing_main_contact
from models.outbox import link
from models.types import utcnow


@bp.get("/")
@login_required
def index():
    flagged = db.session.execute(
        needing_main_contact(
            network_ids=current_user.active_network_ids,
            organisation_ids=[current_user.organisation_id],
        )
    ).all()
    feed = tokens.make("calendar_feed", member=current_user.id, version=current_user.auth_version)
    my_meetings = db.session.scalars(
        select(Meeting)
        .join(Signup, Signup.meeting_id == Meeting.id)
        .where(Signup.member_id == current_user.id, Meeting.ends_at >= utcnow() - timedelta(days=180))
        .order_by(Meeting.starts_at)
    ).all()
    return render_template(
        "account/index.html",
        member=current_user,
        leave_form=LeaveForm(),
        feed_url=link("meetings.calendar_feed", token=feed),
        my_meetings=my_meetings,
        needs_main_contact=[network_id for _org, network_id, _active in flagged],
        restorable=reviews.restorable_by_member(current_user),
    )


@bp.post("/newsletter")
@login_required
def newsletter():
    """Choose each network's newsletter from My page: a checkbox per network, the checked ones come
    (the mail's link stops an issue's networks' without signing in)."""
    wanted = {int(n) for n in request.form.getlist("networks") if n.isdigit() and len(n) <= 10}
    return carry_out(
        lambda: current_user.choose_newsletters(wanted),
        _("Your choice of newsletters is saved. Your memberships are unchanged."),
        url_for("account.index"),
    )


@bp.route("/edit", methods=["GET", "POST"])
@login_required
def edit():
    member = current_user._get_current_object()
    form = ProfileForm(member=member)
    if form.validate_on_submit():
        return carry_out(
            lambda: accounts.update_details(
                member,
                name=form.name.data.strip(),
                phone=(form.phone.data or "").strip() or None,
                job_title=form.job_title.data.strip(),
                unit=form.unit.data.strip(),
                manager_name=form.manager_name.data.strip(),
                manager_email=form.manager_email.data,
                language=form.language.data or None,
            ),
            lambda asked: [
                *(
                    [
                        (
                            _(
                                "We have asked %(name)s to confirm your participation. Until they answer, "
                                "your earlier anchoring stands.",
                                name=member.manager_name,
                            ),
                            "info",
                        )
                    ]
                    if asked is not None
                    else []
                ),
                _("Your details are saved."),
            ],
            url_for("account.index"),
        )
    return render_template("account/edit.html", form=form), 422 if form.errors else 200


@bp.post("/memberships/<int:membership_id>/leave")
@login_required
def leave(membership_id):
    membership = load(Membership, membership_id, "membership.leave")
    form = LeaveForm()
    if not form.validate_on_submit():  # a reason too long, or not printable
        return form_refused(form, url_for("account.index"))
    return carry_out(
        lambda: membership.leave_by_member(form.reason.data or None),
        _("You have left %(network)s.", network=membership.network.code),
        url_for("account.index"),
    )


@bp.post("/anchoring/ask-again")
@login_required
def ask_again():
    """After a decline, ask the (possibly corrected) line manager once more (the rule: ``Member.may_ask_again``)."""
    member = current_user._get_current_object()
    return carry_out(
        lambda: accounts.ask_again(member),
        lambda _result: _("We have asked %(name)s to confirm your participation.", name=member.manager_name),
        url_for("account.index"),
    )


@bp.get("/export.json")
@login_required
def export():
    body = json.dumps(current_user.export(), ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="mine-data.json"', "Cache-Control": "no-store"},
    )


def confirmed_by_sign_in(form):
    """``form`` without its password field when this session began within the last quarter of an
    hour (``sessions.FRESH``): the sign-in just made – by password, link or provider – says who is
    there as well as the password would, and a member who never uses their password can still
    delete the account or change its address."""
    if freshly_signed_in():
        del form.password
    return form


@bp.route("/delete", methods=["GET", "POST"])
@login_required
def delete():
    member = current_user._get_current_object()
    form = confirmed_by_sign_in(DeleteForm())
    if form.validate_on_submit():
        if form.password and not member.check_password(form.password.data):
            form.password.errors.append(_("The password is wrong."))
        else:
            response = carry_out(
                member.erase,
                _(
                    "Your account is deleted. Your personal data is erased; the networks' history is kept without you."
                ),
                url_for("public.index"),
                on_refusal="info",  # deleted meanwhile (a double click, another tab)
            )
            logout_user()
            return response
    return render_template("account/delete.html", form=form), 422 if form.errors else 200


@bp.route("/email", methods=["GET", "POST"])
@login_required
def change_email():
    """A new sign-in address: a link goes to it, and the address changes when it is followed."""
    member = current_user._get_current_object()
    form = confirmed_by_sign_in(EmailChangeForm())
    if form.validate_on_submit():
        if form.password and not member.check_password(form.password.data):
            form.password.errors.append(_("The password is wrong."))
        else:
            done = carry_out(
                lambda: email_change.request_change(member, form.new_email.data),
                (
                    _(
                        "We have sent a link to %(email)s. Your address changes when you follow it; until then, "
                        "sign in with %(old)s.",
                        email=normalise_email(form.new_email.data),
                        old=member.email,
                    ),
                    "info",
                ),
                url_for("account.index"),
                on_refusal=form.new_email,
            )
            if done:
                return done
    return render_template("account/email.html", form=form, member=member), 422 if form.errors else 200


@bp.route("/email/<token>", methods=["GET", "POST"])
@limiter.limit("20 per 15 minutes")
@token_link(email_change.change_for)
def confirm_email(change, token):
    """The link mailed to the new address: GET shows a button, POST changes the address (mail
    scanners follow links, they do not press buttons).  No sign-in needed: the link is the key."""
    form = ConfirmForm()
    if form.validate_on_submit():
        return carry_out(
            lambda: email_change.confirm(token),
            redirect_to=lambda member: render_template("account/email_changed.html", member=member),
            on_refusal=token_error,  # used meanwhile, or the address taken by someone else
        )
    return render_template("account/email_confirm.html", form=form, change=change)
