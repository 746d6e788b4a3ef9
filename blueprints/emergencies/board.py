"""The situation board: what members report in an emergency, counted by kind, county and language
group (a table and a chart drawn on the server), the newest signals first with filters – live while
the emergency is open (htmx polls the page's live region) – and each signal's page, where a
coordinator marks it, merges a duplicate and replies to the reporter."""

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from blueprints.emergencies import bp
from blueprints.emergencies.forms import BoardFilterForm, HandleSignalForm, MergeSignalForm, ReplySignalForm
from blueprints.util import ListPage, carry_out, load, wants_fragment
from extensions import db
from models import Emergency
from models import package as packages
from models import signal as signals
from models.emergency import Language
from models.organisation import Organisation, OrganisationKind
from models.signal import BoardFilter, Signal, SignalKind

NO_COUNTY = BoardFilter.NO_COUNTY


def counties() -> list[tuple[str, str]]:
    """(county number, name) of every county municipality, by number: one query."""
    rows = db.session.execute(
        select(Organisation.number, Organisation.name)
        .where(Organisation.kind == OrganisationKind.COUNTY_MUNICIPALITY)
        .order_by(Organisation.number)
    )
    return [(number, name) for number, name in rows]


def named_languages(codes) -> list[Language]:
    codes = list(codes)
    if not codes:
        return []
    return list(
        db.session.scalars(
            select(Language)
            .where(Language.code.in_(codes))
            .order_by(Language.rank.is_(None), Language.rank, Language.code)
        )
    )


class Counts:
    """The board's counts as the table and the chart draw them: a row per county (and one for
    signals about no municipality) or per language group, a column per kind, with totals."""

    def __init__(self, by_county, by_language, county_names, languages):
        self.kinds = list(SignalKind)
        self.by_county, self.by_language = by_county, by_language
        self.county_rows = [(number, name) for number, name in county_names] + [(None, _("No municipality"))]
        self.language_rows = [(language.code, language.name) for language in languages]

    def county(self, kind, number):
        return self.by_county.get((kind.value, number), 0)

    def county_total(self, number):
        return sum(self.county(kind, number) for kind in self.kinds)

    def kind_total(self, kind):
        return sum(n for (k, _number), n in self.by_county.items() if k == kind.value)

    @property
    def total(self):
        return sum(self.by_county.values())

    def language(self, kind, code):
        return self.by_language.get((kind.value, code), 0)

    def language_total(self, code):
        return sum(self.language(kind, code) for kind in self.kinds)

    @property
    def most_kind(self):
        """The largest total of a kind (the scale of the chart by kind)."""
        return max((self.kind_total(kind) for kind in self.kinds), default=0)

    def bars(self, kind):
        """(county name, count) of the counties with signals of ``kind`` (the chart per kind)."""
        return [(name, n) for number, name in self.county_rows if (n := self.county(kind, number))]

    @property
    def kind_bars(self):
        """(kind, count) of every kind (the chart by kind)."""
        return [(kind.label, self.kind_total(kind)) for kind in self.kinds]


def board_context(emergency: Emergency) -> dict:
    county_names = counties()
    by_language = signals.counts_by_language(emergency)
    languages = named_languages({code for _kind, code in by_language})
    form = BoardFilterForm(county_names, languages, request.args)
    valid = form.validate()
    filters = (
        BoardFilter(form.kind.data, form.county.data, form.language.data, form.status.data, form.urgency.data)
        if valid
        else BoardFilter()
    )
    found = signals.board_count(emergency, filters)
    page = ListPage(
        (form.page.data or 1) if valid else 1, current_app.config.get("BOARD_SIGNALS_PER_PAGE", 25), found
    )
    rows = signals.board_signals(emergency, filters, page.per_page, page.offset) if found else []
    counts = Counts(signals.counts_by_county(emergency), by_language, county_names, languages)
    filtered = {
        name: value for name, value in request.args.items() if name in form.data and name != "page" and value
    }
    return {
        "emergency": emergency,
        "form": form,
        "page": page,
        "signals": rows,
        "counts": counts,
        "filtered": filtered,
        # the polling address: the same filters and page
        "live_url": url_for(".board", emergency_id=emergency.id, **request.args.to_dict()),
    }


@bp.get("/<int:emergency_id>/board")
@login_required
def board(emergency_id):
    """The situation board; htmx polls its live region every few seconds while the emergency is open."""
    emergency = load(Emergency, emergency_id, "board.read")
    context = board_context(emergency)
    if wants_fragment("board-live"):
        return render_block("emergencies/board.html", "live", **context)
    # the packages' reach, under the live region (not polled)
    return render_template("emergencies/board.html", coverage=packages.coverage(emergency), **context)


def signal_page(signal, handle_form=None, merge_form=None, reply_form=None, status=200):
    return render_template(
        "emergencies/board_signal.html",
        signal=signal,
        emergency=signal.emergency,
        duplicates=signals.duplicates_of(signal),
        replies=signals.replies_to(signal),
        handle_form=handle_form
        or HandleSignalForm(status=signal.status.value, note=signal.note, formdata=None),
        merge_form=merge_form or MergeSignalForm(formdata=None),
        reply_form=reply_form or ReplySignalForm(formdata=None),
    ), status


@bp.get("/board/signals/<int:signal_id>")
@login_required
def board_signal(signal_id):
    signal = load(Signal, signal_id, "board.read")
    return signal_page(signal)


@bp.post("/board/signals/<int:signal_id>/handle")
def handle_signal(signal_id):
    signal = load(Signal, signal_id, "signal.handle")
    form = HandleSignalForm()
    if form.validate_on_submit() and (
        done := carry_out(
            lambda: signals.handle(signal, form.status.data, form.note.data, by=current_user),
            lambda changed: (
                _("The signal is marked “%(status)s”.", status=signal.status.label)
                if changed
                else (_("The signal was already marked so: nothing changed."), "info")
            ),
            url_for(".board_signal", signal_id=signal.id),
            on_refusal=form.note,
        )
    ):
        return done
    return signal_page(signal, handle_form=form, status=422)


@bp.post("/board/signals/<int:signal_id>/merge")
def merge_signal(signal_id):
    signal = load(Signal, signal_id, "signal.handle")
    form = MergeSignalForm()
    if form.validate_on_submit() and (
        done := carry_out(
            lambda: signals.merge(signal, form.into.data, by=current_user),
            lambda into: _("The signal is merged into number %(n)s: it counts once, as that one.", n=into.id),
            lambda into: signal_redirect(into),
            on_refusal=form.into,
        )
    ):
        return done
    return signal_page(signal, merge_form=form, status=422)


def signal_redirect(signal):
    return redirect(url_for(".board_signal", signal_id=signal.id), code=303)


@bp.post("/board/signals/<int:signal_id>/reply")
def reply_signal(signal_id):
    signal = load(Signal, signal_id, "signal.reply")
    form = ReplySignalForm()
    if form.validate_on_submit() and (
        done := carry_out(
            lambda: signals.reply(signal, form.body.data, by=current_user),
            _("The reply is on its way to the reporter by e-mail."),
            url_for(".board_signal", signal_id=signal.id),
            on_refusal=form.body,
        )
    ):
        return done
    return signal_page(signal, reply_form=form, status=422)
