"""The yearly mandate review (coordinators open, follow and close it; members answer by link)
and the mandate's versions."""

from types import SimpleNamespace

from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_locale, to_user_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from blueprints.coordinator.exports import export as export_file
from blueprints.forms import ConfirmForm
from blueprints.reviews import bp
from blueprints.reviews.forms import AnswerForm, MandateForm, OpenReviewForm
from blueprints.util import ListPage, carry_out, load, network_or_404, token_link, wants_fragment
from extensions import db, limiter
from models import review as reviews
from models import situation
from models.language import datetimeformat
from models.outbox import compose, link
from models.policy import allows
from models.review import PURPOSES, Decision, ReviewCycle, ReviewResponse

# -- coordinators -----------------------------------------------------------------------------


@bp.get("/reviews/<code>/")
@login_required
def index(code):
    network = network_or_404(code, "review.read")
    cycles = db.session.scalars(
        select(ReviewCycle).where(ReviewCycle.network_id == network.id).order_by(ReviewCycle.year.desc())
    ).all()
    return render_template(
        "reviews/index.html",
        network=network,
        cycles=cycles,
        rates={c.id: reviews.progress(c) for c in cycles},
    )


@bp.route("/reviews/<code>/new", methods=["GET", "POST"])
@login_required
def new(code):
    """Choose the dates, preview who will be asked and the mail, then start."""
    network = network_or_404(code, "review.open")
    form = OpenReviewForm()
    preview = None
    if form.validate_on_submit():
        problem = reviews.check_dates(network, form.year.data, form.deadline_at, form.remind_at)
        if request.form.get("step") == "start":
            done = carry_out(
                lambda: reviews.open_cycle(
                    network, form.year.data, form.deadline_at, form.remind_at, opened_by=current_user
                ),
                lambda cycle: _(
                    "The review is open: %(n)s members are asked by e-mail.", n=reviews.progress(cycle)[0]
                ),
                lambda cycle: redirect(url_for("reviews.cycle", cycle_id=cycle.id), code=303),
                on_refusal=form.deadline,
            )
            if done:
                return done
        elif problem:
            form.deadline.errors.append(problem)
        else:
            sample = SimpleNamespace(network=network, year=form.year.data, deadline=form.deadline_at)
            preview = {
                "count": reviews.count_asked(network),
                "mail": compose(
                    current_user.email,
                    _("The yearly review of %(network)s: do you still take part?", network=network.code),
                    "review_request",
                    locale=str(get_locale()),  # the coordinator reads it in their page's language
                    name=current_user.name,
                    cycle=sample,
                    network=network,
                    url=link("reviews.answer", token="…"),
                ),
            }
    return render_template(
        "reviews/new.html", network=network, form=form, preview=preview
    ), 422 if form.errors else 200


ANSWERS_PER_PAGE = 50


def cycle_context(cycle):
    """The figures the live progress block needs, and the evaluation's: a closed cycle's as stored
    at its close, an open cycle's read from its answers when one has come since."""
    results = reviews.results(cycle)
    return {
        "cycle": cycle,
        "asked": results.asked,
        "answered": results.answered,
        "summary": results.summary,
        "purposes": PURPOSES,
        "days": results.days,
        "lapsed_count": results.lapsed,
    }


def answered_on(rows):
    """{response id: the day it was answered, written out}: each day formatted once, not once a row."""
    days, found = {}, {}
    for row in rows:
        if row.answered_at is not None:
            day = to_user_timezone(row.answered_at).date()
            if day not in days:
                days[day] = datetimeformat(row.answered_at, "d. MMM")
            found[row.id] = days[day]
    return found


LAPSED_PER_PAGE = 50


def results_context(cycle, lapsed_page=None):
    """The lapsed with their restore buttons (all, or a ``ListPage`` of them; not looked for when the
    figures say there are none), the comparison with earlier years, and the year's emergencies
    beside the fourth purpose."""
    if lapsed_page is None:
        lapsed = reviews.answer_rows(cycle, lapsed=True)
    elif lapsed_page.total:
        lapsed = reviews.answer_rows(cycle, lapsed_page.per_page, lapsed_page.offset, lapsed=True)
    else:
        lapsed = []
    return {
        "lapsed": lapsed,
        "lapsed_page": lapsed_page,
        "earlier": reviews.earlier(cycle),
        "emergencies": situation.year_summary(cycle.network, cycle.year),
    }


