"""The admin for daily work in Chromium at 390 and 1280 px: search, exports, the calendar; axe and the HTML checker clean.

Screenshots: reports/screenshots/daily-<page>-<width>.png.
"""
from __future__ import annotations

import calendar as calendars
import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.browser.helpers import WIDTHS, audit_page, log_in, new_context

pytestmark = pytest.mark.browser

SLICE = "daily"


@pytest.fixture(scope="module")
def world(live_server):
    """People and sessions to find: a tag of their own so other tests' rows never match."""
    from extensions import db
    from tests.factories import make_booking, make_course, make_enquiry, make_session

    tag = uuid.uuid4().hex[:6]
    zone = ZoneInfo(live_server.app.config["SITE_TIMEZONE"])
    with live_server.app.app_context():
        enquiry = make_enquiry(name=f"Zoë Ångström {tag}", company="Nordlicht GmbH", email=f"zoe-{tag}@bücher.example",
                               message=f"We need a Kubernetes upgrade plan before the freeze ({tag}).")
        make_enquiry(name=f"محمد الأحمد {tag}", company="شركة الشبكة", message=f"نحتاج إلى مساعدة {tag}")
        course = make_course(slug=f"k8s-{tag}", title=f"Kubernetes für Einsteiger {tag}", duration_days=3)
        # Next month, the 10th to the 12th at 09:00 local time: three days in the grid.
        today = datetime.now(zone).date()
        first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        starts = datetime(first.year, first.month, 10, 9, 0, tzinfo=zone)
        session = make_session(course, starts_at=starts.astimezone(UTC),
                               ends_at=(starts + timedelta(days=2, hours=8)).astimezone(UTC), capacity=8)
        make_booking(session, name=f"Søren Ølgaard {tag}", company="Fjordnet AS", seats=3)
        found = {"tag": tag, "enquiry_id": enquiry.id, "session_id": session.id, "month": first.strftime("%Y-%m"),
                 "first": first, "course": course.title}
        db.session.remove()
    return found


@pytest.fixture(params=list(WIDTHS))
def width(request):
    return request.param


@pytest.fixture
def admin_page(browser, live_server, width):
    # The pages have no script of their own; JavaScript is on for axe-core, which runs in the page.
    context = new_context(browser, live_server, width, accept_downloads=True)
    page = context.new_page()
    log_in(page, live_server)
    yield page
    context.close()


def check_page(page, axe, vnu, name: str, width: str) -> None:
    audit_page(page, axe, vnu, name, width, SLICE)


def test_search_finds_an_enquiry_by_a_word_of_its_message(admin_page, world, axe, vnu, width):
    page = admin_page
    page.goto("/admin/")
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Search").click()
    page.get_by_label("Search enquiries, bookings, posts and comments").fill(f"kubernetes {world['tag']}")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # the form submits from its one field, as a keyboard user would
    assert page.get_by_role("heading", name=f"1 result for “kubernetes {world['tag']}”").is_visible()
    result = page.locator(".search-result").first
    assert "Nordlicht GmbH" in result.inner_text()
    assert result.locator("mark", has_text="Kubernetes").count() == 1
    check_page(page, axe, vnu, "search", width)
    result.get_by_role("link").first.click()
    assert page.url.endswith(f"/admin/enquiries/{world['enquiry_id']}")


def test_search_with_right_to_left_text_and_operators(admin_page, world, axe, vnu, width):
    page = admin_page
    page.goto("/admin/search?q=" + f'"{world["tag"]}" -kubernetes or "unclosed')
    assert page.get_by_role("heading", level=2).is_visible()
    texts = page.locator(".search-results").inner_text()
    assert f"محمد الأحمد {world['tag']}" in texts and f"Søren Ølgaard {world['tag']}" in texts
    assert "Zoë Ångström" not in texts
    check_page(page, axe, vnu, "search-rtl", width)


def test_exports_download_a_csv_for_a_date_range(admin_page, world, axe, vnu, width):
    page = admin_page
    page.goto("/admin/")
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Bookings").click()
    page.get_by_role("navigation", name="Bookings views").get_by_role("link", name="Exports (CSV)").click()
    today = datetime.now(UTC).date()
    page.get_by_label("From").fill((today - timedelta(days=1)).isoformat())
    page.get_by_label("To").fill((today + timedelta(days=1)).isoformat())
    check_page(page, axe, vnu, "exports", width)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download enquiries (CSV)").click()
    data = Path(download.value.path()).read_bytes()
    assert data.startswith("\ufeff".encode())
    names = [row["name"] for row in csv.DictReader(io.StringIO(data.decode("utf-8-sig")))]
    assert f"Zoë Ångström {world['tag']}" in names and f"محمد الأحمد {world['tag']}" in names
    with page.expect_download() as download:
        page.get_by_role("button", name="Download bookings (CSV)").click()
    bookings = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    assert f"Søren Ølgaard {world['tag']}" in bookings


def test_exports_explain_a_range_that_ends_before_it_starts(admin_page, world, axe, vnu, width):
    page = admin_page
    page.goto("/admin/exports")
    page.get_by_label("From").fill("2026-12-10")
    page.get_by_label("To").fill("2026-12-01")
    with page.expect_navigation():
        page.get_by_role("button", name="Download bookings (CSV)").click()
    assert page.get_by_text("The end date is before the start date.").is_visible()
    assert page.get_by_label("To").get_attribute("aria-invalid") == "true"
    check_page(page, axe, vnu, "exports-error", width)


def test_the_calendar_shows_each_day_of_a_three_day_session(admin_page, world, axe, vnu, width):
    page = admin_page
    page.goto("/admin/")
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Bookings").click()
    page.get_by_role("navigation", name="Bookings views").get_by_role("link", name="Calendar").click()
    with page.expect_navigation():
        page.get_by_role("link", name=f"{world['first']:%B %Y} →").click()
    assert page.locator("table.calendar caption").inner_text() == f"{world['first']:%B %Y}"
    links = page.get_by_role("link", name=world["course"])
    assert links.count() == 3
    for n, day in enumerate((10, 11, 12), start=1):
        cell = page.locator(f'td:has(time[datetime="{world["first"].replace(day=day).isoformat()}"])')
        text = cell.inner_text()
        assert world["course"] in text and "3 of 8 seats" in text
        assert (f"Day {n} of 3" if n > 1 else "day 1 of 3") in text
    if width == "phone":  # the days without sessions are not in the list
        blank = world["first"].replace(day=calendars.monthrange(world["first"].year, world["first"].month)[1])
        assert not page.locator(f'td:has(time[datetime="{blank.isoformat()}"])').is_visible() or \
            world["course"] in page.locator(f'td:has(time[datetime="{blank.isoformat()}"])').inner_text()
    check_page(page, axe, vnu, "calendar", width)
    links.first.click()
    assert page.url.endswith(f"/admin/sessions/{world['session_id']}")
