"""Seat hoarding (issue #14): a most-seats-per-booking on each session, and pending bookings nobody confirmed lapse."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from blueprints.training import operations as ops
from extensions import db
from models import AuditLog, Booking, OutboxMessage, TrainingSession
from tests.factories import make_booking, make_course, make_session
from tests.training.helpers import run
from web.spam import issue_form_token


def booking_form(seats, action="book", **fields):
    return {"name": "Ünal Þórsdóttir", "email": "unal@例え.jp", "seats": str(seats), "consent": "y",
            "action": action, "website": "", "form_token": issue_form_token("booking"), **fields}


def hours_ago(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)


# --- most seats per booking ----------------------------------------------------------------------

def test_one_request_cannot_take_every_seat(client, app):
    session = make_session(capacity=20)
    assert session.max_seats_per_booking == 4  # the default
    page = client.get(f"/training/sessions/{session.id}/book").text
    seats_input = next(tag for tag in re.findall(r"<input[^>]*>", page) if 'name="seats"' in tag)
    assert 'max="4"' in seats_input and "Up to 4 seats per booking." in page
    for action in ("book", "waitlist"):
        response = client.post(f"/training/sessions/{session.id}/book", data=booking_form(5, action))
        assert response.status_code == 422
        assert "You can book at most 4 seats on this session." in response.text
    assert db.session.scalar(select(Booking.id)) is None
    assert client.post(f"/training/sessions/{session.id}/book", data=booking_form(4)).status_code == 303
    assert session.seats_left == 16


def test_the_operation_refuses_too_many_seats_whoever_calls_it(app):
    session = make_session(capacity=3, max_seats_per_booking=10)  # never more than the capacity
    with pytest.raises(ops.BookingError, match="3 seats in all"):
        run(ops.book_session, session.id, name="A", email="a@example.com", seats=4)
    one = make_session(max_seats_per_booking=1)
    with pytest.raises(ops.BookingError, match="at most 1 seat on"):
        run(ops.book_session, one.id, name="A", email="a@example.com", seats=2)


def test_the_consultant_sets_the_most_seats_per_booking(admin_client, db_session):
    course = make_course()
    form = {"course_id": course.id, "starts_at": "2027-07-01T09:00", "ends_at": "2027-07-01T17:00",
            "timezone": "Europe/Berlin", "mode": "online", "location": "", "capacity": "12"}
    assert "Most seats per booking" in admin_client.get("/admin/sessions/new").text
    assert admin_client.post("/admin/sessions/new", data={**form, "max_seats_per_booking": "6"}).status_code == 303
    session = db_session.scalar(select(TrainingSession))
    assert session.max_seats_per_booking == 6
    edit = f"/admin/sessions/{session.id}/edit"
    assert 'value="6"' in admin_client.get(edit).text
    for bad in ("0", "-1", "1e20", "99999999999999999999", "four"):
        response = admin_client.post(edit, data={**form, "max_seats_per_booking": bad})
        assert response.status_code == 422, bad
    assert admin_client.post(edit, data={**form, "max_seats_per_booking": "2"}).status_code == 303
    db_session.rollback()
    assert db_session.get(TrainingSession, session.id).max_seats_per_booking == 2


# --- pending bookings lapse ------------------------------------------------------------------------

def test_unconfirmed_bookings_lapse_and_their_seats_go_to_the_waitlist(app, runner):
    session = make_session(capacity=4)
    hoarder = run(ops.book_session, session.id, name="Hoarder", email="hoard@example.com", seats=4,
                  now=hours_ago(73)).booking
    waiting = run(ops.book_session, session.id, name="אורי כהן", email="ori@example.co.il", seats=2, waitlist=True).booking
    assert session.seats_left == 0 and waiting.status == Booking.WAITLISTED
    fresh_session = make_session(capacity=4)
    fresh = run(ops.book_session, fresh_session.id, name="B", email="b@example.com", now=hours_ago(71)).booking
    confirmed = make_booking(fresh_session, status=Booking.CONFIRMED, created_at=hours_ago(200))
    db.session.query(OutboxMessage).delete()
    db.session.commit()

    result = runner.invoke(args=["bookings", "expire"])
    assert result.exit_code == 0 and "Lapsed 1 pending booking;" in result.output
    db.session.rollback()
    assert db.session.get(Booking, hoarder.id).status == Booking.EXPIRED
    assert db.session.get(Booking, waiting.id).status == Booking.PENDING  # promoted, in order
    assert db.session.get(Booking, fresh.id).status == Booking.PENDING  # 71 hours: not yet
    assert db.session.get(Booking, confirmed.id).status == Booking.CONFIRMED
    mails = {(m.template, m.to_addr) for m in db.session.scalars(select(OutboxMessage))}
    assert ("booking_expired", "hoard@example.com") in mails
    assert ("booking_promoted", "ori@example.co.il") in mails
    expired_mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "booking_expired"))
    assert "not confirmed within 72 hours" in expired_mail.text_body and "lapsed" in expired_mail.subject
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "booking.expire"))
    assert entry.target_id == hoarder.id and entry.detail["hours"] == 72

    # the promoted booking's clock starts at its promotion: running again lapses nothing
    assert "Lapsed 0 pending bookings;" in runner.invoke(args=["bookings", "expire"]).output
    assert db.session.get(Booking, waiting.id).status == Booking.PENDING
    assert db.session.get(Booking, hoarder.id).status_label.startswith("Lapsed")


@pytest.mark.parametrize("app_config", [{"PENDING_BOOKING_HOURS": 1}])
def test_the_lapse_time_is_a_setting_and_a_lapsed_booking_says_so(app, runner, client):
    session = make_session()
    result = run(ops.book_session, session.id, name="A", email="a@example.com", now=hours_ago(1.5))
    assert "Lapsed 1 pending booking;" in runner.invoke(args=["bookings", "expire"]).output
    page = client.get(f"/bookings/{result.token}").text
    assert "not confirmed in time" in page
    assert f"/bookings/{result.token}/cancel" not in page  # nothing left to cancel


@pytest.mark.parametrize("app_config", [{"PENDING_BOOKING_HOURS": 0}])
def test_zero_hours_means_bookings_never_lapse(app, runner):
    make_booking(make_session(), created_at=hours_ago(10_000))
    assert "Lapsed 0 pending bookings;" in runner.invoke(args=["bookings", "expire"]).output