@bp.get("/reviews/cycle/<int:cycle_id>")
@login_required
def cycle(cycle_id):
    """The results: the evaluation for everyone who answered, and who answered what, a page at a time."""
    cycle = load(ReviewCycle, cycle_id, "review.read")
    context = cycle_context(cycle)
    if wants_fragment("progress"):  # polled while the cycle is open
        return render_block("reviews/cycle.html", "progress", **context)
    key = request.args.get("comments")  # one list of comments, opened
    context["comments"] = reviews.written(cycle, keys=(key,)) if key in reviews.COMMENT_KEYS else {}
    if key and wants_fragment(f"comments-{key}"):
        return render_block("reviews/cycle.html", "evaluation", **context)
    page = ListPage(request.args.get("page", 1, type=int), ANSWERS_PER_PAGE, context["asked"])
    rows = reviews.answer_rows(cycle, limit=page.per_page, offset=page.offset)
    answers = {"page": page, "rows": rows, "answered_on": answered_on(rows)}
    if wants_fragment("answers"):
        return render_block("reviews/cycle.html", "answers", **context, **answers)
    return render_template(
        "reviews/cycle.html",
        **results_context(
            cycle, ListPage(request.args.get("lapsed", 1, type=int), LAPSED_PER_PAGE, context["lapsed_count"])
        ),
        confirm=ConfirmForm(),
        **answers,
        **context,
    )


@bp.get("/reviews/cycle/<int:cycle_id>/report")
@login_required
def report(cycle_id):
    cycle = load(ReviewCycle, cycle_id, "review.read")
    return render_template(
        "reviews/report.html",
        rows=reviews.rows(cycle),
        comments=reviews.written(cycle),
        **results_context(cycle),
        **cycle_context(cycle),
    )


# The purposes by a short name, for the export's headers (the page shows them in full).
PURPOSE_NAMES = {
    "competence": _l("Competence and cooperation"),
    "equity": _l("Equitable services"),
    "public_health": _l("Public health"),
    "emergency": _l("Emergency communication"),
}
DECISIONS = {Decision.STAY: _l("Takes part"), Decision.LEAVE: _l("Left")}


@bp.get("/reviews/cycle/<int:cycle_id>/export.xlsx", defaults={"fmt": "xlsx"})
@bp.get("/reviews/cycle/<int:cycle_id>/export.csv", defaults={"fmt": "csv"})  # first: url_for's default
@login_required
def export(cycle_id, fmt):
    cycle = load(ReviewCycle, cycle_id, "review.read")
    purposes = [
        PURPOSE_NAMES.get(key) or _("Purpose %(n)s", n=n) for n, (key, _label) in enumerate(PURPOSES, start=1)
    ]
    header = [
        _("Name"),
        _("E-mail"),
        _("Asked"),
        _("Answered"),
        _("Decision"),
        *[_("Score: %(purpose)s", purpose=purpose) for purpose in purposes],
        *[_("Comment: %(purpose)s", purpose=purpose) for purpose in purposes],
        _("What should change"),
        _("Lapsed"),
        _("Restored"),
        _("Bounced"),
    ]
    rows = (
        [
            member.name,
            member.email,
            response.asked_at,
            response.answered_at,
            DECISIONS.get(response.decision, "") if response.decision else "",
            *[response.score(key) or "" for key, _label in PURPOSES],
            *[response.comment(key) or "" for key, _label in PURPOSES],
            response.change_wish or "",
            response.lapsed_at,
            response.restored_at,
            _("Yes") if bounced else "",
        ]
        for response, member, bounced in reviews.rows(cycle)
    )
    return export_file(
        f"gjennomgang-{cycle.network.code}-{cycle.year}",
        fmt,
        header,
        rows,
        title=_("Review %(year)s %(network)s", year=cycle.year, network=cycle.network.code),
    )


@bp.route("/reviews/cycle/<int:cycle_id>/close", methods=["GET", "POST"])
@login_required
def close(cycle_id):
    """Close ahead of the deadline: first who would lapse, then the close itself."""
    cycle = load(ReviewCycle, cycle_id, "review.close")
    if not cycle.may_close:
        flash(_("The review is already closed."), "info")
        return redirect(url_for("reviews.cycle", cycle_id=cycle.id), code=303)
    form = ConfirmForm()
    if form.validate_on_submit():
        return carry_out(
            lambda: reviews.close(cycle),
            lambda lapsed: _(
                "The review is closed; %(n)s members who did not answer are off the list.", n=lapsed
            ),
            url_for("reviews.cycle", cycle_id=cycle_id),
            on_refusal="info",  # closed meanwhile: by another press, or by the tick at the deadline
        )
    lapsing_ids = set(db.session.scalars(reviews.unanswered(cycle)))
    lapsing = [
        member for response, member, _bounced in reviews.rows(cycle) if response.membership_id in lapsing_ids
    ]
    return render_template("reviews/close.html", cycle=cycle, lapsing=lapsing, form=form)


