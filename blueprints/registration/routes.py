from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block

from blueprints.auth.sessions import start_session
from blueprints.auth.single_sign_on import address_to_register, forget_registration, vouched_registration
from blueprints.registration import bp
from blueprints.registration.forms import RegistrationForm
from blueprints.util import inbox_email, remember_inbox
from extensions import db, limiter
from models import Organisation
from models.accounts import register
from models.language import named_locale

PICKER_RESULTS = 12
INLINE_FIELDS = {"name", "email", "phone", "job_title", "unit", "manager_name", "manager_email", "password"}


def picker_results(form):
    """Organisations matching the search box, for the radio list (the chosen one stays first)."""
    query = (form.organisation_query.data or "").strip()
    results = db.session.scalars(Organisation.search(query).limit(PICKER_RESULTS)).all() if query else []
    chosen = form.chosen_organisation
    if chosen is not None and chosen not in results:
        results.insert(0, chosen)
    return results


def read_without_errors(form):
    """Fill and convert the data of a form that is not being submitted (a search, a choice),
    without showing errors the user has had no chance to avoid yet."""
    form.validate()
    for field in form:
        field.errors = []
    return form


def page_context(form, vouched=None):
    return {"form": form, "results": picker_results(form), "vouched": vouched}


@bp.route("/", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def register_page():
    if current_user.is_authenticated:
        return redirect(url_for("account.index"))
    form = RegistrationForm(
        organisation=request.args.get("organisation", type=int),
        language=named_locale() or "",  # else their organisation's
        email=address_to_register(),  # the address a single sign-on provider vouched for, if any
    )
    # Kept as the provider gave it, that address needs no password: the provider signs them in.
    vouched = vouched_registration(form.email.data)
    if vouched:
        del form.password
    # Without JavaScript the organisation search is a submit button of this same form.
    if request.method == "POST" and "search" in request.form:
        read_without_errors(form)
        return render_template("registration/register.html", **page_context(form, vouched))
    if form.validate_on_submit():
        # A taken address gets the same answer as a new one: the page does not reveal who is
        # registered (the owner is told by mail, see ``register``).
        member = register(
            organisation=form.chosen_organisation,
            networks=form.chosen_networks,
            password=form.password.data if form.password else None,
            vouched_by=vouched[:2] if vouched else None,
            leadership_informed=form.leadership_informed.data,
            name=form.name.data.strip(),
            email=form.email.data,
            phone=(form.phone.data or "").strip() or None,
            job_title=form.job_title.data.strip(),
            unit=form.unit.data.strip(),
            manager_name=form.manager_name.data.strip(),
            language=form.language.data or None,
            manager_email=form.manager_email.data,
        )
        db.session.commit()
        if vouched and member is not None:
            forget_registration()
            start_session(member, method="provider")
            db.session.commit()
            flash(
                _(
                    "Welcome! You are registered and signed in with %(provider)s, which signs you in from now "
                    "on. We have asked your line manager to confirm your participation.",
                    provider=vouched[2],
                ),
                "success",
            )
            return redirect(url_for("account.index"), code=303)
        remember_inbox(form.email.data)
        return redirect(url_for("registration.sent"), code=303)
    return render_template("registration/register.html", **page_context(form, vouched)), (
        422 if form.errors else 200
    )


@bp.post("/check/<name>")
@limiter.limit("240 per minute")
def check_field(name):
    """Inline validation: the submit's own rules, for one field, as the user types or leaves it."""
    if name not in INLINE_FIELDS:
        abort(404)
    form = RegistrationForm()
    form.errors_for(name)
    return render_block("registration/register.html", "field_errors", field=form[name])


@bp.get("/organisations")
def organisation_choices():
    """The organisation picker's results (htmx), and the networks the chosen one may join."""
    form = read_without_errors(RegistrationForm(request.args, meta={"csrf": False}))
    block = "network_choice" if request.htmx.target == "network-choice" else "organisation_results"
    return render_block("registration/register.html", block, **page_context(form))


@bp.get("/sent")
def sent():
    return render_template("auth/check_inbox.html", email=inbox_email(), reason="register")
