"""The consultant's training admin in Chromium with JavaScript off: what emails everyone asks first; the course editor.

Mail is read from the live server's real SMTP server, so "nobody was emailed yet" is what the server got.
"""
from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.browser.helpers import WIDTHS, body_text, log_in, new_context, screenshot

pytestmark = pytest.mark.browser

SLICE = "tadmin"


def shoot(page, name: str) -> None:
    """The page at phone and desktop width (reports/screenshots/tadmin-<name>-<width>.png), then back to desktop."""
    for width, height in WIDTHS.values():
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"{SLICE}-{name}-{width}")
    page.set_viewport_size({"width": WIDTHS["desktop"][0], "height": WIDTHS["desktop"][1]})


def unique_email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:8]}@example.com"


def make_world(live_server, bookings: list[dict], days: int, attending: tuple[int, ...] = ()):
    """A session of a course of its own, with these bookings (those at `attending` said "still coming" through the
    client's own operation); returns (session id, booking ids, course id)."""
    from blueprints.training.operations import confirm_attendance
    from extensions import db
    from tests.factories import make_booking, make_course, make_session

    with live_server.app.app_context():
        tag = uuid.uuid4().hex[:6]
        course = make_course(slug=f"reseaux-{tag}", title=f"Réseaux Linux {tag}", formats=["online"], outline=[])
        session = make_session(course=course, capacity=10, timezone="Europe/Paris",
                               starts_at=datetime.now(UTC).replace(microsecond=0) + timedelta(days=days))
        ids = [make_booking(session, **fields).id for fields in bookings]
        for n in attending:
            confirm_attendance(ids[n])
            db.session.commit()
        found = session.id, ids, course.id
        db.session.remove()
    return found


def status_of(live_server, model, row_id: int) -> str:
    from extensions import db

    with live_server.app.app_context():
        value = db.session.get(model, row_id).status
        db.session.remove()
    return value


def mails_to(live_server, address: str) -> list:
    return [m for m in list(live_server.mail.messages) if address.lower() in str(m["To"]).lower()]


@pytest.fixture
def no_js(browser, live_server):
    context = new_context(browser, live_server, java_script_enabled=False)
    page = context.new_page()
    log_in(page, live_server)
    yield page
    context.close()


def test_cancelling_a_session_takes_a_second_click_without_javascript(no_js, live_server, vnu):
    from models import TrainingSession

    page = no_js
    zoe, layla = unique_email("zoe"), unique_email("layla")
    session_id, [first_id, _], _ = make_world(live_server, [
        {"name": "Zoë Ångström", "email": zoe, "seats": 2, "status": "confirmed", "notes": "Végétarienne"},
        {"name": "ليلى حداد", "email": layla, "status": "pending"},
    ], days=30, attending=(0,))
    page.goto(f"/admin/sessions/{session_id}")
    session_html = page.content()
    shoot(page, "session")

    # One click on the session page: a page that says what will happen, and nothing has happened.
    page.locator("#session-cancel-message").fill("Le formateur est malade ; désolé pour ce contretemps.")
    page.get_by_role("button", name=re.compile("^Cancel the session")).click()
    page.wait_for_load_state()
    assert status_of(live_server, TrainingSession, session_id) == TrainingSession.SCHEDULED, "one click cancelled it"
    main = page.locator("main").inner_text()
    assert "Zoë Ångström" in main and zoe in main and "ليلى حداد" in main and layla in main, main
    assert "cannot be undone" in main and "3 seats held" in main
    assert page.locator("textarea[name=message]").input_value().startswith("Le formateur est malade")
    confirm_html = page.content()
    shoot(page, "confirm-session-cancel")
    assert status_of(live_server, TrainingSession, session_id) == TrainingSession.SCHEDULED
    assert not mails_to(live_server, zoe) and not mails_to(live_server, layla)

    # The way back keeps the session.
    page.get_by_role("link", name="No, go back").click()
    page.wait_for_url(f"**/admin/sessions/{session_id}")
    assert status_of(live_server, TrainingSession, session_id) == TrainingSession.SCHEDULED

    # The second click on the confirmation page cancels, and everyone gets the message.
    page.get_by_role("button", name="Cancel the session…").click()
    page.get_by_label("Message to everyone booked").fill("Le formateur est malade ; une nouvelle date suivra.")
    page.get_by_role("button", name="Yes, cancel the session and email 2 people").click()
    page.wait_for_url(f"**/admin/sessions/{session_id}")
    assert "Session cancelled" in page.locator(".flash").inner_text()
    assert status_of(live_server, TrainingSession, session_id) == TrainingSession.CANCELLED
    for address in (zoe, layla):
        mail = live_server.mail.to(address, "cancelled")
        assert "Le formateur est malade" in body_text(mail)
    page.goto(f"/admin/sessions/{session_id}")
    assert "Attendance confirmed by the client" in page.locator(f"#booking-{first_id}").inner_text()
    problems = vnu({"session page": session_html, "confirmation page": confirm_html})
    assert problems == {"session page": [], "confirmation page": []}, problems


