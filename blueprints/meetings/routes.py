"""The year plan, meetings, sign-up, attendance, minutes and the calendar file."""

from datetime import timedelta
from itertools import groupby
from operator import attrgetter

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from htmx_flask import make_response as htmx_response
from jinja2_fragments.flask import render_block
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from blueprints.forms import ConfirmForm, TopicDecisionForm, TopicForm
from blueprints.meetings import bp
from blueprints.meetings.forms import (
    CancelForm,
    MeetingChangeForm,
    MeetingForm,
    MinutesForm,
    ReceiptSearchForm,
)
from blueprints.util import (
    ListPage,
    carry_out,
    form_refused,
    load,
    network_or_404,
    token_error,
    token_link,
    wants_fragment,
)
from extensions import db, limiter
from models import Emergency, Meeting, MeetingKind, Member, Network, calendar, quota, tokens
from models import call_in as call_ins
from models import emergency as emergencies
from models import meeting as meetings
from models import signup as signups
from models import topic as topics
from models.meeting import OSLO
from models.policy import allows, require
from models.types import utcnow


def plan_context(network, year):
    """What the year plan shows: the meetings, the quota status, the topics waiting."""
    plan = db.session.scalars(
        select(Meeting)
        .join(meetings.meeting_networks)
        .where(meetings.meeting_networks.c.network_id == network.id, Meeting.year == year)
        .options(selectinload(Meeting.networks))
        .order_by(Meeting.starts_at)
    ).all()
    coordinator = allows(current_user, "topic.decide", network)
    # Blank forms: the plan is also drawn in answer to a meeting form's POST, whose fields
    # (a "title") must not fill the topic forms.
    decision = TopicDecisionForm(formdata=None)
    decision.meeting.choices = [
        SelectChoice(str(m.id), f"{m.title} ({m.kind.label})") for m in plan if m.accepts_topics
    ]
    return {
        "network": network,
        "year": year,
        "meetings": plan,
        "quota": quota.quota_status(network, year),
        "coordinator": coordinator,
        "proposals": topics.waiting(network),
        "topic_form": TopicForm(formdata=None),
        "decision": decision,
    }


@bp.get("/plan/<code>/", defaults={"year": None})
@bp.get("/plan/<code>/<int:year>")
@login_required
def year_plan(code, year):
    network = network_or_404(code, "plan.read")
    context = plan_context(network, year or utcnow().astimezone(OSLO).year)
    if wants_fragment("plan"):
        return render_block("meetings/year_plan.html", "plan", **context)
    return render_template("meetings/year_plan.html", **context)


def meeting_values(form):
    """The details the new and the change form share, tidied for storage."""

    def text(field):
        return (field.data or "").strip() or None

    return {
        "title": form.title.data.strip(),
        "topic": text(form.topic),
        "description": text(form.description),
        "format": form.format.data,
        "online_link": text(form.online_link),
        "place": text(form.place),
        "agenda": text(form.agenda),
        "attachments": text(form.attachments),
    }


def editor(form, meeting=None, conflict=None):
    """The meeting form: in place on the year plan when htmx asks for it, else as its own page."""
    in_place = wants_fragment("editor") or wants_fragment("meeting-form")
    code = request.args.get("network")
    context = {
        "form": form,
        "meeting": meeting,
        "in_place": in_place,
        "conflict": conflict,
        "action": url_for(request.endpoint, **request.view_args, **({"network": code} if code else {})),
        "back": url_for("meetings.year_plan", code=code) if code else None,
    }
    status = 409 if conflict else 422 if form.errors else 200
    if in_place:
        return render_block("meetings/new.html", "form", **context), status
    return render_template("meetings/new.html", **context), status


