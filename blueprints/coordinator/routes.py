from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from blueprints.coordinator import bp, exports
from blueprints.coordinator.forms import (
    AuditFilterForm,
    AuditSearchForm,
    CoordinatorForm,
    DecisionNoteForm,
    OutboxFilterForm,
    OverviewForm,
    TeamsChannelForm,
)
from blueprints.util import (
    carry_out,
    coordinated_networks,
    form_refused,
    load,
    network_or_404,
    wants_fragment,
)
from blueprints.validators import page_number
from extensions import db
from models import (
    AuditEntry,
    ChangeRequest,
    ChangeStatus,
    CoordinatorRole,
    Network,
    Organisation,
    OrganisationKind,
    OutboxMessage,
    audit,
    home,
    policy,
)
from models import overview as overview_model
from models import teams as teams_model
from models.coordinators import appoint
from models.policy import require

PER_PAGE = 50


@bp.get("/")
def index():
    require("coordinator.home")
    return render_template(
        "coordinator/index.html", networks=coordinated_networks(), work=home.coordinator_home(current_user)
    )


@bp.get("/outbox")
def outbox():
    require("outbox.read")
    form = OutboxFilterForm(request.args)
    query = select(OutboxMessage).where(policy.outbox_visible(current_user)).order_by(OutboxMessage.id.desc())
    if form.validate() and form.status.data:
        query = query.where(OutboxMessage.status == form.status.data)
    page = db.paginate(
        query, page=request.args.get("page", 1, type=page_number), per_page=PER_PAGE, error_out=False
    )
    return render_template("coordinator/outbox.html", form=form, page=page)


@bp.post("/outbox/<int:message_id>/retry")
def retry(message_id):
    message = load(OutboxMessage, message_id, "outbox.retry")
    if message.retry():
        db.session.commit()
        flash(_("The mail to %(email)s will be sent again.", email=message.recipient), "success")
    else:
        db.session.rollback()
        flash(
            _(
                "The mail to %(email)s is not waiting to be sent again: it was sent again already, or never failed.",
                email=message.recipient,
            ),
            "info",
        )
    return redirect(url_for("coordinator.outbox", status="failed"), code=303)


@bp.route("/audit", methods=["GET", "POST"])
def audit_log():
    require("audit.read")
    form = AuditFilterForm(request.args)
    # Every action the code writes (``audit.ACTIONS``: ``audit.record`` takes no other), by name.
    form.action.choices = [SelectChoice("", _("All"))] + [
        SelectChoice(action, label) for action, label in audit.action_choices()
    ]
    form.network.choices = [SelectChoice("", _("All"))] + [
        SelectChoice(n.code) for n in coordinated_networks()
    ]
    query = (
        select(AuditEntry)
        .where(policy.audit_visible(current_user))
        .options(selectinload(AuditEntry.member), selectinload(AuditEntry.network))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    )
    if form.validate():
        if form.action.data:
            query = query.where(AuditEntry.action == form.action.data)
        if form.network.data:
            query = query.join(Network, AuditEntry.network_id == Network.id).where(
                Network.code == form.network.data
            )
    # A name or an address is searched by POST: the URL carries the chosen member's id only.
    search, found = AuditSearchForm(), None
    if request.method == "POST" and search.validate_on_submit():
        found = audit.members_in(query, search.q.data)
        if len(found) == 1:
            return redirect(
                url_for(
                    "coordinator.audit_log",
                    member=found[0].id,
                    action=form.action.data or None,
                    network=form.network.data or None,
                ),
                code=303,
            )
        if not found:
            search.q.errors.append(_("No member in the audit log matches what you searched for."))
    if form.member.data and not form.member.errors:
        query = query.where(AuditEntry.member_id == form.member.data)
    page = db.paginate(
        query, page=request.args.get("page", 1, type=page_number), per_page=PER_PAGE, error_out=False
    )
    return render_template(
        "coordinator/audit.html",
        form=form,
        search=search,
        found=found,
        page=page,
        sentences=audit.sentences(page.items),
    ), 422 if search.errors else 200


