from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from blueprints.auth import bp
from blueprints.auth.forms import ConfirmForm, EmailForm, NewPasswordForm, SignInForm
from blueprints.util import inbox_email, remember_inbox, safe_next, token_error
from extensions import db, limiter
from models import DomainError, Member, normalise_email, tokens
from models import accounts
from models.accounts import member_for_reset, member_for_verification, send_password_reset, send_verification
from models.types import utcnow


def _account_key():
    return "account:" + (normalise_email(request.form.get("email", "")) or "")[:254]


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
@limiter.limit("10 per 15 minutes", key_func=_account_key, methods=["POST"])
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("public.index"))
    form = SignInForm(next=request.args.get("next"))
    unverified = False
    if form.validate_on_submit():
        member = Member.by_email(form.email.data)
        if member is None or member.deleted_at is not None or not member.check_password(form.password.data):
            form.password.errors.append(_("The e-mail address or the password is wrong."))
        elif member.email_verified_at is None:
            # Told only to someone who knows the password.
            unverified = True
            remember_inbox(member.email)
        else:
            login_user(member, remember=form.remember.data)
            member.last_sign_in_at = utcnow()
            db.session.commit()
            return redirect(safe_next(form.next.data, "public.index"), code=303)  # the home: what waits
    status = 422 if form.errors or unverified else 200
    return render_template("auth/sign_in.html", form=form, unverified=unverified), status


@bp.post("/sign-out")
def sign_out():
    ConfirmForm().validate_on_submit()  # CSRF is checked globally; nothing else to validate
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("public.index"), code=303)


@bp.route("/reset-password", methods=["GET", "POST"])
@limiter.limit("5 per 15 minutes", methods=["POST"])
def forgot_password():
    form = EmailForm()
    if form.validate_on_submit():
        member = Member.by_email(form.email.data)
        if member is not None and member.deleted_at is None:
            send_password_reset(member)
            db.session.commit()
        # The same answer either way: the page does not tell who is registered.
        return render_template("auth/check_inbox.html", email=form.email.data, reason="reset")
    return render_template("auth/forgot_password.html", form=form), 422 if form.errors else 200


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@limiter.limit("20 per 15 minutes")
def reset_password(token):
    try:
        member = member_for_reset(token)
    except tokens.TokenError as error:
        return token_error(error, retry=url_for("auth.forgot_password"))
    form = NewPasswordForm(email=member.email)
    if form.validate_on_submit():
        try:
            accounts.reset_password(token, form.password.data)
        except tokens.TokenError as error:  # used meanwhile (another tab, a double click)
            db.session.rollback()
            return token_error(error, retry=url_for("auth.forgot_password"))
        db.session.commit()
        flash(_("Your password is changed. Sign in with the new one."), "success")
        return redirect(url_for("auth.sign_in"), code=303)
    return render_template("auth/reset_password.html", form=form, member=member), 422 if form.errors else 200


@bp.route("/verify/<token>", methods=["GET", "POST"])
@limiter.limit("20 per 15 minutes")
def verify_email(token):
    """GET shows a button; POST confirms (mail scanners follow links, they do not press buttons)."""
    try:
        member = member_for_verification(token)
    except tokens.TokenError as error:
        return token_error(error, retry=url_for("auth.resend_verification"))
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            member = accounts.verify(token)
        except DomainError as error:  # confirmed meanwhile (a double click, another tab)
            db.session.rollback()
            return token_error(error)
        db.session.commit()
        return render_template("auth/verified.html", member=member)
    return render_template("auth/verify.html", form=form, member=member)


@bp.route("/verify", methods=["GET", "POST"])
@limiter.limit("5 per 15 minutes", methods=["POST"])
def resend_verification():
    form = EmailForm(email=inbox_email() or None)
    if form.validate_on_submit():
        member = Member.by_email(form.email.data)
        if member is not None and member.email_verified_at is None and member.deleted_at is None:
            send_verification(member)
            db.session.commit()
        remember_inbox(form.email.data)
        return render_template("auth/check_inbox.html", email=form.email.data, reason="verify")
    return render_template("auth/resend_verification.html", form=form), 422 if form.errors else 200