def saved(meeting, messages):
    """After a save: the year plan the form was opened from, updated in place (htmx); else the meeting."""
    if wants_fragment("meeting-form"):
        code = request.args.get("network")
        network = next((n for n in meeting.networks if n.code == code), meeting.networks[0])
        return htmx_response(
            render_block(
                "meetings/year_plan.html",
                "plan",
                announcements=messages,
                **plan_context(network, meeting.year),
            ),
            retarget="#plan",
            reswap="outerHTML",
            push_url=url_for("meetings.year_plan", code=network.code, year=meeting.year),
        )
    for message in messages:
        flash(message, "success")
    return redirect(url_for("meetings.show", meeting_id=meeting.id), code=303)


def meeting_form(**kwargs):
    form = MeetingForm(**kwargs)
    networks = db.session.scalars(
        select(Network).where(Network.id.in_(current_user.coordinated_network_ids)).order_by(Network.id)
    ).all()
    form.networks.choices = [SelectChoice(n.code, f"{n.code} – {n.name}") for n in networks]
    form.emergency.choices = [
        SelectChoice("", _("None")),
        SelectChoice(meetings.NEW_EMERGENCY, _("Open a new emergency with the call-in's title")),
        *(
            SelectChoice(str(e.id), e.title)
            for e in emergencies.of_networks(current_user.coordinated_network_ids)
            if e.is_open
        ),
    ]
    return form, networks


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    require("meeting.plan")
    form, networks = meeting_form(
        networks=[request.args.get("network")] if request.args.get("network") else None,
        # From an emergency's page: a call-in within it.
        **(
            {"kind": MeetingKind.EMERGENCY.value, "emergency": request.args["emergency"]}
            if "emergency" in request.args
            else {}
        ),
    )
    if form.validate_on_submit() and (
        done := carry_out(
            lambda: meetings.plan(
                [n for n in networks if n.code in form.networks.data],
                created_by=current_user,
                emergency=within(form.emergency.data),
                kind=form.kind.data,
                starts_at=form.starts_at,
                ends_at=form.ends_at,
                **meeting_values(form),
            ),
            redirect_to=lambda meeting: saved(meeting, planned_messages(meeting)),
            on_refusal=lambda error: refused_beside(form, error),
        )
    ):
        return done
    return editor(form)


def within(choice):
    """The emergency field's choice: None, ``meetings.NEW_EMERGENCY``, or the open emergency it names
    (one of the choices the form offered: the form has already refused any other)."""
    if not choice:
        return None
    return (
        meetings.NEW_EMERGENCY if choice == meetings.NEW_EMERGENCY else db.session.get(Emergency, int(choice))
    )


def refused_beside(form, error):
    """A refusal of the plan next to the field it is about: a start passed by the date, an emergency
    by its field, a full quota by the kind; the form is drawn again (None)."""
    field = (
        form.date
        if isinstance(error, meetings.InThePast)
        else form.emergency
        if isinstance(error, meetings.NotWithin)
        else form.kind
    )
    field.errors = [*field.errors, error.message]


def planned_messages(meeting):
    messages = [_("%(title)s is planned.", title=meeting.title)]
    if meeting.is_call_in:
        messages.append(
            _("The call-in is on its way to %(n)s members, ahead of other mail.", n=meeting.called)
        )
    return messages


@bp.get("/<int:meeting_id>")
@login_required
def show(meeting_id):
    meeting = load(Meeting, meeting_id, "meeting.read")
    coordinator = allows(current_user, "meeting.edit", meeting)
    rows, me = signups.signup_rows(meeting), current_user._get_current_object()
    mine = next((s for s in rows if s.member_id == me.id), None)
    # The main contact sees who from their own organisation has signed up (coordination).
    colleagues = [s for s in rows if s.organisation_id == me.organisation_id and s is not mine]
    return render_template(
        "meetings/show.html",
        meeting=meeting,
        coordinator=coordinator,
        signups=rows if coordinator else [],
        colleagues=colleagues if current_user.is_main_contact or coordinator else [],
        mine=mine,
        minutes_form=MinutesForm(minutes=meeting.minutes),
        confirm=ConfirmForm(),
    )


def back_to(meeting):
    return url_for("meetings.show", meeting_id=meeting.id)