@bp.route("/coordinators", methods=["GET", "POST"])
def coordinators():
    require("coordinator.appoint")
    form = CoordinatorForm()
    networks = coordinated_networks()
    form.network.choices = [SelectChoice(n.code) for n in networks]
    if form.validate_on_submit():
        network = next(n for n in networks if n.code == form.network.data)
        done = carry_out(
            lambda: appoint(form.email.data, [network], name=form.name.data, granted_by=current_user),
            lambda appointed: _(
                "%(name)s is now coordinator of %(network)s.", name=appointed[0].name, network=network.code
            ),
            url_for("coordinator.coordinators"),
            on_refusal=form.email,
        )
        if done:
            return done
    roles = db.session.scalars(
        select(CoordinatorRole)
        .options(selectinload(CoordinatorRole.member), selectinload(CoordinatorRole.network))
        .order_by(CoordinatorRole.network_id, CoordinatorRole.granted_at)
    ).all()
    return render_template(
        "coordinator/coordinators.html", form=form, roles=roles
    ), 422 if form.errors else 200


@bp.get("/change-requests")
def change_requests():
    require("change.decide")
    requests = db.session.scalars(
        select(ChangeRequest)
        .where(
            ChangeRequest.status == ChangeStatus.PENDING,
            ChangeRequest.network_id.in_(current_user.coordinated_network_ids),
        )
        .options(
            selectinload(ChangeRequest.organisation),
            selectinload(ChangeRequest.network),
            selectinload(ChangeRequest.reported_by),
        )
        .order_by(ChangeRequest.created_at)
    ).all()
    return render_template("coordinator/change_requests.html", requests=requests, form=DecisionNoteForm())


@bp.post("/change-requests/<int:request_id>/<any(apply, reject):decision>")
def decide_change(request_id, decision):
    change = load(ChangeRequest, request_id, "change.decide")
    form = DecisionNoteForm()
    if not form.validate_on_submit():  # a note too long, or not printable
        return form_refused(form, url_for("coordinator.change_requests"))
    note = (form.note.data or "").strip() or None
    return carry_out(
        lambda: (change.apply if decision == "apply" else change.reject)(current_user, note),
        lambda _result: (
            _(
                "A link to confirm the new address has been sent to %(email)s. The sign-in address of %(old)s "
                "changes when the colleague follows it; the old address is told then.",
                email=change.new_email,
                old=change.email,
            )
            if change.awaits_confirmation
            else _("The request is handled.")
        ),
        url_for("coordinator.change_requests"),
    )


def overview_form():
    """The overview's filters, limited to the networks this coordinator coordinates."""
    form = OverviewForm(request.args)
    networks = coordinated_networks()
    form.network.choices = [SelectChoice(n.code) for n in networks]
    counties = db.session.execute(
        select(Organisation.number, Organisation.name)
        .where(Organisation.kind == OrganisationKind.COUNTY_MUNICIPALITY, Organisation.active)
        .order_by(Organisation.number)
    ).all()
    form.county.choices = [SelectChoice("", _("All counties"))] + [
        SelectChoice(n, name) for n, name in counties
    ]
    if not form.validate():
        # A bad filter value is shown next to the field; the page falls back to no filter.
        for name in ("county", "q", "sort", "desc"):
            if form[name].errors:
                form[name].data = form[name].default
    code = form.network.data if form.network.data in {n.code for n in networks} else networks[0].code
    form.network.data = code
    return form, next(n for n in networks if n.code == code)


