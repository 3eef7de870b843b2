"""Calendar invites and the sessions feed: RFC 5545 that icalendar parses, with the right instants and zones."""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlalchemy import select

from blueprints.training import operations as ops
from blueprints.training import schedule
from extensions import db
from models import OutboxMessage, TrainingSession
from tests.factories import make_admin, make_course, make_session
from tests.training.helpers import run

LONDON = ZoneInfo("Europe/London")


def future_last_sunday_of_october() -> datetime:
    """The next last-Sunday-of-October (when Europe/London leaves summer time), as a date at midnight UTC."""
    year = datetime.now(timezone.utc).year
    while True:
        day = datetime(year, 10, 31, tzinfo=timezone.utc)
        day -= timedelta(days=(day.weekday() - 6) % 7)
        if day > datetime.now(timezone.utc) + timedelta(days=2):
            return day
        year += 1


def invite_of(message: OutboxMessage) -> tuple[str, Calendar]:
    attachment, = message.attachments
    return attachment["content_type"], Calendar.from_ical(base64.b64decode(attachment["data"]))


def only_event(cal: Calendar):
    events = list(cal.walk("VEVENT"))
    assert len(events) == 1
    return events[0]


def latest(template: str) -> OutboxMessage:
    return db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == template)
                             .order_by(OutboxMessage.id.desc()).limit(1))


