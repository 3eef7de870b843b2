"""The public training forms in Chromium (issue #15): the result of each form is where the eye is, at 390 and 1280 px."""
from __future__ import annotations

import re
import uuid

import pytest

from tests.browser.helpers import WIDTHS, new_context, screenshot

pytestmark = pytest.mark.browser

# The element's top is inside the window: the reader sees it without scrolling.
IN_VIEW = """(el) => { const r = el.getBoundingClientRect();
  return {top: Math.round(r.top), bottom: Math.round(r.bottom), height: innerHeight,
          visible: r.top >= 0 && r.top < innerHeight && r.bottom > 0}; }"""


def unique_email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:8]}@example.com"


def assert_in_view(locator, what: str) -> None:
    locator.first.wait_for()
    box = locator.first.evaluate(IN_VIEW)
    assert box["visible"], f"{what} is off-screen: top {box['top']} px, bottom {box['bottom']} px, window {box['height']} px"


@pytest.fixture(params=list(WIDTHS))
def width(request):
    return request.param


@pytest.fixture
def sized_page(browser, live_server, width):
    context = new_context(browser, live_server, width)
    yield context.new_page()
    context.close()


def book_a_seat(page, name: str, email: str, notes: str = "") -> None:
    page.goto("/training/docker")
    page.locator("a[href^='/training/sessions/'][href$='/book']:not(.button-secondary)").first.click()
    page.wait_for_url(re.compile(r"/training/sessions/\d+/book$"))
    page.locator("#name").fill(name)
    page.locator("#email").fill(email)
    if notes:
        page.locator("#notes").fill(notes)
    page.locator("#consent").check()
    page.get_by_role("button", name=re.compile("Request")).click()
    page.wait_for_url(re.compile(r"/bookings/[^/]+$"))


def test_private_course_request_confirmation_is_in_view(sized_page, live_server, width):
    page = sized_page
    page.goto("/training/docker")
    form = page.locator("#private form")
    form.scroll_into_view_if_needed()
    form.locator("input[name='private-name']").fill("Łucja Nowak-Żółć")
    form.locator("input[name='private-email']").fill(unique_email("team"))
    form.locator("input[name='private-preferred_dates']").fill("Any week in März, not Pâques")
    form.locator("input[name='private-attendees']").fill("6")
    form.locator("input[name='private-training_format'][value='online']").check()
    form.locator("input[name='private-consent']").check()
    form.get_by_role("button", name="Send the request").click()
    page.wait_for_load_state()
    assert_in_view(page.get_by_text(re.compile(r"Thank you: your request.* was sent")), "the thank-you message")
    screenshot(page, f"book-private-requested-{WIDTHS[width][0]}")


def test_private_course_request_errors_are_in_view(sized_page, live_server, width):
    page = sized_page
    page.goto("/training/docker")
    form = page.locator("#private form")
    form.locator("input[name='private-name']").fill("Ada")
    form.locator("input[name='private-email']").fill(unique_email("ada"))
    form.locator("input[name='private-attendees']").fill("0")
    form.get_by_role("button", name="Send the request").click()
    page.wait_for_load_state()
    assert_in_view(page.locator("#private #form-errors"), "the request form's error summary")


def test_booking_form_errors_are_in_view(sized_page, live_server, width):
    page = sized_page
    page.goto("/training/docker")
    page.locator("a[href^='/training/sessions/'][href$='/book']:not(.button-secondary)").first.click()
    page.wait_for_url(re.compile(r"/training/sessions/\d+/book$"))
    page.locator("#name").fill("Ada")
    page.locator("#email").fill("not an address")
    page.locator("#consent").check()
    page.get_by_role("button", name=re.compile("Request")).click()
    page.wait_for_load_state()
    assert_in_view(page.locator("#form-errors"), "the form's error summary")


def test_booking_and_cancel_results_are_in_view(sized_page, live_server, width):
    page = sized_page
    book_a_seat(page, "Ngozi Ọkàfọ̀", unique_email("ngozi"), notes="Wheelchair access, please.\nVegan.")
    assert_in_view(page.get_by_text("Thank you: your booking request is in."), "the booking's thank-you message")
    assert "Wheelchair access, please." in page.locator("main").inner_text()
    screenshot(page, f"book-booking-{WIDTHS[width][0]}")
    page.get_by_role("link", name="Cancel this booking").click()
    page.wait_for_url("**/cancel")
    page.get_by_role("button", name="Yes, cancel my booking").click()
    page.wait_for_url(re.compile(r"/bookings/[^/]+$"))
    assert_in_view(page.get_by_text("Your booking is cancelled."), "the cancellation's message")
    main = page.locator("main").inner_text()
    assert "You cancelled this booking" in main and "already" not in main
    screenshot(page, f"book-cancel-result-{WIDTHS[width][0]}")


def test_booking_pages_are_valid_html_and_show_the_waitlist_place(browser, live_server, vnu, width):
    """A waitlisted booking with notes and a price, the cancel result and the request result, checked by the Nu checker."""
    from extensions import db
    from models import Booking
    from tests.factories import make_booking, make_course, make_session

    token = f"w{uuid.uuid4().hex}{'x' * 10}"
    with live_server.app.app_context():
        session = make_session(make_course(title="Réseaux SDN", price=1450, currency="EUR"), capacity=2)
        make_booking(session, seats=2)
        make_booking(session, status=Booking.WAITLISTED, seats=1)
        make_booking(session, status=Booking.WAITLISTED, seats=2, name="Amaru Quispe", token=token,
                     notes="Necesito subtítulos.\nשלום")
        slug = session.course.slug
        db.session.remove()
    context = new_context(browser, live_server, width)
    page = context.new_page()
    response = page.goto(f"/bookings/{token}")
    main = page.locator("main").inner_text()
    assert "On the waitlist: place 2" in main and "EUR 2,900 (2 seats at EUR 1,450)" in main
    assert "Necesito subtítulos." in main and "שלום" in main
    screenshot(page, f"book-booking-waitlisted-{WIDTHS[width][0]}")
    documents = {"waitlisted booking": response.text()}
    documents["request sent"] = context.request.get(live_server(f"/training/{slug}/requested")).text()
    page.goto(f"/bookings/{token}/cancel")
    page.get_by_role("button", name="Yes, cancel my booking").click()
    page.wait_for_url(re.compile(r"/bookings/[^/]+$"))
    documents["cancel result"] = page.content()  # the page as shown, with its one-time message
    context.close()
    found = {name: errors for name, errors in vnu(documents).items() if errors}
    assert not found, found