@bp.post("/<int:meeting_id>/signup")
@login_required
def sign_up(meeting_id):
    meeting = load(Meeting, meeting_id, "meeting.sign_up")
    return carry_out(
        lambda: signups.sign_up(current_user, meeting),
        _("You are signed up. The calendar invitation is on its way by e-mail."),
        back_to(meeting),
    )


@bp.post("/<int:meeting_id>/withdraw")
@login_required
def withdraw(meeting_id):
    meeting = load(Meeting, meeting_id, "meeting.sign_up")
    return carry_out(
        lambda: signups.withdraw(current_user, meeting), _("You are no longer signed up."), back_to(meeting)
    )


@bp.route("/<int:meeting_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(meeting_id):
    """Cancelling asks first: GET shows who will be told and takes an optional message; POST cancels."""
    meeting = load(Meeting, meeting_id, "meeting.cancel")
    form = CancelForm()
    if form.validate_on_submit():
        return carry_out(
            lambda: meetings.cancel(meeting, form.message.data),
            lambda told: ngettext(
                "The meeting is cancelled; %(num)s person signed up is told.",
                "The meeting is cancelled; %(num)s people signed up are told.",
                told,
            ),
            back_to(meeting),
        )
    told = meetings.told_of_cancellation(meeting) if meeting.may_cancel else []
    status = 422 if form.errors else 200
    return render_template("meetings/cancel.html", meeting=meeting, form=form, told=told), status


@bp.post("/<int:meeting_id>/attendance")
@login_required
def attendance(meeting_id):
    meeting = load(Meeting, meeting_id, "meeting.attendance")
    attended = {int(v) for v in request.form.getlist("attended") if v.isdigit()}
    return carry_out(
        lambda: meetings.record_attendance(meeting, attended), _("Attendance is recorded."), back_to(meeting)
    )


@bp.post("/<int:meeting_id>/minutes")
@login_required
def minutes(meeting_id):
    meeting = load(Meeting, meeting_id, "meeting.minutes")
    form = MinutesForm()
    if not form.validate_on_submit():
        return form_refused(form, back_to(meeting))
    return carry_out(
        lambda: meetings.publish_minutes(meeting, form.minutes.data),
        _("The minutes are published."),
        back_to(meeting),
    )


@bp.get("/<int:meeting_id>.ics")
@login_required
def calendar_file(meeting_id):
    meeting = load(Meeting, meeting_id, "meeting.read")
    return Response(
        calendar.ics(meeting, current_app.config["MAIL_ORGANISER"]),
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="mote-{meeting.id}.ics"'},
    )


# -- emergency call-in ------------------------------------------------------------------------


INVALID_LINK = _l("This link is not valid. Check that you copied all of it.")


def called_in_by(token):
    """The meeting and the member of a call-in's "received" link."""
    payload = tokens.read("acknowledge", token)
    meeting = db.session.get(Meeting, payload.get("meeting"))
    member = db.session.get(Member, payload.get("member"))
    if meeting is None or member is None:
        raise tokens.TokenError(INVALID_LINK)
    return meeting, member


@bp.route("/received/<token>", methods=["GET", "POST"])
@limiter.limit("30 per 15 minutes")
@token_link(called_in_by)
def acknowledge(called, token):
    """The "received" link of a call-in: GET shows a button (mail scanners follow links), POST records."""
    meeting, member = called
    form = ConfirmForm()

    def page(recorded=None):
        return render_template(
            "meetings/acknowledge.html",
            meeting=meeting,
            member=member,
            form=form,
            recorded=recorded,
            already=member.id in call_ins.acknowledged_ids(meeting),
        )

    if form.validate_on_submit():
        return carry_out(
            lambda: call_ins.acknowledge(meeting, member), redirect_to=page, on_refusal=token_error
        )
    return page()


def acknowledgement_context(meeting):
    """Counts first, then a page of those who have not confirmed, by organisation, searched."""
    form = ReceiptSearchForm(request.args)
    valid = form.validate()
    text = form.q.data if valid else ""
    found = call_ins.count_waiting(meeting, text)
    page = ListPage(
        (form.page.data or 1) if valid else 1, current_app.config.get("RECEIPTS_PER_PAGE", 25), found
    )
    people = call_ins.waiting(meeting, text, limit=page.per_page, offset=page.offset) if found else []
    return {
        "meeting": meeting,
        "form": form,
        "counts": call_ins.receipt_counts(meeting),
        "page": page,
        # by organisation, in the order the model gave (organisation, then name)
        "groups": [(name, list(group)) for name, group in groupby(people, key=attrgetter("organisation"))],
    }


@bp.get("/<int:meeting_id>/acknowledgements")
@login_required
def acknowledgements(meeting_id):
    """Who has and has not confirmed a call-in; polled by htmx while the page is open, searched and
    paged in place."""
    meeting = load(Meeting, meeting_id, "call_in.follow")
    if wants_fragment("acknowledgements"):  # the poll: the counts only
        counts = call_ins.receipt_counts(meeting)
        return render_block("meetings/acknowledgements.html", "status", meeting=meeting, counts=counts)
    context = acknowledgement_context(meeting)
    if wants_fragment("receipt-results"):
        return render_block("meetings/acknowledgements.html", "results", **context)
    return render_template("meetings/acknowledgements.html", **context)


@bp.post("/<int:meeting_id>/acknowledgements/remind")
@login_required
def remind_unacknowledged(meeting_id):
    meeting = load(Meeting, meeting_id, "call_in.remind")
    return carry_out(
        lambda: call_ins.remind(meeting),
        lambda count: _("A reminder is on its way to %(n)s members.", n=count),
        url_for("meetings.acknowledgements", meeting_id=meeting.id),
    )


@bp.route("/<int:meeting_id>/edit", methods=["GET", "POST"])
@login_required
def edit(meeting_id):
    meeting = load(Meeting, meeting_id, "meeting.edit")
    form = MeetingChangeForm(obj=meeting, version=meeting.sequence)
    if request.method == "GET":
        start, end = meeting.starts_at.astimezone(OSLO), meeting.ends_at.astimezone(OSLO)
        form.date.data, form.start.data, form.end.data = start.date(), start.time(), end.time()
    conflict = []

    def refused(error):
        if not isinstance(error, meetings.EditConflict):
            form.date.errors.append(error.message)
            return
        # Someone saved first: their change stands; this editor keeps what they typed, sees the
        # meeting as it is now, and may save again over it knowingly.
        conflict.append(error.message)
        form.version.raw_data, form.version.data = None, meeting.sequence  # rendered from data, not the post

    if form.validate_on_submit() and (
        done := carry_out(
            lambda: meetings.reschedule(
                meeting, form.starts_at, form.ends_at, version=form.version.data, **meeting_values(form)
            ),
            redirect_to=lambda _result: saved(
                meeting, [_("The meeting is changed; those signed up get the updated invitation.")]
            ),
            on_refusal=refused,
        )
    ):
        return done
    return editor(form, meeting, conflict=conflict[0] if conflict else None)


def subscriber(token):
    """The member a calendar feed's address is for, while their sessions stand and they take part."""
    payload = tokens.read("calendar_feed", token)
    member = db.session.get(Member, payload.get("member"))
    if member is None or member.auth_version != payload.get("version") or not member.is_active:
        raise tokens.TokenError(INVALID_LINK)
    return member


@bp.get("/calendar/<token>.ics")
@limiter.limit("60 per hour")
@token_link(subscriber)
def calendar_feed(member, token):
    """A member's personal calendar subscription: the meetings of their networks."""
    since = utcnow() - timedelta(days=90)
    body = calendar.feed(meetings.in_feed(member, since), current_app.config["MAIL_ORGANISER"])
    # Kept by no cache (``Cache-Control: no-store``, as at every address carrying a token – app.py):
    # calendar apps fetch the feed on their own schedule and keep what they need themselves.
    return Response(body, mimetype="text/calendar")
