"""Tables as files: CSV for Excel with Norwegian settings, and XLSX – every export goes through here.

One place formats every cell, whatever the export (member lists, review answers, advice):

- headers and labels in the reader's language (lazy strings and labelled enums are rendered in the
  request's locale);
- a time as ``YYYY-MM-DD HH:MM`` in Europe/Oslo in CSV (Excel reads it as a date and time), a date as
  ``YYYY-MM-DD``; in XLSX as a real date cell in Oslo time (naive, as spreadsheets want it) with a
  number format;
- no member's text ever becomes a formula in the coordinator's spreadsheet (CSV formula injection,
  OWASP).  In CSV, text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
  leading single quote (the csv module quotes embedded separators and quotes); in XLSX every text is
  stored as a string cell, which a spreadsheet shows as it is – no formula, no apostrophe,
  ``+47 22 00 00 00`` intact.
"""

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from flask import Response
from flask_babel import to_user_timezone
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from models.types import LabelledEnum

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What a spreadsheet reads as the start of a formula (or of a DDE call) in a CSV cell.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_DATETIME = "%Y-%m-%d %H:%M"
CSV_DATE = "%Y-%m-%d"
XLSX_DATETIME = "yyyy-mm-dd hh:mm"
XLSX_DATE = "yyyy-mm-dd"
# What Excel does not allow in a sheet's name; and its length.
SHEET_REFUSED = re.compile(r"[\[\]:*?/\\]")
SHEET_LENGTH = 31


def local_time(value: datetime) -> datetime:
    """An aware time as the wall-clock time in Oslo (the app's zone), naive: what a spreadsheet shows."""
    return to_user_timezone(value).replace(tzinfo=None) if value.tzinfo else value


def plain(value: Any) -> Any:
    """A value as a cell holds it: a label for a labelled enum, the text of a translated string,
    Oslo wall-clock time for a time; numbers, dates and text as they are."""
    if value is None:
        return None
    if isinstance(value, LabelledEnum):
        return str(value.label)
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, (bool, int, float, date, str)):
        return value
    return str(value)  # a lazy (translated) string, or anything else shown as text


def csv_cell(value: Any) -> Any:
    """One CSV cell: text that a spreadsheet would take as a formula gets a leading ``'``;
    numbers stay numbers; times and dates are written the way Excel reads them."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, datetime):
        return value.strftime(CSV_DATETIME)
    if isinstance(value, date):
        return value.strftime(CSV_DATE)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> tuple[bytes, str]:
    """Semicolon-separated UTF-8 with a byte-order mark: how Excel in Norwegian opens it right."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([csv_cell(v) for v in header])
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8"), "text/csv; charset=utf-8"


def download(filename: str, body: bytes | str, mimetype: str) -> Response:
    """A file to save, kept out of caches (member lists are personal data)."""
    return Response(
        body,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def csv_download(filename: str, header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Response:
    return download(filename, *to_csv(header, rows))


def xlsx_row(sheet: Any, row_number: int, values: Sequence[Any]) -> list[Any]:
    """Write one row: numbers and dates as such (times in Oslo, with a number format), every text
    as an explicit string cell (never a formula, an error code or a rich value), without the
    characters XLSX cannot hold."""
    cells = []
    for column, raw in enumerate(values, start=1):
        cell = sheet.cell(row=row_number, column=column)
        value = plain(raw)
        if value is None:
            pass
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            cell.value = value
        elif isinstance(value, (date, datetime)):
            cell.value = value
            cell.number_format = XLSX_DATETIME if isinstance(value, datetime) else XLSX_DATE
        else:
            cell.value = ILLEGAL_CHARACTERS_RE.sub("", str(value))
            cell.data_type = "s"  # set after the value: openpyxl makes "=…" a formula, "#N/A" an error
        cells.append(cell)
    return cells


def sheet_title(title: Any) -> str:
    """A name Excel takes for a sheet: without ``[]:*?/\\``, at most 31 characters, never empty."""
    text = " ".join(SHEET_REFUSED.sub(" ", str(title)).split()).strip("'")[:SHEET_LENGTH].strip()
    return text or "Sheet"


def to_xlsx(header: Sequence[Any], rows: Iterable[Sequence[Any]], title: Any = None) -> tuple[bytes, str]:
    workbook = Workbook()
    sheet = workbook.active
    if title is not None:
        sheet.title = sheet_title(title)
    for cell in xlsx_row(sheet, 1, header):
        cell.font = Font(bold=True)
    widths: dict[int, int] = {}
    for row_number, row in enumerate(rows, start=2):
        for cell in xlsx_row(sheet, row_number, row):
            if isinstance(cell.value, datetime):
                widths[cell.column] = 16
    for column, width in widths.items():
        sheet.column_dimensions[sheet.cell(row=1, column=column).column_letter].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), XLSX


def export(
    filename: str, fmt: str, header: Sequence[Any], rows: Iterable[Sequence[Any]], title: Any = None
) -> Response:
    """The table as a file to download: ``fmt`` "csv" or "xlsx" (its sheet named ``title``)."""
    if fmt == "xlsx":
        return download(f"{filename}.xlsx", *to_xlsx(header, rows, title))
    return download(f"{filename}.csv", *to_csv(header, rows))
