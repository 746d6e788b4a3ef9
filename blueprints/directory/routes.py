"""The member directory: search as you type, paginated; who may see whom is the model's rule."""

from flask import current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from jinja2_fragments.flask import render_block
from wtforms import IntegerField, SearchField
from wtforms.validators import NumberRange, Optional

from blueprints.directory import bp
from blueprints.forms import ConfirmForm
from blueprints.util import ListPage, carry_out, wants_fragment
from blueprints.validators import Length, PrintableText
from extensions import db
from models import directory
from models.policy import require


class DirectorySearchForm(FlaskForm):
    """Read from the query string (a GET: no CSRF)."""

    class Meta:
        csrf = False

    q = SearchField(
        _l("Name, organisation, municipality or county"),
        validators=[Optional(), Length(max=100), PrintableText()],
    )
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=10_000)], default=1)


@bp.get("/")
@login_required
def index():
    require("directory.read")
    form = DirectorySearchForm(request.args)
    valid = form.validate()
    text = form.q.data if valid else ""
    where = directory.matching(current_user, text)
    found = db.session.scalar(directory.count(where))
    page = ListPage(
        (form.page.data or 1) if valid else 1,
        current_app.config["DIRECTORY_PER_PAGE"],
        min(found, directory.COUNT_CAP),
    )
    members = directory.entries(where, limit=page.per_page, offset=page.offset) if found else []
    context = {"form": form, "page": page, "members": members, "more_than": found > directory.COUNT_CAP}
    if wants_fragment("directory-results"):
        return render_block("directory/index.html", "results", **context)
    return render_template("directory/index.html", confirm=ConfirmForm(), **context)


@bp.post("/visibility")
@login_required
def visibility():
    """Hide me from the directory, or show me again."""
    require("account.own")
    member = current_user._get_current_object()
    hidden = request.form.get("hidden") == "yes"
    return carry_out(
        lambda: member.set_directory_hidden(hidden),
        _("You are hidden from the member directory; coordinators still see you.")
        if hidden
        else _("You are shown in the member directory."),
        url_for(".index" if request.form.get("back") == "directory" else "account.index"),
    )
