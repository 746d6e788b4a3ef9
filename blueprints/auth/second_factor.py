"""The second factor for coordinators: set-up, the code asked at sign-in, recovery codes, and the
gate on coordinator pages (issue 23).  The rules live in ``models.second_factor``.

Set-up is for coordinators (``second_factor.manage``): only their pages ask for the factor, and a
factor that nothing asks for would only look like protection.

**The gate** (``gate``, run by ``policy.require`` for every action whose rule admits coordinators
alone – ``policy.coordinators_only``): a coordinator whose factor is on, or whose grace period has
ended, must have shown it in this session (``sessions.second_factor_shown``: an authenticator or
recovery code here, or a provider's ID token whose ``amr`` is trusted).  Within the grace period
the page works and says how many days are left (``g.second_factor_days_left``, drawn by
base.html).  Otherwise a GET goes to the code page (factor on) or to the set-up (factor off),
and comes back after; a POST or an htmx request gets a 403 page that says why.

**Counting wrong codes** (``CODE_ACCOUNT_CLIENT``, ``CODE_ACCOUNT``): whoever reaches the code page
knows the password already.  Wrong codes count per account and client (10 in 15 minutes) and per
account from everywhere (30 an hour, 100 a day).  Six digits with three steps accepted is about
one chance in 330,000 a guess: 100 a day is years of guessing.  A stranger elsewhere spends their
own account+client budget, not the owner's; the per-account budget they can spend, and then the
owner's app codes are refused for a while – but a recovery code is still taken (it is 50 random
bits: no budget needed against guessing it), counted only per account and client.  So a stranger
who has the password cannot lock the owner out beyond the recovery route; the owner should then
choose a new password, which ends every session (``accounts.reset_password``).
"""

from flask import (
    abort,
    flash,
    g,
    has_request_context,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import InputRequired

from blueprints.auth import bp
from blueprints.auth.limits import Budget, client_address
from blueprints.auth.sessions import mark_second_factor_shown, second_factor_shown
from blueprints.util import safe_next
from blueprints.validators import Length, PrintableText
from extensions import db
from models import DomainError, guard, policy
from models import second_factor as factor
from models.policy import require
from models.types import utcnow

CODE_ACCOUNT_CLIENT = Budget("second-factor:account+client", "10 per 15 minutes")
CODE_ACCOUNT = Budget("second-factor:account", "30 per hour", "100 per day")


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[InputRequired(_l("Type the code.")), Length(max=40), PrintableText()],
    )
    next = HiddenField()


class TurnOffForm(FlaskForm):
    code = StringField(
        _l("A code from the app, or a recovery code"),
        validators=[InputRequired(_l("Type the code.")), Length(max=40), PrintableText()],
    )


# -- the hand-over from signing in, and the gate ------------------------------------------------------


def after_sign_in(member, next_url):
    """Called by the sign-in views once a session has begun: the redirect to the code page (the
    factor is on) or to the set-up (a coordinator whose grace period has ended), with ``next_url``
    (already made safe) kept; None when nothing is asked.  A coordinator without a grace period
    yet (from before the factor) gets one now."""
    if not member.is_coordinator or second_factor_shown():
        return None
    if factor.start_grace(member):
        db.session.commit()
    if factor.is_confirmed(member):
        return redirect(url_for("auth.sign_in_code", next=next_url), code=303)
    if factor.required(member):
        return redirect(url_for("auth.two_factor", next=next_url), code=303)
    return None


def gate(action):
    """Run by ``policy.require`` once the rule admits the user (see the module's docstring)."""
    if not has_request_context() or not policy.coordinators_only(action) or second_factor_shown():
        return
    member = guard.real(current_user)
    if not member.is_coordinator:
        return
    if factor.start_grace(member):
        db.session.commit()
    now = utcnow()
    if not factor.required(member, now):
        if factor.demanded():
            g.second_factor_days_left = factor.days_left(member, now)
        return
    confirmed = factor.is_confirmed(member)
    if request.method == "GET" and not request.headers.get("HX-Request"):
        target = "auth.sign_in_code" if confirmed else "auth.two_factor"
        abort(redirect(url_for(target, next=request.full_path.rstrip("?"))))
    db.session.rollback()
    page = render_template("auth/second_factor_required.html", confirmed=confirmed)
    abort(make_response(page, 403))


policy.GATES.append(gate)


# -- the code at sign-in --------------------------------------------------------------------------------


TOO_MANY = _l(
    "Too many wrong codes. Wait a quarter of an hour, or use one of your recovery codes. "
    "If you did not type them, someone knows your password: choose a new one."
)


def _budgets(member):
    return ((CODE_ACCOUNT_CLIENT, f"{member.id}|{client_address()}"), (CODE_ACCOUNT, str(member.id)))


def _may_try(member, code):
    """Room in the budgets for one more code?  A recovery code is checked whatever the account's
    budget says (see the module's docstring)."""
    budgets = _budgets(member)[:1] if factor.kind_of(code) == "recovery" else _budgets(member)
    return all(budget.allows(key) for budget, key in budgets)


def _count_wrong(member):
    for budget, key in _budgets(member):
        budget.spend(key)


def _code_page(form, status):
    return render_template("auth/second_factor_code.html", form=form, issuer=factor.ISSUER), status


def _refused(form, message, status):
    form.code.errors = [*form.code.errors, message]
    return _code_page(form, status)


