"""The admin calendar: sessions in a month grid in SITE_TIMEZONE, each day of a multi-day session, seats held."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone

import pytest

from blueprints.training import month as months
from models import Booking, TrainingSession
from tests.factories import make_booking, make_course, make_session

UTC = timezone.utc


@pytest.fixture
def app_config():
    return {"SITE_TIMEZONE": "Europe/Berlin"}


def cell(page: str, day: str) -> str:
    """The table cell of one day (by its ISO date)."""
    match = re.search(rf'<td class="[^"]*">\s*<p class="calendar-date"><time datetime="{day}".*?</td>', page, re.S)
    assert match, f"no cell for {day}"
    return match.group(0)


def test_a_month_shows_each_day_of_a_multi_day_session_with_its_seats(admin_client):
    course = make_course(title="Kubernetes für Einsteiger")
    # 29 March 2027 07:00 UTC is 09:00 in Berlin (summer time began on the 28th); ends on the 31st.
    session = make_session(course, starts_at=datetime(2027, 3, 29, 7, 0, tzinfo=UTC),
                           ends_at=datetime(2027, 3, 31, 15, 0, tzinfo=UTC), capacity=8)
    make_booking(session, seats=3)
    make_booking(session, seats=2, status=Booking.CONFIRMED)
    make_booking(session, seats=4, status=Booking.CANCELLED)
    page = admin_client.get("/admin/calendar?month=2027-03").get_data(as_text=True)
    assert "<caption>March 2027</caption>" in page
    first, second, third = cell(page, "2027-03-29"), cell(page, "2027-03-30"), cell(page, "2027-03-31")
    for c in (first, second, third):
        assert f'href="/admin/sessions/{session.id}"' in c and "Kubernetes für Einsteiger" in c
        assert "5 of 8 seats" in c
    assert "09:00" in first and "day 1 of 3" in first
    assert "Day 2 of 3" in second and "Day 3 of 3" in third
    assert "Kubernetes" not in cell(page, "2027-03-28") and "Kubernetes" not in cell(page, "2027-04-01")


def test_a_day_is_the_consultants_day_not_utcs(admin_client):
    # 23:30 UTC on 30 April is 01:30 on 1 May in Berlin: it is on May's first day.
    make_session(make_course(title="Late night"), starts_at=datetime(2027, 4, 30, 23, 30, tzinfo=UTC),
                 ends_at=datetime(2027, 5, 1, 2, 0, tzinfo=UTC))
    may = admin_client.get("/admin/calendar?month=2027-05").get_data(as_text=True)
    assert "Late night" in cell(may, "2027-05-01") and "01:30" in cell(may, "2027-05-01")
    assert "Late night" not in cell(may, "2027-04-30")  # the grid's leading April days


def test_full_cancelled_and_private_sessions_say_so(admin_client):
    full = make_session(make_course(title="Full one"), starts_at=datetime(2027, 6, 8, 8, 0, tzinfo=UTC), capacity=2)
    make_booking(full, seats=2)
    make_session(make_course(title="Called off"), starts_at=datetime(2027, 6, 9, 8, 0, tzinfo=UTC),
                 status=TrainingSession.CANCELLED)
    make_session(make_course(title="For one client"), starts_at=datetime(2027, 6, 10, 8, 0, tzinfo=UTC), is_private=True)
    page = admin_client.get("/admin/calendar?month=2027-06").get_data(as_text=True)
    assert "2 of 2 seats, full" in cell(page, "2027-06-08") and "fill-full" in cell(page, "2027-06-08")
    assert "Cancelled" in cell(page, "2027-06-09") and "calendar-cancelled" in cell(page, "2027-06-09")
    assert "private" in cell(page, "2027-06-10")
    assert "3 sessions this month." in page


def test_previous_and_next_months_and_today(admin_client):
    page = admin_client.get("/admin/calendar?month=2027-01").get_data(as_text=True)
    assert 'rel="prev" href="/admin/calendar?month=2026-12"' in page
    assert 'rel="next" href="/admin/calendar?month=2027-02"' in page
    this_month = admin_client.get("/admin/calendar").get_data(as_text=True)
    assert 'aria-current="date"' in this_month and "This month" not in this_month.split("<table")[0]


@pytest.mark.parametrize("value", ["2027-13", "2027-00", "1999-12", "2101-01", "27-01", "2027-1", "abc", "2027-01-01"])
def test_a_month_that_is_no_month_is_not_found(admin_client, value):
    assert admin_client.get(f"/admin/calendar?month={value}").status_code == 404


def test_the_grid_starts_on_monday_and_holds_whole_weeks(app):
    grid = months.build(date(2027, 2, 1), "Europe/Berlin", date(2027, 2, 10))
    assert grid.weeks[0][0].date == date(2027, 2, 1) and grid.weeks[0][0].date.weekday() == 0
    assert all(len(week) == 7 for week in grid.weeks) and grid.weeks[-1][-1].date == date(2027, 2, 28)
    assert [d.is_today for week in grid.weeks for d in week].count(True) == 1


def test_the_calendar_is_for_the_signed_in_consultant_only(client):
    response = client.get("/admin/calendar")
    assert response.status_code in (302, 303) and "/admin/login" in response.headers["Location"]