@bp.get("/overview")
def overview():
    require("overview.read")
    form, network = overview_form()
    query = overview_model.organisations(
        network,
        county=form.county.data or None,
        text=form.q.data,
        sort=form.sort.data,
        descending=form.desc.data == "1",
    )
    page = db.paginate(
        query, page=request.args.get("page", 1, type=page_number), per_page=PER_PAGE, error_out=False
    )
    context = {
        "form": form,
        "network": network,
        "page": page,
        "rows": overview_model.rows_for(network, (o.id for o in page.items)),
        "no_members": overview_model.NO_MEMBERS,
        # An organisation's page is this and its id (one url_for, not one per row).
        "municipality_url": url_for("municipalities.show", organisation_id=0).removesuffix("0"),
    }
    if wants_fragment("overview-results"):
        return render_block("coordinator/overview.html", "results", **context)
    if request.args.get("addresses"):
        context["email_line"] = overview_model.email_line(network)
        if wants_fragment("email-line-area"):
            return render_block("coordinator/overview.html", "email_line", **context)
    if network.code == "NIK":  # the page shows the county summary for NIK only
        context["counties"] = overview_model.county_summary(network)
    return render_template("coordinator/overview.html", **context)


@bp.get("/overview/<any(members, emails):what>.<any(csv, xlsx):fmt>")
def export(what, fmt):
    require("overview.read")
    _form, network = overview_form()
    if what == "members":
        header, rows = overview_model.MEMBER_COLUMNS, list(overview_model.member_rows(network))
        title = _("Members %(network)s", network=network.code)
    else:
        header, rows = overview_model.EMAIL_COLUMNS, list(overview_model.email_rows(network))
        title = _("E-mail list %(network)s", network=network.code)
    filename = f"{network.code.lower()}-{'deltakere' if what == 'members' else 'e-postliste'}"
    return exports.export(filename, fmt, header, rows, title=title)


# -- the Teams workspace roster ------------------------------------------------------------------


@bp.get("/teams/<code>")
def teams(code):
    network = network_or_404(code, "teams.manage")
    to_invite, invited = teams_model.roster(network)
    return render_template(
        "coordinator/teams.html",
        network=network,
        to_invite=to_invite,
        invited=invited,
        channel_form=TeamsChannelForm(formdata=None, url=network.teams_webhook_url),
    )


@bp.post("/teams/<code>/channel")
def teams_channel(code):
    """Set or clear the network's Teams channel webhook: newsletters and call-ins are posted there."""
    network = network_or_404(code, "teams.manage")
    form = TeamsChannelForm()
    if not form.validate_on_submit():
        to_invite, invited = teams_model.roster(network)
        return render_template(
            "coordinator/teams.html", network=network, to_invite=to_invite, invited=invited, channel_form=form
        ), 422
    return carry_out(
        lambda: teams_model.set_channel(network, form.url.data or None),
        lambda _result: (
            _("Newsletters and emergency call-ins are now also posted in the Teams channel.")
            if network.teams_webhook_url
            else _("Nothing is posted in Teams any more.")
        ),
        url_for("coordinator.teams", code=network.code),
    )


@bp.get("/teams/<code>/to-invite.txt")
def teams_addresses(code):
    network = network_or_404(code, "teams.manage")
    return exports.download(
        f"teams-{network.code}-inviter.txt",
        "; ".join(teams_model.addresses_to_invite(network)) + "\n",
        "text/plain",
    )


@bp.post("/teams/<code>/invited")
def teams_mark(code):
    network = network_or_404(code, "teams.manage")
    chosen = [int(v) for v in request.form.getlist("membership") if v.isdigit()]
    return carry_out(
        lambda: teams_model.mark_invited(network, chosen, by=current_user),
        lambda marked: (
            ngettext(
                "%(num)s member is marked invited to Teams.",
                "%(num)s members are marked invited to Teams.",
                marked,
            )
            if marked or not chosen
            else (
                _("Nothing changed: those chosen are marked invited already, or are no longer active."),
                "info",
            )
        ),
        url_for("coordinator.teams", code=network.code),
    )