@bp.route("/sign-in/code", methods=["GET", "POST"])
def sign_in_code():
    """The code after the password (or a sign-in link): the app's, or a recovery code."""
    require("second_factor.sign_in")
    member = guard.real(current_user)
    form = CodeForm(next=request.args.get("next"))
    target = safe_next(form.next.data, "public.index")
    if second_factor_shown() or not factor.is_confirmed(member):
        return redirect(target, code=303 if request.method == "POST" else 302)
    if not form.validate_on_submit():
        return _code_page(form, 422 if form.errors else 200)
    if not _may_try(member, form.code.data):
        return _refused(form, TOO_MANY, 429)
    try:
        factor.verify(member, form.code.data)
    except DomainError as error:
        db.session.rollback()
        if isinstance(error, factor.WrongCode):
            _count_wrong(member)
        return _refused(form, error.message, 422)
    mark_second_factor_shown()
    db.session.commit()
    return redirect(target, code=303)


# -- set-up, recovery codes, off ------------------------------------------------------------------------


def _manage():
    require("second_factor.manage")
    return guard.real(current_user)


def _status_page(member, off_form=None, status=200):
    return render_template(
        "auth/second_factor.html",
        member=member,
        confirmed=factor.is_confirmed(member),
        waiting=member.totp_secret is not None and member.totp_confirmed_at is None,
        shown=second_factor_shown(),
        codes_left=factor.unused_recovery_codes(member) if factor.is_confirmed(member) else 0,
        days_left=None if factor.required(member) else factor.days_left(member),
        off_form=off_form or TurnOffForm(formdata=None),
        form_errors=off_form.errors if off_form else None,
        next_url=request.args.get("next"),
    ), status


@bp.get("/me/two-factor")
def two_factor():
    """The second factor's page: off (set it up), waiting (continue), or on (recovery codes, off)."""
    return _status_page(_manage())


@bp.post("/me/two-factor/begin")
def two_factor_begin():
    """Make the secret (kept unconfirmed) and go to the page that shows it."""
    member = _manage()
    try:
        factor.begin(member)
    except DomainError:  # on already (a second tab): its page says so
        db.session.rollback()
        return redirect(url_for("auth.two_factor"), code=303)
    db.session.commit()
    return redirect(url_for("auth.two_factor_set_up", next=request.args.get("next")), code=303)


@bp.route("/me/two-factor/set-up", methods=["GET", "POST"])
def two_factor_set_up():
    """The QR code and the secret to type, and the first code that confirms them; then the
    recovery codes, shown in the answer to that POST and nowhere else (not kept in the session,
    whose cookie the browser can read)."""
    member = _manage()
    if member.totp_secret is None or member.totp_confirmed_at is not None:
        return redirect(url_for("auth.two_factor"), code=303 if request.method == "POST" else 302)
    form = CodeForm(next=request.args.get("next"))
    if form.validate_on_submit():
        try:
            codes = factor.confirm(member, form.code.data)
        except DomainError as error:
            db.session.rollback()
            form.code.errors = [*form.code.errors, error.message]
        else:
            mark_second_factor_shown()  # a right code from the app, just now
            db.session.commit()
            return _codes_page(codes, safe_next(form.next.data, "auth.two_factor"))
    uri = factor.provisioning_uri(member)
    return render_template(
        "auth/second_factor_set_up.html",
        form=form,
        qr=factor.qr_code(uri),
        secret=factor.grouped(member.totp_secret),
        issuer=factor.ISSUER,
        email=member.email,
    ), 422 if form.errors else 200


def _codes_page(codes, next_url):
    return render_template("auth/second_factor_codes.html", codes=codes, next_url=next_url)


@bp.post("/me/two-factor/recovery-codes")
def two_factor_recovery_codes():
    """Ten new recovery codes; the old ones stop working.  Only in a session that has shown the
    factor: a password alone must not be enough to make codes that stand in for it."""
    member = _manage()
    if not second_factor_shown():
        return redirect(url_for("auth.sign_in_code", next=url_for("auth.two_factor")), code=303)
    try:
        codes = factor.renew_recovery_codes(member)
    except DomainError:
        db.session.rollback()
        return redirect(url_for("auth.two_factor"), code=303)
    db.session.commit()
    return _codes_page(codes, url_for("auth.two_factor"))


@bp.post("/me/two-factor/off")
def two_factor_off():
    """Turn the factor off (or move it to a new app: ``replace``) with a right code."""
    member = _manage()
    if not factor.is_confirmed(member):  # off already (another tab): its page says so
        flash(_("The second factor is off already."), "info")
        return redirect(url_for("auth.two_factor"), code=303)
    form = TurnOffForm()
    replace = request.form.get("replace") == "yes"
    if not form.validate_on_submit():
        return _status_page(member, form, 422)
    if not _may_try(member, form.code.data):
        form.code.errors = [*form.code.errors, TOO_MANY]
        return _status_page(member, form, 429)
    try:
        factor.turn_off(member, form.code.data, replace=replace)
    except DomainError as error:
        db.session.rollback()
        if isinstance(error, factor.WrongCode):
            _count_wrong(member)
        form.code.errors = [*form.code.errors, error.message]
        return _status_page(member, form, 422)
    db.session.commit()
    if replace:
        return redirect(url_for("auth.two_factor_set_up"), code=303)
    flash(_("The second factor is off, and your recovery codes no longer work."), "success")
    return redirect(url_for("auth.two_factor"), code=303)
