from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from blueprints.auth import bp, limits, second_factor
from blueprints.auth.forms import EmailForm, NewPasswordForm, SignInForm, SignInLinkForm
from blueprints.auth.sessions import browser_digest, start_session
from blueprints.forms import ConfirmForm
from blueprints.util import carry_out, inbox_email, remember_inbox, safe_next, token_error, token_link
from extensions import db, limiter
from models import Member, accounts, normalise_email, sign_in_link, single_sign_on
from models.accounts import (
    member_for_reset,
    member_for_verification,
    member_for_welcome,
    send_password_reset,
    send_verification,
)
from models.tokens import TokenError


def sign_in_page(form=None, link_form=None, status=200, **context):
    """The sign-in page: the password form, the sign-in link form and the providers side by side;
    the one posted (``form`` or ``link_form``) is drawn with what was typed and its errors."""
    next_url = form.next.data if form else link_form.next.data if link_form else request.args.get("next")
    return render_template(
        "auth/sign_in.html",
        form=form or SignInForm(formdata=None, next=next_url),
        link_form=link_form or SignInLinkForm(formdata=None, prefix="link", next=next_url),
        links=links_on(),
        link_minutes=int(sign_in_link.LIFETIME.total_seconds() // 60),
        providers=single_sign_on.configured(),
        **context,
    ), status


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
            return signed_in(member, form.next.data)
    status = 429 if limited else 422 if form.errors or unverified else 200
    return sign_in_page(form=form, status=status, unverified=unverified)


def signed_in(member, next_url):
    """Where a new session goes: the page asked for (or the home: what waits) – by way of the
    second factor's code when the member's pages ask for one (``second_factor.after_sign_in``)."""
    target = safe_next(next_url, "public.index")
    return second_factor.after_sign_in(member, target) or redirect(target, code=303)


def links_on():
    """Sign-in links by e-mail are offered (``SIGN_IN_LINKS``, on by default); off, their routes
    answer 404 and links mailed before open nothing."""
    return current_app.config.get("SIGN_IN_LINKS", True)


@bp.post("/sign-in/link")
@limiter.limit("10 per 15 minutes")
def request_sign_in_link():
    """Mail a sign-in link.  The same answer whether the address has an account or not, and past
    the address's mail budget (``limits.MAIL_TO_ADDRESS``): the page does not tell who is
    registered (``sign_in_link.request_link`` does the same work either way)."""
    if not links_on():
        abort(404)
    form = SignInLinkForm(prefix="link")
    if not form.validate_on_submit():
        return sign_in_page(link_form=form, status=422)
    email = normalise_email(form.email.data)
    sign_in_link.request_link(email, browser_digest(), mail=limits.may_mail_address("link", email))
    db.session.commit()
    session["link_next"] = safe_next(form.next.data, "public.index")  # where this browser goes after
    return render_template("auth/check_inbox.html", email=form.email.data, reason="link")


@bp.route("/sign-in/link/<token>", methods=["GET", "POST"])
@limiter.limit("20 per 15 minutes")
def sign_in_by_link(token):
    """Opened in the browser that asked, the link signs in at once; anywhere else, the page asks
    for a click (POST), and only that click spends it (``sign_in_link.sign_in_by_link``)."""
    if not links_on():
        abort(404)
    form = ConfirmForm()
    next_url = session.get("link_next")
    try:
        member = sign_in_link.sign_in_by_link(
            token, browser_digest(make=False), confirmed=form.validate_on_submit()
        )
    except sign_in_link.OtherBrowser:
        db.session.rollback()
        return render_template("auth/sign_in_link_elsewhere.html", form=form)
    except TokenError as error:
        db.session.rollback()
        return token_error(error, retry=url_for("auth.sign_in"))
    start_session(member, method="link")
    db.session.commit()
    return signed_in(member, next_url)


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
