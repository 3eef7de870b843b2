"""Whole journeys in Chromium against the live server, with the mail read from the real SMTP server."""
from __future__ import annotations

import re
import uuid

import pytest

from tests.browser.helpers import body_text, links_in, new_context, tab_to, type_into

pytestmark = pytest.mark.browser


def unique_email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:8]}@example.com"


def test_enquiry_reply_journey_by_keyboard_only(page, live_server):
    """A client sends an enquiry and the consultant replies, with Tab, Enter, Space and typing alone: no clicks."""
    client = unique_email("keyboard")
    name = f"Keyboard Client {uuid.uuid4().hex[:4]}"
    reply = "Thanks for the details. I can start the migration plan next Tuesday."
    keys = page.keyboard

    # The client arrives on the home page and finds the contact form through the main navigation.
    page.goto("/")
    tab_to(page, "nav[aria-label=Main] a[href='/contact']")
    keys.press("Enter")
    page.wait_for_url("**/contact")
    type_into(page, "#name", name)
    type_into(page, "#email", client)
    type_into(page, "#company", "Keyboard Ltd")
    tab_to(page, "#topic")
    keys.type("Private")  # a closed <select> picks the option whose text starts with what is typed
    assert page.eval_on_selector("#topic", "el => el.value") == "private-cloud"
    type_into(page, "#message", "We run 40 VMware hosts and want to move the test estate to OpenStack this year.")
    tab_to(page, "#consent")
    keys.press("Space")
    tab_to(page, "form.contact-form button[type=submit]")
    keys.press("Enter")
    page.wait_for_url("**/contact/thanks*")
    assert "Thank you" in page.locator("h1").inner_text()

    acknowledgement = live_server.mail.to(client, "Thank you")
    assert name in body_text(acknowledgement)
    notification = live_server.mail.wait_for(
        lambda m: client in str(m.get("Reply-To", "")), what=f"a notification with Reply-To {client}"
    )
    assert live_server.app.config["CONSULTANT_EMAIL"] in str(notification["To"])

    # The consultant signs in, finds the enquiry in the inbox and replies.
    page.goto("/admin/login")
    type_into(page, "#email", live_server.admin_email)
    type_into(page, "#password", live_server.admin_password)
    keys.press("Enter")  # Enter in a field submits its form
    page.wait_for_url(re.compile(r"/admin/?$"))
    tab_to(page, "nav[aria-label=Admin] a[href='/admin/enquiries']")
    keys.press("Enter")
    page.wait_for_url("**/admin/enquiries")
    focused = tab_to(page, "a[href^='/admin/enquiries/']", text=name)
    assert name in focused
    keys.press("Enter")
    page.wait_for_url(re.compile(r"/admin/enquiries/\d+$"))
    type_into(page, "#body", reply)
    tab_to(page, "form[action$='/reply'] button[type=submit]")
    keys.press("Enter")
    page.wait_for_url(re.compile(r"/admin/enquiries/\d+"))
    assert f"Reply queued to {client}" in page.locator(".flash").inner_text()

    # The reply reaches the client, from the outbox, through the real SMTP server.
    answer = live_server.mail.to(client, "Re:")
    assert reply in body_text(answer)
    assert answer.get_body(preferencelist=("html",)) is not None, "every email has an HTML part too"


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
def test_article_to_booking_to_cancellation(browser, live_server, javascript):
    """A reader follows the Docker article's call to action, books a seat, and cancels from the emailed link.

    Run twice: as usual, and with JavaScript disabled, where everything must work the same.
    """
    client = unique_email("reader")
    context = new_context(browser, live_server, java_script_enabled=javascript)
    page = context.new_page()

    page.goto("/blog/virtualization-and-containerization")
    assert "Containerization" in page.locator("h1").inner_text()
    page.locator(".post-cta a[href='/training/docker']").click()
    page.wait_for_url("**/training/docker")
    seats_before = seats_left_on(page)
    page.locator("a[href^='/training/sessions/'][href$='/book']").first.click()
    page.wait_for_url(re.compile(r"/training/sessions/\d+/book$"))
    page.locator("#name").fill("Rita Reader")
    page.locator("#email").fill(client)
    page.locator("#company").fill("Containers Ltd")
    page.locator("#consent").check()
    page.get_by_role("button", name=re.compile("Request")).click()
    page.wait_for_url(re.compile(r"/bookings/[^/]+$"))
    assert page.locator(".booking-status.booking-pending").count() == 1, page.locator("main").inner_text()
    booked_at = page.url

    received = live_server.mail.to(client, "Booking request received")
    link = next((url for url in links_in(body_text(received)) if "/bookings/" in url), None)
    assert link, f"no self-service link in the email:\n{body_text(received)}"
    assert link.startswith(live_server.url), f"the emailed link {link} does not lead back to the site"
    assert link == booked_at

    # Opened from the email, in a fresh browser with nothing remembered.
    fresh = new_context(browser, live_server, java_script_enabled=javascript)
    page = fresh.new_page()
    page.goto(link)
    page.get_by_role("link", name="Cancel this booking").click()
    page.wait_for_url("**/cancel")
    page.get_by_role("button", name="Yes, cancel my booking").click()
    page.wait_for_url(link)
    assert page.locator(".booking-status.booking-cancelled").count() == 1, page.locator("main").inner_text()
    assert "cancelled" in page.locator(".flash").inner_text().lower()

    cancelled = live_server.mail.to(client, "Booking cancelled")
    assert "Docker" in str(cancelled["Subject"])
    page.goto("/training/docker")
    assert seats_left_on(page) == seats_before, "the cancelled seat did not go back to the session"
    fresh.close()
    context.close()


def seats_left_on(page) -> str:
    """The first session's seats text on a course page, e.g. '9 seats left of 10'."""
    return page.locator(".session-item .seats").first.inner_text()
