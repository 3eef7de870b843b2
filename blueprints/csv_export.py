"""CSV downloads from the admin: every cell safe to open in a spreadsheet (no CSV/formula injection)."""
from __future__ import annotations

import csv
import io
import re

from flask import Response

# What a spreadsheet may run as a formula once it has skipped what comes before: leading spaces,
# quotes, and a separator some locale splits on (`;=cmd` opens as a cell `=cmd` where `;` separates).
FORMULA = re.compile("^[\\s\u200b-\u200f\u2060\ufeff'\",;|]*[=+\\-@\t\r]")
# Every cell is quoted, so a separator inside a value (`a;=cmd`) cannot start a new cell in any locale.
QUOTING = csv.QUOTE_ALL


def csv_cell(value) -> str:
    """The text of a cell; a leading apostrophe makes one that could start a formula plain text."""
    text = "" if value is None else str(value)
    return "'" + text if FORMULA.match(text) else text


def csv_response(filename: str, header, rows) -> Response:
    """An attachment of `rows` under `header`, every cell through csv_cell.

    UTF-8 with a byte order mark: without it Excel reads the file in the system's code page and shows
    "ZoÃ«" for "Zoë"; LibreOffice and Numbers read the mark as UTF-8 too and do not show it.
    """
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, quoting=QUOTING)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return Response(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
    })
