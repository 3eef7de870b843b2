"""Links in training emails, invites and the feed name SITE_URL, whatever request queued them (or none)."""
from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta, timezone

import pytest
from icalendar import Calendar
from sqlalchemy import select

from blueprints.training import operations as ops
from extensions import db
from models import Booking, OutboxMessage
from tests.factories import make_booking, make_session
from tests.training.helpers import run

SITE = "https://courses.example.org"
# An app server reached directly over plain HTTP (behind the TLS proxy, or by a health check).
DIRECT = "http://127.0.0.1:8000"


@pytest.fixture
def app_config():
    return {"SITE_URL": SITE}


def mail(template: str) -> OutboxMessage:
    return db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == template))


def only_event(data: bytes):
    event, = Calendar.from_ical(data).walk("VEVENT")
    return event


def test_links_queued_during_a_request_that_came_another_way_name_the_site(app):
    session = make_session()
    with app.test_request_context("/", base_url=DIRECT):
        result = run(ops.book_session, session.id, name="Ada", email="ada@example.com")
        run(ops.confirm_booking, result.booking, None)
        run(ops.cancel_booking, result.booking, None)
    booking = result.booking
    received, new, confirmed = mail("booking_received"), mail("booking_new"), mail("booking_confirmed")
    assert f"{SITE}/bookings/{result.token}" in received.text_body
    assert f'href="{SITE}/bookings/{result.token}"' in received.html_body
    assert f"{SITE}/admin/sessions/{session.id}#booking-{booking.id}" in new.text_body
    assert f"To book again: {SITE}/training/{session.course.slug}" in mail("booking_cancelled").text_body
    assert "127.0.0.1" not in received.text_body + new.text_body + confirmed.text_body + confirmed.html_body
    event = only_event(base64.b64decode(confirmed.attachments[0]["data"]))
    assert str(event["UID"]) == f"booking-{booking.id}@courses.example.org"
    assert str(event["URL"]) == f"{SITE}/training/{session.course.slug}"
    assert f"Your booking: {SITE}/bookings/{result.token}" in str(event["DESCRIPTION"])


def test_reminder_links_from_the_command_name_the_site(app, runner):
    starts = datetime.now(timezone.utc) + timedelta(hours=30)
    booking = make_booking(make_session(starts_at=starts), status=Booking.CONFIRMED)
    assert runner.invoke(args=["reminders", "send"]).exit_code == 0
    reminder = mail("booking_reminder")
    token = re.search(rf"{SITE}/bookings/([A-Za-z0-9_-]+)/attend\b", reminder.text_body).group(1)
    assert f"{SITE}/bookings/{token}/cancel" in reminder.text_body
    assert f"{SITE}/bookings/{token}" in reminder.html_body
    assert db.session.get(Booking, booking.id).token_matches(token)


def test_calendar_feed_names_the_site(app):
    session = make_session()
    # Over plain http an https site now redirects (web/security.py); another host over https still gets SITE_URL links.
    feed = app.test_client().get("/training/calendar.ics", base_url=DIRECT.replace("http://", "https://"))
    assert feed.status_code == 200
    event = only_event(feed.data)
    assert str(event["UID"]) == f"session-{session.id}@courses.example.org"
    assert str(event["URL"]) == f"{SITE}/training/{session.course.slug}"
    assert f"Book: {SITE}/training/sessions/{session.id}/book" in str(event["DESCRIPTION"])
