"""CSV exports: no cell a client wrote can run as a spreadsheet formula, even behind a separator or a space."""
from __future__ import annotations

import csv
import io
import re

import pytest

from blueprints.csv_export import csv_cell
from tests.factories import make_booking, make_session

LIVE = [
    "=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\t=1", "\r=1",
    ";=HYPERLINK(\"http://evil.example\")", " =1+1", ",=1+1", "|=1", "'=1+1", '"=1+1', "  ;\t@SUM(A1)",
    "\u00a0=1", "\u200b=1", "\ufeff+1", "\u3000-1+1", "\t", "\r",
]
PLAIN = ["Zoë Ångström", "محمد الأحمد", "a=b", "x@example.com", "Acme; Ltd", "", "10", "3 - 2", "'quoted"]
# What a spreadsheet skips before it decides whether a cell is a formula.
SKIPPED = re.compile("^[\\s\u200b-\u200f\u2060\ufeff'\",;|]*")


@pytest.mark.parametrize("value", LIVE)
def test_a_cell_that_could_start_a_formula_is_made_text(value):
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", PLAIN)
def test_other_cells_are_left_alone(value):
    assert csv_cell(value) == value


def test_the_attendee_export_quotes_every_cell_and_defuses_every_formula(admin_client):
    session = make_session()
    for n, value in enumerate(LIVE + ["a;=HYPERLINK(\"http://evil.example\")"]):
        make_booking(session, name=value, company=value, email=f"client{n}@exämple.com")
    response = admin_client.get(f"/admin/sessions/{session.id}/attendees.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == len(LIVE) + 2
    for row in rows[1:]:
        for cell in row[:3]:
            assert cell.startswith("'") or not re.match("[=+\\-@\t\r]", SKIPPED.sub("", cell)), cell
    # Quoted, so `a;=…` stays one cell in a locale that splits on `;`.
    for line in filter(None, text.split("\r\n")[1:]):  # the writer's record end; values hold lone CR only
        assert line.startswith('"'), line
    assert '"a;=HYPERLINK' in text


def test_the_attendee_export_is_utf8_with_a_bom_so_spreadsheets_read_accents(admin_client):
    session = make_session()
    make_booking(session, name="Zoë Ångström", company="Société Générale", email="zoe@exämple.com",
                 notes="=cmd; végétarien\nsecond line")
    make_booking(session, name="محمد الأحمد", email="m@example.com")
    response = admin_client.get(f"/admin/sessions/{session.id}/attendees.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\xef\xbb\xbf") == 1
    assert "Zoë Ångström".encode() in raw and "محمد الأحمد".encode() in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0])[:6] == ["name", "email", "company", "seats", "status", "booked_at"]
    assert {"notes", "attendance_confirmed_at", "cancelled_at", "cancelled_by"} <= set(rows[0])
    assert rows[0]["notes"] == "'=cmd; végétarien\nsecond line"  # notes are the client's text: defused too
    assert rows[1]["name"] == "محمد الأحمد"
