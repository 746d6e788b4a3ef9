"""The situation board: what members report in an emergency, counted by kind, county and language
group (a table and a chart drawn on the server), the newest signals first with filters – live while
the emergency is open (htmx polls the page's live region) – and each signal's page, where a
coordinator marks it, merges a duplicate and replies to the reporter."""

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import to_user_timezone
from flask_login import current_user, login_required
from jinja2_fragments.flask import render_block

from blueprints.emergencies import bp
from blueprints.emergencies.forms import BoardFilterForm, HandleSignalForm, MergeSignalForm, ReplySignalForm
from blueprints.util import ListPage, carry_out, load, wants_fragment
from models import Emergency
from models import package as packages
from models import signal as signals
from models.language import dateformat
from models.signal import BoardFilter, Signal, SignalKind, SignalStatus, Urgency

NO_COUNTY = BoardFilter.NO_COUNTY


class Counts:
    """The board's counts as the table and the chart draw them, worked out once as plain values
    (the template only loops over them): a row per county (and one for signals about no
    municipality) or per language group – (name, a count per kind, total) – and the totals per kind."""

    def __init__(self, by_county, by_language, county_names, languages):
        self.kinds = list(SignalKind)
        values = [kind.value for kind in self.kinds]

        def row(name, counts, key):
            cells = [counts.get((kind, key), 0) for kind in values]
            return name, cells, sum(cells)

        self.county_rows = [
            row(name, by_county, number) for number, name in [*county_names, (None, _("No municipality"))]
        ]
        self.language_rows = [row(language.name, by_language, language.code) for language in languages]
        self.kind_totals = [sum(n for (k, _number), n in by_county.items() if k == kind) for kind in values]
        self.total = sum(by_county.values())
        self.kind_bars = bars([(kind.label, n) for kind, n in zip(self.kinds, self.kind_totals, strict=True)])
        # a chart per kind with signals: (kind, [(county name, count, bar) of the counties with some])
        self.charts = [
            (kind, bars([(name, cells[i]) for name, cells, _total in self.county_rows if cells[i]]))
            for i, kind in enumerate(self.kinds)
            if self.kind_totals[i]
        ]


def bars(rows):
    """A chart's rows as (label, count, its bar's width): the longest bar 250 units wide."""
    top = max([n for _label, n in rows] + [1])
    return [(label, n, n * 250 // top) for label, n in rows]


def shown(rows):
    """Each listed signal's (and its duplicates') texts, by id, worked out once a request rather than
    once a row in the template: its heading, when it was reported (a day's date formatted once,
    the time of day by Python) and the language groups it names."""
    heading = _("No. %(n)s: %(kind)s", n="{n}", kind="{kind}")
    kinds = {kind: str(kind.label) for kind in SignalKind}
    days: dict = {}
    texts = {}
    for s in [*rows, *(d for row in rows for d in row.duplicates)]:
        local = to_user_timezone(s.created_at)
        day = days.get(local.date())
        if day is None:
            day = days[local.date()] = dateformat(local.date(), "d. MMMM y")
        texts[s.id] = (
            heading.format(n=s.id, kind=kinds[s.kind]),
            f"{day} {local:%H:%M}",
            ", ".join(language.name for language in s.languages),
        )
    return texts


def board_context(emergency: Emergency) -> dict:
    # the reference rows (counties, language groups) come with their counts: two queries
    county_names, by_county = signals.board_counts(emergency)
    languages, by_language = signals.counts_by_named_language(emergency)
    form = BoardFilterForm(county_names, languages, request.args)
    valid = form.validate()
    filters = (
        BoardFilter(form.kind.data, form.county.data, form.language.data, form.status.data, form.urgency.data)
        if valid
        else BoardFilter()
    )
    counts = Counts(by_county, by_language, county_names, languages)
    # unfiltered, the list is every signal counted: its length is the counts' total
    found = signals.board_count(emergency, filters) if filters.narrowed else counts.total
    page = ListPage(
        (form.page.data or 1) if valid else 1, current_app.config.get("BOARD_SIGNALS_PER_PAGE", 25), found
    )
    rows = signals.board_signals(emergency, filters, page.per_page, page.offset) if found else []
    filtered = {
        name: value for name, value in request.args.items() if name in form.data and name != "page" and value
    }
    return {
        "emergency": emergency,
        "form": form,
        "page": page,
        "signals": rows,
        "counts": counts,
        # each kind's, status's and urgency's label translated once, not once a signal
        "labels": {
            "kind": {kind: str(kind.label) for kind in SignalKind},
            "status": {status: str(status.label) for status in SignalStatus},
            "urgency": {urgency: str(urgency.label) for urgency in Urgency},
        },
        "shown": shown(rows),
        "signal_url": url_for(".board_signal", signal_id=0)[:-1],  # + a signal's id
        "named_languages": languages,  # (for the coverage; "languages" is the layout's)
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
    return render_template(
        "emergencies/board.html",
        coverage=packages.coverage(emergency, asked=context["named_languages"]),
        **context,
    )


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
