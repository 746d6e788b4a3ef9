from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from blueprints.auth import bp, limits
from blueprints.auth.forms import EmailForm, NewPasswordForm, SignInForm
from blueprints.auth.sessions import start_session
from blueprints.forms import ConfirmForm
from blueprints.util import carry_out, inbox_email, remember_inbox, safe_next, token_error, token_link
from extensions import db, limiter
from models import Member, accounts, normalise_email
from models.accounts import (
    member_for_reset,
    member_for_verification,
    member_for_welcome,
    send_password_reset,
    send_verification,
)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """Failures only are counted, per client, per account and client, and per account
    (``limits``); when a budget is spent the password is not checked at all."""
    if current_user.is_authenticated:
        return redirect(url_for("public.index"))
    form = SignInForm(next=request.args.get("next"))
    unverified = limited = False
    if form.validate_on_submit():
        email = normalise_email(form.email.data)
        if not limits.sign_in_allowed(email):
            limited = True
            form.password.errors.append(
                _(
                    "Too many attempts with a wrong password. Wait a quarter of an hour, or "
                    "use “Forgot your password?” below: the link we mail you signs you in."
                )
            )
        elif (member := accounts.authenticate(email, form.password.data)) is None:
            limits.sign_in_failed(email)
            form.password.errors.append(_("The e-mail address or the password is wrong."))
        elif member.email_verified_at is None:
            # Told only to someone who knows the password.
            unverified = True
            remember_inbox(member.email)
        else:
            start_session(member, method="password", remember=form.remember.data)
            db.session.commit()
            return redirect(safe_next(form.next.data, "public.index"), code=303)  # the home: what waits
    status = 429 if limited else 422 if form.errors or unverified else 200
    return render_template("auth/sign_in.html", form=form, unverified=unverified), status


@bp.post("/sign-out")
def sign_out():
    """Signing out ends every session of the account, on every device (``accounts.sign_out``)."""
    # The CSRF token is checked before any view runs (``CSRFProtect``): nothing else to validate.
    if current_user.is_authenticated:
        accounts.sign_out(current_user._get_current_object())
        db.session.commit()
    logout_user()  # also deletes the "keep me signed in" cookie from this browser
    flash(_("You are signed out."), "info")
    return redirect(url_for("public.index"), code=303)


@bp.route("/reset-password", methods=["GET", "POST"])
@limiter.limit("5 per 15 minutes", methods=["POST"])
def forgot_password():
    form = EmailForm()
    if form.validate_on_submit():
        member = Member.by_email(form.email.data)
        if (
            member is not None
            and member.deleted_at is None
            and limits.may_mail_address("reset", member.email)
        ):
            send_password_reset(member)
            db.session.commit()
        # The same answer either way (and past the address's mail budget): the page does not
        # tell who is registered.
        return render_template("auth/check_inbox.html", email=form.email.data, reason="reset")
    return render_template("auth/forgot_password.html", form=form), 422 if form.errors else 200


def signed_in_if_active(member):
    """The reset link proves the mailbox: it signs the owner in, whatever the sign-in limits say
    (a stranger guessing may have spent them) – on a new session, every old one ended."""
    if member.is_active:
        start_session(member, method="reset")
    return member


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@limiter.limit("20 per 15 minutes")
@token_link(member_for_reset, retry="auth.forgot_password")
def reset_password(member, token):
    form = NewPasswordForm(email=member.email)
    if form.validate_on_submit():
        return carry_out(
            lambda: signed_in_if_active(accounts.reset_password(token, form.password.data)),
            success=lambda member: (
                _("Your password is changed and you are signed in. Every other session of yours has ended.")
                if member.is_active
                else _("Your password is changed. Sign in with the new one.")
            ),
            redirect_to=lambda member: redirect(
                url_for("public.index" if member.is_active else "auth.sign_in"), code=303
            ),
            # used meanwhile (another tab, a double click)
            on_refusal=lambda error: token_error(error, retry=url_for("auth.forgot_password")),
        )
    return render_template("auth/reset_password.html", form=form, member=member), 422 if form.errors else 200


@bp.route("/welcome/<token>", methods=["GET", "POST"])
@limiter.limit("20 per 15 minutes")
@token_link(member_for_welcome, retry="auth.forgot_password")
def welcome(member, token):
    """A new coordinator chooses their first password: the reset page, with a link that lives for days."""
    form = NewPasswordForm(email=member.email)
    if form.validate_on_submit():
        return carry_out(
            lambda: signed_in_if_active(accounts.reset_password(token, form.password.data, "welcome")),
            success=_("Your password is saved and you are signed in. Welcome!"),
            redirect_to=lambda member: redirect(
                url_for("public.index" if member.is_active else "auth.sign_in"), code=303
            ),
            # used meanwhile (another tab, a double click)
            on_refusal=lambda error: token_error(error, retry=url_for("auth.forgot_password")),
        )
    return render_template(
        "auth/reset_password.html", form=form, member=member, welcome=True
    ), 422 if form.errors else 200


@bp.route("/verify/<token>", methods=["GET", "POST"])
@limiter.limit("20 per 15 minutes")
@token_link(member_for_verification, retry="auth.resend_verification")
def verify_email(member, token):
    """GET shows a button; POST confirms (mail scanners follow links, they do not press buttons)."""
    form = ConfirmForm()
    if form.validate_on_submit():
        return carry_out(
            lambda: accounts.verify(token),
            redirect_to=lambda member: render_template("auth/verified.html", member=member),
            on_refusal=token_error,  # confirmed meanwhile (a double click, another tab)
        )
    return render_template("auth/verify.html", form=form, member=member)


@bp.route("/verify", methods=["GET", "POST"])
@limiter.limit("5 per 15 minutes", methods=["POST"])
def resend_verification():
    form = EmailForm(email=inbox_email() or None)
    if form.validate_on_submit():
        member = Member.by_email(form.email.data)
        if (
            member is not None
            and member.email_verified_at is None
            and member.deleted_at is None
            and limits.may_mail_address("verify", member.email)
        ):
            send_verification(member)
            db.session.commit()
        remember_inbox(form.email.data)
        return render_template("auth/check_inbox.html", email=form.email.data, reason="verify")
    return render_template("auth/resend_verification.html", form=form), 422 if form.errors else 200
