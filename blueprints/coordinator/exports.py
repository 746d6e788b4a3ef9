"""Tables as files: CSV for Excel with Norwegian settings, and XLSX."""

import csv
import io

from flask import Response
from openpyxl import Workbook
from openpyxl.styles import Font

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def to_csv(header, rows):
    """Semicolon-separated UTF-8 with a byte-order mark: how Excel in Norwegian opens it right."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8"), "text/csv; charset=utf-8"


def download(filename, body, mimetype):
    """A file to save, kept out of caches (member lists are personal data)."""
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
    })


def csv_download(filename, header, rows):
    return download(filename, *to_csv(header, rows))


def to_xlsx(header, rows):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        # A leading "=" would make a formula of a member's text: store such text as text.
        sheet.append([f"'{v}" if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in row])
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), XLSX
