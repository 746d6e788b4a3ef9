"""Tables as files: CSV for Excel with Norwegian settings, and XLSX.

Every export writes its cells through ``csv_cell`` or ``xlsx_row``: a member's text never becomes
a formula in the coordinator's spreadsheet (CSV formula injection, OWASP).  In CSV, text starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading single quote (the csv module
quotes embedded separators and quotes); in XLSX every text is stored as a string cell, which a
spreadsheet shows as it is – no formula, no apostrophe, ``+47 22 00 00 00`` intact.
"""

import csv
import io
from datetime import date, datetime

from flask import Response
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What a spreadsheet reads as the start of a formula (or of a DDE call) in a CSV cell.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """One CSV cell: text that a spreadsheet would take as a formula gets a leading ``'``;
    numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return value
    text = value.isoformat() if isinstance(value, (date, datetime)) else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(header, rows):
    """Semicolon-separated UTF-8 with a byte-order mark: how Excel in Norwegian opens it right."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([csv_cell(v) for v in header])
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8"), "text/csv; charset=utf-8"


def download(filename, body, mimetype):
    """A file to save, kept out of caches (member lists are personal data)."""
    return Response(
        body,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def csv_download(filename, header, rows):
    return download(filename, *to_csv(header, rows))


def xlsx_row(sheet, row_number, values):
    """Write one row: numbers and dates as such, every text as an explicit string cell (never a
    formula, an error code or a rich value), without the characters XLSX cannot hold."""
    cells = []
    for column, value in enumerate(values, start=1):
        cell = sheet.cell(row=row_number, column=column)
        if value is None:
            pass
        elif isinstance(value, (int, float, date, datetime)) and not isinstance(value, bool):
            cell.value = value
        else:
            cell.value = ILLEGAL_CHARACTERS_RE.sub("", str(value))
            cell.data_type = "s"  # set after the value: openpyxl makes "=…" a formula, "#N/A" an error
        cells.append(cell)
    return cells


def to_xlsx(header, rows):
    workbook = Workbook()
    sheet = workbook.active
    for cell in xlsx_row(sheet, 1, header):
        cell.font = Font(bold=True)
    for row_number, row in enumerate(rows, start=2):
        xlsx_row(sheet, row_number, row)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), XLSX