def test_declining_a_booking_uses_the_rows_one_message_and_asks_first(no_js, live_server):
    from models import Booking

    page = no_js
    client = unique_email("jorg")
    session_id, [booking_id], _ = make_world(live_server, [{"name": "Jörg Müller", "email": client, "seats": 2}], days=40)
    page.goto(f"/admin/sessions/{session_id}")
    row = page.locator(f"#booking-{booking_id}")
    assert row.locator("textarea").count() == 1  # one message box, whichever answer is chosen
    row.get_by_label("Message to the client").fill("Leider ist dieser Termin für Gruppen ausgebucht.")
    row.get_by_role("button", name=re.compile("^Decline")).click()
    page.wait_for_load_state()
    assert status_of(live_server, Booking, booking_id) == Booking.PENDING, "one click declined it"
    assert "Decline Jörg Müller's booking?" in page.locator("h1").inner_text()
    assert page.locator("textarea[name=message]").input_value().startswith("Leider ist dieser Termin")
    shoot(page, "confirm-booking-decline")
    assert status_of(live_server, Booking, booking_id) == Booking.PENDING
    assert not mails_to(live_server, client)

    page.get_by_role("button", name=re.compile("Yes, decline the booking")).click()
    page.wait_for_url(re.compile(rf"/admin/sessions/{session_id}(#booking-{booking_id})?$"))
    assert status_of(live_server, Booking, booking_id) == Booking.DECLINED
    live_server.mail.wait_for(lambda m: client in str(m["To"]) and "Leider ist dieser Termin" in body_text(m),
                              what="the decline email with the message")


def test_the_course_editor_changes_what_the_public_page_shows(page, browser, live_server, vnu):
    log_in(page, live_server)
    _, _, course_id = make_world(live_server, [], days=50)
    page.goto(f"/admin/courses/{course_id}")
    shoot(page, "course-editor")
    page.get_by_label("On-site").check()
    page.get_by_label("Online").uncheck()
    page.get_by_label("Outline").fill("Adressage IPv6\n- Préfixes et SLAAC\n- DHCPv6\n\nPare-feu\n- nftables, zones")
    page.get_by_label("Tags").fill("Réseau, IPv6, réseau")
    page.get_by_role("button", name="Save").click()
    assert "Course saved" in page.locator(".flash").inner_text()
    assert page.get_by_label("Tags").input_value() == "réseau, ipv6"
    assert page.get_by_label("On-site").is_checked() and not page.get_by_label("Online").is_checked()
    editor_html = page.content()

    # A topic before any module is refused beside the field; what was typed stays.
    page.get_by_label("Outline").fill("- a topic first")
    page.get_by_role("button", name="Save").click()
    assert "start with a module title" in page.locator("#outline-error").inner_text()
    assert page.get_by_label("Outline").input_value() == "- a topic first"
    shoot(page, "course-editor-error")

    visitor = new_context(browser, live_server).new_page()
    visitor.goto(page.get_by_role("link", name="View on the site").get_attribute("href"))
    main = visitor.locator("main").inner_text()
    assert "Adressage IPv6" in main and "Préfixes et SLAAC" in main and "nftables, zones" in main, main
    assert re.search(r"Formats\s+On-site", main), main
    visitor.context.close()
    problems = vnu({"course editor": editor_html})
    assert problems == {"course editor": []}, problems


def test_rescheduling_a_booked_session_asks_first_and_sends_the_message(no_js, live_server):
    from extensions import db
    from models import TrainingSession

    page = no_js
    client = unique_email("amelie")
    session_id, _, _ = make_world(live_server, [{"name": "Amélie Poulain", "email": client, "status": "confirmed"}],
                                  days=60)
    page.goto(f"/admin/sessions/{session_id}/edit")
    page.locator("#timezone").select_option("Europe/Paris")
    page.locator("#starts_at").fill("2031-10-27T09:00")  # the Monday after the clocks go back in Paris
    page.locator("#ends_at").fill("2031-10-27T17:00")
    page.get_by_label("Message to everyone booked").fill("Nouvelle date : le lundi 27 octobre, même salle.")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    main = page.locator("main").inner_text()
    assert "Reschedule" in page.locator("h1").inner_text() and "Amélie Poulain" in main and "27 October 2031" in main
    assert "UTC+01:00" in main, main  # CET again by then
    shoot(page, "confirm-reschedule")
    with live_server.app.app_context():
        assert db.session.get(TrainingSession, session_id).sequence == 0
        db.session.remove()
    assert not mails_to(live_server, client)

    page.get_by_role("button", name="Yes, reschedule and email 1 person").click()
    page.wait_for_url(f"**/admin/sessions/{session_id}")
    with live_server.app.app_context():
        assert db.session.get(TrainingSession, session_id).starts_at == datetime(2031, 10, 27, 8, 0, tzinfo=UTC)
        db.session.remove()
    mail = live_server.mail.wait_for(lambda m: client in str(m["To"]) and "Nouvelle date" in body_text(m),
                                     what="the rescheduled email with the message")
    assert "27 October 2031" in body_text(mail)


def test_the_new_pages_pass_axe(page, live_server):
    """The confirmation pages are reached by a POST, so the site-wide crawl never sees them: axe them here."""
    from axe_playwright_python.sync_playwright import Axe

    log_in(page, live_server)
    session_id, [booking_id], course_id = make_world(
        live_server, [{"name": "Zoë Ångström", "email": unique_email("zoe"), "seats": 2}], days=70, attending=(0,))
    options = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
               "resultTypes": ["violations"]}
    engine = Axe()
    found = {}
    for path in (f"/admin/sessions/{session_id}", f"/admin/sessions/{session_id}/cancel",
                 f"/admin/bookings/{booking_id}/decline", f"/admin/sessions/{session_id}/edit",
                 f"/admin/courses/{course_id}"):
        for width, height in WIDTHS.values():
            page.set_viewport_size({"width": width, "height": height})
            page.goto(path)
            violations = engine.run(page, options=options).response["violations"]
            found[f"{path} at {width}"] = [f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes'][:3]]}"
                                           for v in violations]
    assert not any(found.values()), {k: v for k, v in found.items() if v}
