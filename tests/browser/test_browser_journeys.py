"""Whole journeys in Chromium against the live server, with the mail read from the real SMTP server."""
from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest

from tests.browser.helpers import body_text, links_in, log_in, new_context, tab_to, type_into

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


def test_consultant_schedules_a_session_and_publishes_a_draft(page, browser, live_server):
    """What the consultant does in the admin shows on the public site, in the sitemap, the feed and the calendar."""
    import feedparser
    from icalendar import Calendar

    tag = uuid.uuid4().hex[:6]
    title = f"Rootless containers in practice {tag}"
    slug = f"rootless-containers-{tag}"
    log_in(page, live_server)

    # A draft is written first: it stays private.
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Content").click()
    page.get_by_role("link", name="New article").click()
    page.locator("#title").fill(title)
    page.locator("#slug").fill(slug)
    page.locator("#summary").fill("User namespaces, cgroups v2 and what still needs root.")
    page.locator("#body").fill("## Why rootless\n\nRunning the engine as a normal user shrinks the blast radius.\n")
    page.locator("#tags").fill("Docker, Security")
    page.locator("#status").select_option("draft")
    page.get_by_role("button", name="Save").click()
    assert "Post saved (draft)" in page.locator(".flash").inner_text()
    edit_url = page.url
    visitor = new_context(browser, live_server)
    assert visitor.request.get(live_server(f"/blog/{slug}")).status == 404, "a draft is visible to the public"
    assert title not in visitor.request.get(live_server("/feed.xml")).text()

    # Then published.
    page.goto(edit_url)
    page.locator("#status").select_option("published")
    page.get_by_role("button", name="Save").click()
    assert "Post saved (published)" in page.locator(".flash").inner_text()

    # A session of the OpenStack course, on a date no demo session uses.
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Bookings").click()
    page.get_by_role("link", name="New session").first.click()
    page.locator("#course_id").select_option(label="OpenStack")
    page.locator("#starts_at").fill("2031-03-11T09:30")
    page.locator("#ends_at").fill("2031-03-13T17:00")
    page.locator("#timezone").select_option("Europe/Paris")  # a list of IANA zones (issue #15)
    page.locator("#mode").select_option("on-site")
    page.locator("#location").fill("Lyon")
    page.locator("#capacity").fill("7")
    page.get_by_role("button", name=re.compile("Save|Schedule|Create")).click()
    assert "Session scheduled" in page.locator(".flash").inner_text()

    # The public site, as a visitor sees it.
    public = visitor.new_page()
    public.goto("/blog")
    public.get_by_role("link", name=title).click()
    public.wait_for_url(f"**/blog/{slug}")
    assert "Why rootless" in public.locator("main").inner_text()
    public.goto("/training/openstack")
    sessions = public.locator(".session-item").all_inner_texts()
    assert any("11 March 2031" in s and "Lyon" in s for s in sessions), f"the new session is not listed: {sessions}"

    sitemap = visitor.request.get(live_server("/sitemap.xml")).text()
    assert f"<loc>{live_server.url}/blog/{slug}</loc>" in sitemap

    feed = feedparser.parse(visitor.request.get(live_server("/feed.xml")).text())
    assert not feed.bozo, f"the feed is not well-formed: {feed.bozo_exception}"
    assert any(entry.title == title and entry.link.endswith(f"/blog/{slug}") for entry in feed.entries), (
        f"the published post is not in the feed: {[e.title for e in feed.entries]}"
    )

    calendar = Calendar.from_ical(visitor.request.get(live_server("/training/calendar.ics")).body())
    starts = [event.decoded("dtstart") for event in calendar.walk("VEVENT") if "OpenStack" in str(event.get("summary"))]
    expected = datetime(2031, 3, 11, 8, 30, tzinfo=UTC)  # 09:30 in Paris, UTC+01:00 before summer time
    assert expected in starts, f"the new session ({expected}) is not in the calendar: {starts}"
    visitor.close()
