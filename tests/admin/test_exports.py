"""CSV exports of all enquiries and all bookings for a date range: UTF-8 with a BOM, formula-safe, the range in SITE_TIMEZONE."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest

from tests.factories import make_booking, make_course, make_enquiry, make_session

UTC = timezone.utc


@pytest.fixture
def app_config():
    return {"SITE_TIMEZONE": "Europe/Berlin"}


def read_csv(response) -> list[dict]:
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode()), "no byte order mark: Excel would misread the accents"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def test_every_enquiry_in_the_range_with_the_days_read_in_the_consultants_zone(admin_client):
    # 23:30 UTC on 31 Oct is 00:30 on 1 Nov in Berlin: inside a range that starts on 1 November.
    inside = make_enquiry(name="Zoë Ångström", email="zoë@bücher.example", company="محمد الأحمد",
                          message="Ligne 1\nLigne 2, «citée»", created_at=datetime(2026, 10, 31, 23, 30, tzinfo=UTC))
    late = make_enquiry(name="Late", created_at=datetime(2026, 11, 30, 22, 59, tzinfo=UTC))  # 23:59 in Berlin
    make_enquiry(name="Before", created_at=datetime(2026, 10, 31, 22, 30, tzinfo=UTC))  # 23:30 on 31 Oct
    make_enquiry(name="After", created_at=datetime(2026, 11, 30, 23, 0, tzinfo=UTC))  # 00:00 on 1 Dec
    response = admin_client.get("/admin/exports/enquiries.csv?start=2026-11-01&end=2026-11-30")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="enquiries-2026-11-01-to-2026-11-30.csv"'
    rows = read_csv(response)
    assert [r["name"] for r in rows] == ["Zoë Ångström", "Late"]
    first = rows[0]
    assert first["id"] == str(inside.id) and first["received_at"] == "2026-11-01T00:30:00+01:00"
    assert (first["email"], first["company"], first["message"]) == ("zoë@bücher.example", "محمد الأحمد",
                                                                    "Ligne 1\nLigne 2, «citée»")
    assert first["status"] == "New" and first["kind"] == "Contact"
    assert rows[1]["id"] == str(late.id)


def test_no_dates_means_everything(admin_client):
    for n in range(3):
        make_enquiry(name=f"Person {n}")
    response = admin_client.get("/admin/exports/enquiries.csv")
    assert len(read_csv(response)) == 3
    assert 'filename="enquiries-all-' in response.headers["Content-Disposition"]


def test_every_booking_in_the_range_with_its_session(admin_client):
    course = make_course(title="Kubernetes für Einsteiger")
    session = make_session(course, starts_at=datetime(2027, 3, 28, 8, 0, tzinfo=UTC), timezone="Europe/Berlin")
    booking = make_booking(session, name="Søren Ølgaard", company="=HYPERLINK(\"http://evil.example\")", seats=2,
                           created_at=datetime(2026, 11, 15, 10, 0, tzinfo=UTC))
    make_booking(session, name="Too early", created_at=datetime(2026, 10, 1, 10, 0, tzinfo=UTC))
    response = admin_client.get("/admin/exports/bookings.csv?start=2026-11-01")
    assert response.headers["Content-Disposition"] == 'attachment; filename="bookings-2026-11-01-to-now.csv"'
    rows = read_csv(response)
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == str(booking.id) and row["name"] == "Søren Ølgaard" and row["seats"] == "2"
    assert row["company"] == "'=HYPERLINK(\"http://evil.example\")"  # formula-safe
    assert row["course"] == "Kubernetes für Einsteiger"
    assert row["session_starts_at"] == "2027-03-28T10:00:00+02:00"  # after the clocks went forward
    assert row["status"] == "Awaiting confirmation" and row["booked_at"] == "2026-11-15T11:00:00+01:00"


def test_every_cell_is_quoted_so_no_separator_starts_a_cell(admin_client):
    make_enquiry(name="a;=cmd", company="+SUM(1)", message="@x")
    text = admin_client.get("/admin/exports/enquiries.csv").get_data().decode("utf-8-sig")
    header, line = text.splitlines()[:2]
    assert header.startswith('"id","received_at"')
    assert '"a;=cmd"' in line and "\"'+SUM(1)\"" in line and "\"'@x\"" in line


@pytest.mark.parametrize("query", ["start=2026-12-01&end=2026-11-01", "start=yesterday", "end=2026-13-45",
                                   "start=1899-01-01", "start=99999-01-01", "end=%00"])
def test_a_bad_range_is_a_form_error_not_a_file(admin_client, query):
    for path in ("/admin/exports/enquiries.csv", "/admin/exports/bookings.csv"):
        response = admin_client.get(f"{path}?{query}")
        assert response.status_code in (422, 404), query  # NUL in a URL is a 404 before any view
        if response.status_code == 422:
            page = response.get_data(as_text=True)
            assert response.mimetype == "text/html" and 'aria-invalid="true"' in page


def test_the_exports_page_offers_both_downloads(admin_client):
    page = admin_client.get("/admin/exports").get_data(as_text=True)
    assert 'formaction="/admin/exports/enquiries.csv"' in page and 'formaction="/admin/exports/bookings.csv"' in page
    assert "Europe/Berlin" in page and '<label for="start">From' in page


def test_exports_are_for_the_signed_in_consultant_only(client):
    for path in ("/admin/exports", "/admin/exports/enquiries.csv", "/admin/exports/bookings.csv"):
        response = client.get(path)
        assert response.status_code in (302, 303) and "/admin/login" in response.headers["Location"]
