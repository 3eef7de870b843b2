"""A private course in Chromium at 390 and 1280 px: the client's request → two proposed dates → the client picks one
→ three colleagues register through the forwarded link → each gets an invite with the joining URL. axe-core and the
HTML checker on every page the journey opens; screenshots: reports/screenshots/private-<page>-<width>.png."""
from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from tests.browser.helpers import WIDTHS, body_text, log_in, new_context, screenshot

pytestmark = pytest.mark.browser

SLICE = "private"


@pytest.fixture(params=list(WIDTHS))
def width(request):
    return request.param


def check_page(page, axe, vnu, name: str, width: str) -> None:
    assert axe(page) == [], f"axe on {name} at {width}"
    problems = vnu({name: page.content()})
    assert problems[name] == [], f"HTML checker on {name}: {problems[name]}"
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    if overflow > 0:
        wide = page.evaluate("""[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right >
            document.documentElement.clientWidth + 1).slice(-5).map(e => e.tagName + '.' + e.className + ' ' +
            (e.textContent || '').trim().slice(0, 60))""")
        raise AssertionError(f"{name} is {overflow}px wider than the {width} screen: {wide}")
    screenshot(page, f"{SLICE}-{name}-{WIDTHS[width][0]}")


def invite_of(message) -> Calendar:
    part = next(p for p in message.iter_attachments() if p.get_content_type() == "text/calendar")
    return Calendar.from_ical(part.get_payload(decode=True))


def test_a_private_course_from_request_to_invites(browser, live_server, axe, vnu, width):
    from extensions import db
    from tests.factories import make_course

    tag = uuid.uuid4().hex[:6]
    with live_server.app.app_context():
        course = make_course(slug=f"k8s-privat-{tag}", title=f"Kubernetes im Team {tag}", duration_days=2)
        slug = course.slug
        db.session.remove()
    mail = live_server.mail
    client_email = f"zoë-{tag}@bücher.example"
    first_day = (datetime.now(UTC) + timedelta(days=30)).date()
    second_day = first_day + timedelta(days=14)

    # 1. The client asks for a private course on the course page.
    visitor = new_context(browser, live_server, width)
    page = visitor.new_page()
    page.goto(f"/training/{slug}#private")
    form = page.locator("#private")
    form.get_by_label("Your name").fill("Zoë Ångström")
    form.get_by_label("Email").fill(client_email)
    form.get_by_label("Company").fill("Bücher & Söhne")
    form.get_by_label("Preferred dates").fill(f"{first_day.isoformat()} or two weeks later")
    form.get_by_label("Number of attendees").fill("3")
    form.get_by_label("Online").check()
    form.get_by_label("I agree").check()
    form.get_by_role("button", name="Send the request").click()
    page.wait_for_load_state()
    assert "/requested" in page.url

    # 2. The consultant proposes two dates from the request.
    admin = new_context(browser, live_server, width)
    consultant = admin.new_page()
    log_in(consultant, live_server)
    consultant.goto("/admin/enquiries?q=" + client_email)
    consultant.get_by_role("link", name=re.compile("Zoë Ångström")).first.click()
    check_page(consultant, axe, vnu, "enquiry", width)
    propose = consultant.locator("form[action$='/propose']")
    assert propose.get_by_label("Option 1 starts").input_value() == f"{first_day.isoformat()}T09:00"
    assert propose.get_by_label("Option 1 ends").input_value() == f"{(first_day + timedelta(days=1)).isoformat()}T17:00"
    propose.get_by_label("Option 2 starts").fill(f"{second_day.isoformat()}T09:00")
    propose.get_by_label("Option 2 ends").fill(f"{(second_day + timedelta(days=1)).isoformat()}T17:00")
    propose.get_by_label("Message to the client").fill("Beide Termine gehen, online.")
    propose.get_by_role("button", name=re.compile("Propose")).click()
    consultant.wait_for_load_state()
    assert consultant.get_by_text("2 dates proposed").is_visible()

    # 3. The client picks the second date from the email.
    offer = mail.to(client_email, "Dates for your private")
    links = re.findall(r"https?://\S+/training/proposals/[A-Za-z0-9_-]+", body_text(offer))
    assert len(links) == 2
    page.goto(links[1])
    assert page.get_by_text("Day 2").is_visible()
    check_page(page, axe, vnu, "proposal", width)
    page.get_by_role("button", name="Choose this date").click()
    page.wait_for_load_state()
    assert "/training/private/" in page.url
    forward = mail.to(client_email, "booking link")
    link = re.search(r"https?://\S+/training/private/[A-Za-z0-9_-]+", body_text(forward)).group(0)
    page.goto(links[0])
    assert page.get_by_text("Another date was chosen").is_visible()
    visitor.close()

    # 4. The consultant adds the meeting link on the chosen session.
    consultant.goto(consultant.url)  # the enquiry page again: the proposals table links the sessions
    consultant.reload()
    assert consultant.get_by_text("Won").first.is_visible()
    consultant.locator("#propose").locator("xpath=following::table[1]").get_by_role("link", name=re.compile(second_day.strftime("%-d %B %Y"))).click()
    check_page(consultant, axe, vnu, "session", width)
    consultant.get_by_role("link", name="Edit joining details").click()
    join_url = f"https://meet.example/j/{tag}-geheim"
    consultant.get_by_label("Meeting link").fill(join_url)
    consultant.get_by_label("Passcode and dial-in").fill("Kenncode 4711")
    check_page(consultant, axe, vnu, "joining", width)
    consultant.get_by_role("button", name="Save").click()
    consultant.wait_for_load_state()
    assert consultant.get_by_text("Joining details saved").is_visible()
    consultant.get_by_role("link", name=re.compile("Edit the days")).click()
    check_page(consultant, axe, vnu, "days", width)

    # 5. Three colleagues register through the forwarded link; each gets the invite with the joining URL.
    colleagues = [("Ada Łukasiewicz", f"ada-{tag}@example.com"), ("وليد الأحمد", f"walid-{tag}@example.com"),
                  ("José Núñez", f"jose-{tag}@exämple.com")]
    for n, (name, email) in enumerate(colleagues):
        context = new_context(browser, live_server, width)
        colleague = context.new_page()
        colleague.goto(link)
        if n == 0:
            check_page(colleague, axe, vnu, "register", width)
        colleague.get_by_label("Your name").fill(name)
        colleague.get_by_label("Email").fill(email)
        colleague.get_by_label("I agree").check()
        colleague.get_by_role("button", name="Register").click()
        colleague.wait_for_load_state()
        assert "/bookings/" in colleague.url and colleague.get_by_text("Confirmed").first.is_visible()
        if n == 0:
            check_page(colleague, axe, vnu, "registered", width)
        context.close()
        confirmation = mail.to(email.split("@")[0] + "@", "Confirmed: ")  # an IDN domain arrives as punycode
        assert join_url in body_text(confirmation)
        events = list(invite_of(confirmation).walk("VEVENT"))
        assert str(events[0]["URL"]) == join_url and str(events[0]["LOCATION"]) == join_url
        assert "Kenncode 4711" in str(events[0]["DESCRIPTION"])
        assert len(events[0]["RDATE"].dts) == 1  # two days: the second is an instance of the first
    # The client's own emails never carried the joining URL.
    assert all(join_url not in body_text(m) for m in (offer, forward))
    consultant.goto(consultant.url.split("/days")[0])
    assert consultant.locator("#private-heading").is_visible() and "3 of 3 seats held" in consultant.content()
    admin.close()
