from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from blueprints.auth.forms import ConfirmForm
from blueprints.organisations import bp
from blueprints.organisations.forms import EDITABLE_KINDS, OrganisationForm, OrganisationSearchForm
from blueprints.util import wants_fragment
from extensions import db
from models import DomainError, Organisation, OrganisationKind
from models.policy import require


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
    counties = dict(
        db.session.execute(
            select(Organisation.number, Organisation.name).where(
                Organisation.kind == OrganisationKind.COUNTY_MUNICIPALITY
            )
        ).all()
    )
    member_counts = Organisation.active_member_counts(o.id for o in page.items)
    return {"form": form, "page": page, "counties": counties, "member_counts": member_counts}


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


@bp.route("/manage", methods=["GET", "POST"])
def manage():
    """Observers, voluntary organisations, hospital trusts: the part of the register coordinators keep."""
    require("organisation.manage")
    form = OrganisationForm()
    if form.validate_on_submit():
        try:
            organisation = Organisation.add_by_coordinator(
                form.kind.data, form.name.data, form.short_name.data
            )
        except DomainError as error:
            db.session.rollback()
            form.name.errors.append(error.message)
        else:
            db.session.commit()
            flash(_("%(name)s is added.", name=organisation.name), "success")
            return redirect(url_for("organisations.manage"), code=303)
    return render_template("organisations/manage.html", **manage_context(form)), 422 if form.errors else 200


def editable_or_403(organisation_id):
    """A coordinator keeps the organisations that are not reference data (the register's own)."""
    require("organisation.manage")
    organisation = db.get_or_404(Organisation, organisation_id)
    if organisation.is_reference_data:
        abort(403)
    return organisation


@bp.route("/<int:organisation_id>/edit", methods=["GET", "POST"])
def edit(organisation_id):
    organisation = editable_or_403(organisation_id)
    form = OrganisationForm(obj=organisation)
    if form.validate_on_submit():
        try:
            organisation.edit_by_coordinator(form.kind.data, form.name.data, form.short_name.data)
        except DomainError as error:
            db.session.rollback()
            form.name.errors.append(error.message)
        else:
            db.session.commit()
            flash(_("%(name)s is saved.", name=organisation.name), "success")
            return redirect(url_for("organisations.manage"), code=303)
    return render_template(
        "organisations/manage.html", **manage_context(form, organisation)
    ), 422 if form.errors else 200


@bp.post("/<int:organisation_id>/<any(deactivate, reactivate):change>")
def set_active(organisation_id, change):
    organisation = editable_or_403(organisation_id)
    ConfirmForm().validate_on_submit()
    try:
        if change == "deactivate":
            organisation.deactivate_by_coordinator()
        else:
            organisation.reactivate_by_coordinator()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(
            _("%(name)s is deactivated.", name=organisation.name)
            if change == "deactivate"
            else _("%(name)s is in use again.", name=organisation.name),
            "success",
        )
    return redirect(url_for("organisations.manage"), code=303)
