from flask import abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from blueprints.organisations import bp
from blueprints.organisations.forms import (
    EDITABLE_KINDS,
    LanguageDecisionForm,
    OrganisationForm,
    OrganisationSearchForm,
)
from blueprints.util import carry_out, load, wants_fragment
from extensions import db
from models import Organisation, OrganisationKind
from models.policy import allows, require


def directory_context(form):
    """One context for the page and its results fragment."""
    valid = form.validate()
    query = Organisation.search(form.q.data if valid else "", form.kind.data if valid else None)
    page = db.paginate(
        query,
        page=(form.page.data or 1) if valid else 1,
        per_page=current_app.config["ORGANISATIONS_PER_PAGE"],
        error_out=False,
        count=True,
    )
    may_manage = allows(current_user, "organisation.manage")
    counties = dict(
        db.session.execute(
            select(Organisation.number, Organisation.name).where(
                Organisation.kind == OrganisationKind.COUNTY_MUNICIPALITY
            )
        ).all()
    )
    member_counts = Organisation.active_member_counts(o.id for o in page.items)
    return {
        "form": form,
        "page": page,
        "counties": counties,
        "member_counts": member_counts,
        "may_manage": may_manage,
    }


@bp.get("/")
def index():
    context = directory_context(OrganisationSearchForm(request.args))
    if wants_fragment("organisation-results"):
        return render_block("organisations/index.html", "results", **context)
    return render_template("organisations/index.html", **context)


def manage_context(form, editing=None):
    query = (
        select(Organisation)
        .where(Organisation.kind.in_(EDITABLE_KINDS))
        .order_by(Organisation.kind, Organisation.name_folded)
    )
    organisations = db.session.scalars(query).all()
    return {
        "form": form,
        "editing": editing,
        "organisations": organisations,
        "member_counts": Organisation.active_member_counts(o.id for o in organisations),
    }


def manage_page(form, operation, success, editing=None):
    """The register's page with its form (a new organisation, or ``editing`` one): a valid form
    is saved – a refusal (a name taken) is shown next to the name – and the page drawn again."""
    if form.validate_on_submit() and (
        done := carry_out(operation, success, url_for("organisations.manage"), on_refusal=form.name)
    ):
        return done
    return render_template(
        "organisations/manage.html", **manage_context(form, editing)
    ), 422 if form.errors else 200


@bp.route("/manage", methods=["GET", "POST"])
def manage():
    """Observers, voluntary organisations, hospital trusts: the part of the register coordinators keep."""
    require("organisation.manage")
    form = OrganisationForm()
    return manage_page(
        form,
        lambda: Organisation.add_by_coordinator(form.kind.data, form.name.data, form.short_name.data),
        lambda organisation: _("%(name)s is added.", name=organisation.name),
    )


def editable_or_403(organisation_id):
    """A coordinator keeps the organisations that are not reference data (the register's own).
    The register is kept for all networks: the policy is asked about the register, not about
    the organisation (whose scope may hold no network at all)."""
    require("organisation.manage")
    organisation = load(Organisation, organisation_id)
    if organisation.is_reference_data:
        abort(403)
    return organisation


@bp.route("/<int:organisation_id>/edit", methods=["GET", "POST"])
def edit(organisation_id):
    organisation = editable_or_403(organisation_id)
    form = OrganisationForm(obj=organisation)
    return manage_page(
        form,
        lambda: organisation.edit_by_coordinator(form.kind.data, form.name.data, form.short_name.data),
        lambda _result: _("%(name)s is saved.", name=organisation.name),
        editing=organisation,
    )


@bp.route("/<int:organisation_id>/written-form", methods=["GET", "POST"])
def written_form(organisation_id):
    """An organisation's målvedtak (any organisation, the municipalities' official rows too:
    the decision is the municipality's own); the mail to it and its members follows it."""
    require("organisation.manage")
    organisation = load(Organisation, organisation_id)
    form = LanguageDecisionForm(obj=organisation)
    if form.validate_on_submit() and (
        done := carry_out(
            lambda: organisation.set_language_decision(form.language_decision.data),
            lambda _changed: _(
                "%(name)s writes %(form)s.", name=organisation.name, form=organisation.language_decision.label
            ),
            url_for("organisations.index", q=organisation.name),
            on_refusal=form.language_decision,
        )
    ):
        return done
    return render_template(
        "organisations/written_form.html", form=form, organisation=organisation
    ), 422 if form.errors else 200


@bp.post("/<int:organisation_id>/<any(deactivate, reactivate):change>")
def set_active(organisation_id, change):
    organisation = editable_or_403(organisation_id)
    deactivate = change == "deactivate"
    return carry_out(
        organisation.deactivate_by_coordinator if deactivate else organisation.reactivate_by_coordinator,
        _("%(name)s is deactivated.", name=organisation.name)
        if deactivate
        else _("%(name)s is in use again.", name=organisation.name),
        url_for("organisations.manage"),
    )
