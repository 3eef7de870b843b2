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
    """An attachment of `rows` under `header`, every cell through csv_cell."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=QUOTING)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
    })