def test_confirmation_invite_parses_with_utc_times_and_request(app):
    starts = datetime(2031, 3, 4, 9, 0, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(timezone.utc)
    session = make_session(starts_at=starts, ends_at=starts + timedelta(hours=8), timezone="Europe/Berlin")
    result = run(ops.book_session, session.id, name="Ada, Client", email="ada@example.com")
    run(ops.confirm_booking, result.booking, make_admin())
    message = latest("booking_confirmed")
    content_type, cal = invite_of(message)
    assert content_type == "text/calendar; method=REQUEST; charset=utf-8"
    assert str(cal["METHOD"]) == "REQUEST"
    event = only_event(cal)
    assert event.decoded("DTSTART") == datetime(2031, 3, 4, 8, 0, tzinfo=timezone.utc)
    assert event.decoded("DTEND") == datetime(2031, 3, 4, 16, 0, tzinfo=timezone.utc)
    assert str(event["UID"]) == f"booking-{result.booking.id}@localhost"
    assert int(event["SEQUENCE"]) == 0
    assert str(event["ORGANIZER"]) == f"mailto:{app.config['CONSULTANT_EMAIL']}"
    assert str(event["ATTENDEE"]) == "mailto:ada@example.com"
    assert event["ATTENDEE"].params["CN"] == "Ada, Client"
    assert f"/bookings/{result.token}" in str(event["DESCRIPTION"])
    # the email states the session's time in its own zone with the UTC offset
    assert "Tue 4 March 2031, 09:00 CET (UTC+01:00)" in message.text_body
    assert "Tue 4 March 2031, 09:00 CET (UTC+01:00)" in message.html_body
    assert f"http://localhost/bookings/{result.token}" in message.text_body


def test_invite_updates_keep_the_uid_and_raise_the_sequence(app):
    admin = make_admin()
    session = make_session()
    booking = run(ops.book_session, session.id, name="A", email="a@example.com").booking
    run(ops.confirm_booking, booking, admin)
    _, first = invite_of(latest("booking_confirmed"))
    new_start = session.starts_at + timedelta(days=3)
    run(schedule.reschedule_session, session, new_start, new_start + timedelta(hours=6), admin)
    _, moved = invite_of(latest("booking_rescheduled"))
    run(ops.cancel_booking, booking, admin)
    content_type, cancelled = invite_of(latest("booking_cancelled"))
    uids = {str(only_event(cal)["UID"]) for cal in (first, moved, cancelled)}
    sequences = [int(only_event(cal)["SEQUENCE"]) for cal in (first, moved, cancelled)]
    assert len(uids) == 1
    assert sequences == sorted(set(sequences)) and sequences[0] == 0  # strictly increasing
    assert only_event(moved).decoded("DTSTART") == new_start
    assert str(moved["METHOD"]) == "REQUEST"
    assert str(cancelled["METHOD"]) == "CANCEL" and content_type.startswith("text/calendar; method=CANCEL")
    assert str(only_event(cancelled)["STATUS"]) == "CANCELLED"


def test_calendar_feed_parses_with_stable_uids(client, app):
    course = make_course(title="Kubernetes")
    upcoming = make_session(course, mode=TrainingSession.ON_SITE, location="Berlin")
    make_session(course, status=TrainingSession.CANCELLED)
    make_session(course, is_private=True)
    make_session(course, starts_at=datetime.now(timezone.utc) - timedelta(days=1))
    response = client.get("/training/calendar.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    cal = Calendar.from_ical(response.data)
    event = only_event(cal)
    assert str(event["UID"]) == f"session-{upcoming.id}@localhost"
    assert event.decoded("DTSTART") == upcoming.starts_at
    assert str(event["LOCATION"]) == "Berlin"
    assert str(event["SUMMARY"]) == "Kubernetes training"
    again = Calendar.from_ical(client.get("/training/calendar.ics").data)
    assert str(only_event(again)["UID"]) == str(event["UID"])
    assert b"\r\n" in response.data  # RFC 5545 line endings


def test_session_across_the_clocks_going_back_shows_the_right_local_times(client, app):
    """09:00 on Saturday to 17:00 on Monday is three 09:00–17:00 days (models/session_days.py), each at 09:00
    local on either side of the change (tests/training/test_multi_day_sessions.py goes further)."""
    sunday = future_last_sunday_of_october()
    saturday_start = datetime(sunday.year, sunday.month, sunday.day - 1, 9, 0, tzinfo=LONDON)  # BST, UTC+1
    monday_end = datetime(sunday.year, sunday.month, sunday.day, 17, 0, tzinfo=LONDON) + timedelta(days=1)  # GMT
    session = make_session(starts_at=saturday_start.astimezone(timezone.utc),
                           ends_at=monday_end.astimezone(timezone.utc), timezone="Europe/London")
    assert session.starts_at.hour == 8 and session.ends_at.hour == 17  # stored as UTC instants
    html = client.get(f"/training/sessions/{session.id}/book").get_data(as_text=True)
    assert "09:00 BST (UTC+01:00)" in html
    assert "09:00 GMT (UTC+00:00)" in html and "Day 3" in html
    result = run(ops.book_session, session.id, name="A", email="a@example.com")
    run(ops.confirm_booking, result.booking, None)
    message = latest("booking_confirmed")
    assert "09:00 BST (UTC+01:00)" in message.text_body and "09:00 GMT (UTC+00:00)" in message.text_body
    event = only_event(invite_of(message)[1])
    assert event.decoded("DTSTART") == saturday_start.astimezone(timezone.utc)
    assert event.decoded("DTEND") == saturday_start.replace(hour=17).astimezone(timezone.utc)
    assert [d.dt for r in [event["RDATE"]] for d in r.dts] == [
        (saturday_start + timedelta(days=n)).replace(tzinfo=None).replace(tzinfo=LONDON).astimezone(timezone.utc)
        for n in (1, 2)]


def test_confirmation_reaches_a_real_smtp_server_with_the_invite(mail_app, smtp_server):
    """Through the outbox and the mailer: the .ics arrives as text/calendar; method=REQUEST."""
    from mail.delivery import deliver_pending

    session = make_session()
    booking = run(ops.book_session, session.id, name="A", email="a@example.com").booking
    run(ops.confirm_booking, booking, None)
    deliver_pending()
    confirmed = [m for m in smtp_server.messages if m["Subject"].startswith("Confirmed")]
    assert len(confirmed) == 1
    parts = [p for p in confirmed[0].walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1 and parts[0].get_param("method") == "REQUEST"
    cal = Calendar.from_ical(parts[0].get_payload(decode=True))
    assert only_event(cal).decoded("DTSTART") == session.starts_at
