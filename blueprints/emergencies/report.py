"""The situation report of an emergency: a printable page, a CSV (or XLSX) file and a short text
summary, for the whole emergency or one day – anonymised (no reporter, no member's name or
address), for the coordinators of its networks and the observers' members (FHI, IMDi) in them."""

from datetime import date

from flask import Response, abort, render_template, request
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import login_required
from wtforms.fields.choices import SelectChoice

from blueprints.coordinator.exports import export as export_file
from blueprints.emergencies import bp
from blueprints.emergencies.forms import ReportDayForm
from blueprints.util import load
from models import Emergency, situation


def chosen_day(emergency: Emergency) -> tuple[ReportDayForm, date | None]:
    """The ``?day=`` form with the emergency's days (Norwegian time) offered, and the day chosen
    (None: the whole emergency, also when the day is not one of its days – the form then says so)."""
    form = ReportDayForm(request.args)
    days = situation.days_of(emergency)
    form.day.choices = [SelectChoice("", _("The whole emergency"))] + [
        SelectChoice(day.isoformat(), format_date(day, "EEEE d. MMMM y")) for day in days
    ]
    if not form.validate() or not form.day.data:
        return form, None
    return form, date.fromisoformat(form.day.data)


def summary_text(report: situation.SituationReport) -> str:
    return render_template("emergencies/report_summary.txt", report=report, emergency=report.emergency)


@bp.get("/<int:emergency_id>/report")
@login_required
def situation_report(emergency_id):
    """The report as a page to read, print, or copy the summary from."""
    emergency = load(Emergency, emergency_id, "situation.report")
    form, day = chosen_day(emergency)
    report = situation.report(emergency, day)
    return render_template(
        "emergencies/report.html",
        emergency=emergency,
        report=report,
        form=form,
        summary=summary_text(report),
        max_main=situation.MAIN_SIGNALS,
    ), 422 if form.errors else 200


def _day_or_404(emergency: Emergency) -> date | None:
    form, day = chosen_day(emergency)
    if form.errors:
        abort(404)
    return day


@bp.get("/<int:emergency_id>/report.xlsx", defaults={"fmt": "xlsx"})
@bp.get("/<int:emergency_id>/report.csv", defaults={"fmt": "csv"})  # first: url_for's default
@login_required
def situation_report_export(emergency_id, fmt):
    """One row per counted signal of the period, without its reporter."""
    emergency = load(Emergency, emergency_id, "situation.report")
    day = _day_or_404(emergency)
    header = [
        _("Reported"),
        _("Kind"),
        _("Urgency"),
        _("Municipality"),
        _("County"),
        _("Language groups"),
        _("Status"),
        _("Note"),
        _("Text"),
    ]
    name = f"situasjon-{emergency.id}" + (f"-{day.isoformat()}" if day else "")
    return export_file(name, fmt, header, situation.export_rows(emergency, day), title=_("Situation report"))


@bp.get("/<int:emergency_id>/report.txt")
@login_required
def situation_summary(emergency_id):
    """The short summary as plain text, to paste into a mail."""
    emergency = load(Emergency, emergency_id, "situation.report")
    report = situation.report(emergency, _day_or_404(emergency))
    return Response(
        summary_text(report),
        mimetype="text/plain",
        headers={"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"},
    )
