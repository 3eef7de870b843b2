"""`flask reminders send`: a "still coming?" reminder 48 hours before, once per booking however often it runs."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from blueprints.training import links, schedule
from blueprints.training import operations as ops
from extensions import db
from models import Booking, OutboxMessage, TrainingSession
from tests.factories import make_booking, make_session
from tests.training.helpers import run


def reminders() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "booking_reminder")))


def soon(hours: float) -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=hours)


def test_reminders_go_once_however_often_the_command_runs(app, runner):
    due = make_session(starts_at=soon(30))
    pending = make_booking(due, status=Booking.PENDING)
    confirmed = make_booking(due, status=Booking.CONFIRMED)
    make_booking(due, status=Booking.WAITLISTED)
    make_booking(due, status=Booking.CANCELLED)
    later = make_booking(make_session(starts_at=soon(72)), status=Booking.CONFIRMED)
    make_booking(make_session(starts_at=soon(-2)), status=Booking.CONFIRMED)  # already started
    make_booking(make_session(starts_at=soon(20), status=TrainingSession.CANCELLED), status=Booking.CONFIRMED)

    first = runner.invoke(args=["reminders", "send"])
    assert first.exit_code == 0 and "Queued 2 reminders." in first.output
    for _ in range(3):
        again = runner.invoke(args=["reminders", "send"])
        assert again.exit_code == 0 and "Queued 0 reminders." in again.output
    assert sorted(m.to_addr for m in reminders()) == sorted([pending.email, confirmed.email])
    assert db.session.get(Booking, confirmed.id).reminder_sent_at is not None
    assert db.session.get(Booking, later.id).reminder_sent_at is None

    # a day later the other session is due, and only its booking is reminded
    assert run(schedule.send_reminders, now=datetime.now(timezone.utc) + timedelta(hours=30)) == 1
    assert len(reminders()) == 3


def test_reminder_asks_still_coming_with_links_that_change_nothing(app, client):
    session = make_session(starts_at=soon(40), timezone="Europe/Paris")
    booking = run(ops.book_session, session.id, name="A", email="a@example.com").booking
    run(ops.confirm_booking, booking, None)
    assert run(schedule.send_reminders) == 1
    message, = reminders()
    assert "Still coming?" in message.subject
    assert "(UTC+01:00)" in message.text_body or "(UTC+02:00)" in message.text_body
    token = links.link_token(db.session.get(Booking, booking.id))
    attend, cancel = f"http://localhost/bookings/{token}/attend", f"http://localhost/bookings/{token}/cancel"
    assert attend in message.text_body and cancel in message.text_body and attend in message.html_body
    # a mail scanner following both links changes nothing
    for url in (attend, cancel):
        assert client.get(url.removeprefix("http://localhost")).status_code == 200
    assert db.session.get(Booking, booking.id).status == Booking.CONFIRMED
    # giving the seat up is a POST
    assert client.post(cancel.removeprefix("http://localhost")).status_code == 303
    assert db.session.get(Booking, booking.id).status == Booking.CANCELLED


def test_a_rescheduled_session_reminds_again(app):
    session = make_session(starts_at=soon(30))
    booking = make_booking(session, status=Booking.CONFIRMED)
    assert run(schedule.send_reminders) == 1
    new_start = soon(24 * 9)
    run(schedule.reschedule_session, session, new_start, new_start + timedelta(hours=8), None)
    assert db.session.get(Booking, booking.id).reminder_sent_at is None
    assert run(schedule.send_reminders, now=new_start - timedelta(hours=47)) == 1


def test_concurrent_runs_send_each_reminder_once(app):
    """Several cron runs at the same moment, each in its own app context and database connection."""
    sessions = [make_session(starts_at=soon(30)) for _ in range(3)]
    for session in sessions:
        for _ in range(4):
            make_booking(session, status=Booking.CONFIRMED)
    runs = 6
    barrier = threading.Barrier(runs)
    counts, errors = [], []

    def cron_run():  # what `flask reminders send` does, in its own app context
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                counts.append(run(schedule.send_reminders))
            except Exception as error:  # noqa: BLE001  (reported below)
                errors.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=cron_run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(counts) == 12
    db.session.rollback()
    assert db.session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.template == "booking_reminder")) == 12
    assert db.session.scalar(select(func.count(func.distinct(OutboxMessage.to_addr))).where(
        OutboxMessage.template == "booking_reminder")) == 12


def test_the_command_commits_its_reminders(app, runner):
    """What `flask reminders send` queued is stored: another connection sees the claims and the emails."""
    booking = make_booking(make_session(starts_at=soon(30)), status=Booking.CONFIRMED)
    assert "Queued 1 reminder." in runner.invoke(args=["reminders", "send"]).output
    db.session.rollback()  # anything the command left uncommitted is gone now
    assert [m.to_addr for m in reminders()] == [booking.email]
    assert db.session.get(Booking, booking.id).reminder_sent_at is not None
