"""Information packages in an emergency: posting one (coordinators; observers' members where the
coordinators allow it), its page, and marking it *shared locally* (members of municipalities)."""

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from blueprints.emergencies import bp
from blueprints.emergencies.forms import PackageForm, ShareForm
from blueprints.util import carry_out, load
from models import Emergency, Package
from models import package as packages
from models.emergency import languages
from models.policy import allows


@bp.route("/<int:emergency_id>/packages/new", methods=["GET", "POST"])
def new_package(emergency_id):
    emergency = load(Emergency, emergency_id, "package.post")
    form = PackageForm(languages())
    may_post = packages.may_post(emergency, current_user)
    refusal = None
    if request.method == "POST" and "more" in request.form:
        form.more_rows()  # nothing is posted: the form is drawn again, with its rows kept
        return render_template(
            "emergencies/package_new.html",
            emergency=emergency,
            form=form,
            may_post=may_post,
            sources=packages.SOURCES,
        )

    def refused(error):
        nonlocal refusal
        refusal = error.message

    if form.validate_on_submit() and (
        done := carry_out(
            lambda: packages.post(emergency, form.title.data, form.purpose.data, form.material, current_user),
            lambda posted: _("The package is posted: %(n)s members get it by e-mail.", n=posted[1]),
            lambda posted: redirect(url_for(".package", package_id=posted[0].id), code=303),
            on_refusal=refused,
        )
    ):
        return done
    failed = bool(form.errors or refusal)
    return render_template(
        "emergencies/package_new.html",
        emergency=emergency,
        form=form,
        refusal=refusal,
        may_post=may_post,
        sources=packages.SOURCES,
    ), 422 if failed else 200


def _page(package, form, status=200):
    shares = allows(current_user, "package.share", package) and packages.may_share(package, current_user)
    return render_template(
        "emergencies/package.html",
        package=package,
        emergency=package.emergency,
        form=form,
        shares=shares,
        mine=packages.share_of(package, current_user),
    ), status


@bp.get("/packages/<int:package_id>")
@login_required
def package(package_id):
    package = load(Package, package_id, "package.read")
    return _page(package, ShareForm())


@bp.post("/packages/<int:package_id>/share")
def share_package(package_id):
    package = load(Package, package_id, "package.share")
    form = ShareForm()
    if form.validate_on_submit():
        return carry_out(
            lambda: packages.share(package, current_user, form.note.data),
            lambda first: (
                _("Marked as shared locally. Thank you!")
                if first
                else (
                    _("You had already marked it as shared locally; the note is updated.")
                    if (form.note.data or "").strip()
                    else _("You had already marked it as shared locally."),
                    "info",
                )
            ),
            url_for(".package", package_id=package.id),
        )
    return _page(package, form, 422)