@bp.post("/reviews/response/<int:response_id>/restore")
@login_required
def restore(response_id):
    response = load(ReviewResponse, response_id, "review.restore")
    return carry_out(
        lambda: reviews.restore(response),
        _("%(name)s is back on the list.", name=response.member.name),
        url_for("reviews.cycle", cycle_id=response.cycle_id) + "#lapsed",
    )


# -- members ------------------------------------------------------------------------------------


@bp.route("/reviews/answer/<token>", methods=["GET", "POST"])
@limiter.limit("30 per 15 minutes", methods=["POST"])
@token_link(reviews.response_for)
def answer(response, token):
    """The member's answer, from the personal link in the mail; no sign-in needed."""
    closed = reviews.answerable(response)
    form = AnswerForm(member=response.member)
    if not closed and form.validate_on_submit():
        stay = form.decision.data == "stay"
        return carry_out(
            lambda: reviews.answer(
                response,
                stay=stay,
                scores=form.scores(),
                comments=form.comments(),
                change_wish=(form.change_wish.data or "").strip() or None,
                unit=form.unit.data.strip() if stay else None,
                manager_name=form.manager_name.data.strip() if stay else None,
                manager_email=form.manager_email.data if stay else None,
            ),
            redirect_to=lambda _result: render_template(
                "reviews/answer.html", response=response, form=None, done=True
            ),
            # answered (or closed) meanwhile: say how it stands
            on_refusal=lambda error: (
                render_template("reviews/answer.html", response=response, form=None, closed=error.message),
                409,
            ),
        )
    if closed and request.method == "POST":
        return render_template("reviews/answer.html", response=response, form=None, closed=closed), 409
    return render_template(
        "reviews/answer.html", response=response, form=None if closed else form, closed=closed
    ), 422 if form.errors else 200


@bp.post("/reviews/mine/<int:response_id>/restore")
@login_required
def take_me_back(response_id):
    """A member the review lapsed puts themself back, within the grace period."""
    response = load(ReviewResponse, response_id, "review.take_back")
    return carry_out(
        lambda: reviews.take_back(response, current_user),
        _(
            "Welcome back: you are on the member list of %(network)s again.",
            network=response.cycle.network.code,
        ),
        url_for("account.index"),
    )


@bp.route("/reviews/back/<token>", methods=["GET", "POST"])
@limiter.limit("30 per 15 minutes", methods=["POST"])
@token_link(reviews.response_for_take_back)
def come_back(response, token):
    """The one-click way back mailed to a member the close lapsed: one button, no sign-in needed."""
    form = ConfirmForm()
    refusal = reviews.take_back_refusal(response)
    if refusal is None and form.validate_on_submit():
        return carry_out(
            lambda: reviews.take_back_by_link(response),
            redirect_to=lambda _result: render_template(
                "reviews/come_back.html", response=response, done=True
            ),
            # taken back meanwhile (a double click, another tab), or by the coordinator
            on_refusal=lambda error: (
                render_template("reviews/come_back.html", response=response, refusal=error.message),
                409,
            ),
        )
    status = 409 if refusal is not None and request.method == "POST" else 200
    return render_template("reviews/come_back.html", response=response, form=form, refusal=refusal), status


# -- the mandate --------------------------------------------------------------------------------


@bp.get("/mandate/<code>")
def mandate(code):
    """The current mandate and its history: public, like the network itself."""
    network = network_or_404(code)
    history = reviews.mandate_history(network)
    current = reviews.current_mandate(network)
    return render_template(
        "reviews/mandate.html",
        network=network,
        current=current,
        history=[v for v in history if v is not current],
        coordinator=allows(current_user, "mandate.record", network),
    )


@bp.route("/mandate/<code>/new", methods=["GET", "POST"])
@login_required
def new_mandate(code):
    network = network_or_404(code, "mandate.record")
    current = reviews.current_mandate(network)
    form = MandateForm(text=current.text if current else None)
    if form.validate_on_submit() and (
        done := carry_out(
            lambda: reviews.record_mandate(
                network,
                form.text.data.strip(),
                form.effective_on.data,
                (form.note.data or "").strip() or None,
                by=current_user,
            ),
            _("The new version of the mandate is recorded."),
            url_for("reviews.mandate", code=network.code),
            on_refusal=form.effective_on,
        )
    ):
        return done
    return render_template(
        "reviews/mandate_new.html", network=network, form=form
    ), 422 if form.errors else 200
