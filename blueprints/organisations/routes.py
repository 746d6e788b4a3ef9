from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from blueprints.organisations import bp
from blueprints.auth.forms import ConfirmForm
from blueprints.organisations.forms import EDITABLE_KINDS, OrganisationForm, OrganisationSearchForm
from blueprints.util import coordinator_required, wants_fragment
from extensions import db
from models import DomainError, Organisation, OrganisationKind, audit


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
@coordinator_required
def manage():
    """Observers, voluntary organisations, hospital trusts: the part of the register coordinators keep."""
    form = OrganisationForm()
    if form.validate_on_submit():
        organisation = Organisation(
            kind=OrganisationKind(form.kind.data), name=form.name.data.strip(), short_name=(form.short_name.data or "").strip() or None
        )
        db.session.add(organisation)
        db.session.flush()
        audit.record("organisation.added", subject=f"organisation:{organisation.id}",
                     after={"kind": organisation.kind.value, "name": organisation.name})
        db.session.commit()
        flash(_("%(name)s is added.", name=organisation.name), "success")
        return redirect(url_for("organisations.manage"), code=303)
    return render_template("organisations/manage.html", **manage_context(form)), 422 if form.errors else 200


def editable_or_403(organisation_id):
    organisation = db.get_or_404(Organisation, organisation_id)
    if organisation.is_reference_data:
        abort(403)
    return organisation


@bp.route("/<int:organisation_id>/edit", methods=["GET", "POST"])
@coordinator_required
def edit(organisation_id):
    organisation = editable_or_403(organisation_id)
    form = OrganisationForm(obj=organisation)
    if form.validate_on_submit():
        before = {"kind": organisation.kind.value, "name": organisation.name, "short_name": organisation.short_name}
        organisation.kind = OrganisationKind(form.kind.data)
        organisation.name = form.name.data.strip()
        organisation.short_name = (form.short_name.data or "").strip() or None
        audit.record("organisation.edited", subject=f"organisation:{organisation.id}", before=before,
                     after={"kind": organisation.kind, "name": organisation.name, "short_name": organisation.short_name})
        db.session.commit()
        flash(_("%(name)s is saved.", name=organisation.name), "success")
        return redirect(url_for("organisations.manage"), code=303)
    return render_template("organisations/manage.html", **manage_context(form, organisation)), 422 if form.errors else 200


@bp.post("/<int:organisation_id>/<any(deactivate, reactivate):change>")
@coordinator_required
def set_active(organisation_id, change):
    organisation = editable_or_403(organisation_id)
    ConfirmForm().validate_on_submit()
    try:
        if change == "deactivate":
            organisation.deactivate_by_coordinator()
        else:
            organisation.active = True
    except DomainError as error:
        flash(error.message, "error")
    else:
        audit.record(f"organisation.{change}d", subject=f"organisation:{organisation.id}",
                     after={"active": organisation.active})
        db.session.commit()
    return redirect(url_for("organisations.manage"), code=303)
