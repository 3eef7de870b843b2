"""Session workflows: cancelling, rescheduling and editing a session (admin); from cron, the reminders before
it and the lapsing of pending bookings nobody confirmed.

The same convention as operations.py: lock the session, check every rule, change, queue
the emails, flush; the caller commits once or rolls back on a refusal (a NotAllowed).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from blueprints.invoices.operations import credit_booking, pdf_attachment
from blueprints.training.emails import invite, mail_client
from blueprints.training.links import book_url, booking_url
from blueprints.training.operations import audit, end_checkout, lock_session, promote_waitlist, reinvoice, when
from extensions import db
from models import AuditLog, Booking, TrainingSession, utcnow
from models.bookings import BookingError, BookingStateError, SessionEditRefused
from models.transactions import begin_write

REMINDER_BEFORE = timedelta(hours=48)


def _lock_open_session(session_id: int, refusal: str) -> TrainingSession:
    """Begin the write and lock a session that is not cancelled (else refuse with `refusal`)."""
    begin_write()
    session = lock_session(session_id)
    if session is None or session.is_cancelled:
        raise BookingStateError(refusal)
    return session


def _active_bookings(session: TrainingSession) -> list[Booking]:
    """The bookings a change to their session must reach, locked (the session's row lock is already held)."""
    return db.session.scalars(
        select(Booking).where(Booking.session_id == session.id, Booking.is_active)
        .order_by(Booking.id).with_for_update()
    ).all()


def cancel_session(session: TrainingSession, actor, message: str = "") -> TrainingSession:
    """Cancel a session and every active booking on it; confirmed ones get METHOD:CANCEL."""
    session = _lock_open_session(session.id, "This session is already cancelled.")
    session.status = TrainingSession.CANCELLED
    session.sequence += 1
    bookings = _active_bookings(session)
    next_session = next_public_session(session)
    for booking in bookings:
        was_confirmed = booking.status == Booking.CONFIRMED
        booking.cancel()
        end_checkout(booking)
        attachments = None
        credit_note = None
        if was_confirmed:
            booking.ics_sequence += 1
            attachments = invite(booking, cancel=True)
            credit_note = credit_booking(booking, actor, reason="Session cancelled")  # its invoice never changes
            if credit_note is not None:
                attachments.append(pdf_attachment(credit_note))
        mail_client("booking_session_cancelled", booking, attachments=attachments, message=message.strip(),
                    credit_note=credit_note, next_session=next_session,
                    next_book_url=book_url(next_session) if next_session else None)
    audit(actor, "session.cancel", session, note=message.strip(), bookings=len(bookings))
    db.session.flush()
    return session


def next_public_session(session: TrainingSession) -> TrainingSession | None:
    """The next open public session of the same course, to offer to the people of a cancelled one."""
    return db.session.scalar(TrainingSession.upcoming().where(
        TrainingSession.course_id == session.course_id, TrainingSession.id != session.id).limit(1))


def check_times(starts_at: datetime, ends_at: datetime) -> None:
    """Raise BookingError unless these are new times a session may move to (the admin asks before moving)."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise BookingError("Give the new times with a time zone.")
    if ends_at <= starts_at:
        raise BookingError("The session must end after it starts.")
    if starts_at <= utcnow():
        raise BookingError("The new start is in the past.")


def _move_in_time(session: TrainingSession, starts_at: datetime, ends_at: datetime, actor, message: str = "",
                  days=None) -> None:
    """Under the session's lock: new times, and everyone booked is told (confirmed ones get an updated invite).

    `days` ((start, end) pairs, blueprints/training/days.py) replaces the session's own days; without it the
    new range's default days apply (a custom set of days does not survive a move of the whole range).
    """
    old_starts, old_ends = session.starts_at, session.ends_at
    from models.session_days import SessionDay

    session.custom_days = [SessionDay(starts_at=s, ends_at=e, position=n) for n, (s, e) in enumerate(days or [])]
    session.starts_at, session.ends_at = starts_at, ends_at
    session.sequence += 1
    for booking in _active_bookings(session):
        booking.reminder_sent_at = None
        attachments = None
        if booking.status == Booking.CONFIRMED:
            booking.ics_sequence += 1
            db.session.flush()
            attachments = invite(booking)
        mail_client("booking_rescheduled", booking, attachments=attachments,
                    old_starts_at=old_starts, old_ends_at=old_ends, message=message.strip())
        reinvoice(booking, actor, what=f"The session you booked was rescheduled to {when(session)}",
                  reason="Session rescheduled")
    audit(actor, "session.reschedule", session, starts_at=starts_at.isoformat(), ends_at=ends_at.isoformat(),
           was=old_starts.isoformat(), note=message.strip())
    db.session.flush()


def reschedule_session(session: TrainingSession, starts_at: datetime, ends_at: datetime, actor,
                       message: str = "") -> TrainingSession:
    """Move a session in time; confirmed bookings get an updated invite (same UID, higher SEQUENCE)."""
    check_times(starts_at, ends_at)
    session = _lock_open_session(session.id, "A cancelled session cannot be rescheduled.")
    if (session.starts_at, session.ends_at) != (starts_at, ends_at):
        _move_in_time(session, starts_at, ends_at, actor, message)
    return session


def edit_session(session: TrainingSession, actor, *, starts_at: datetime, ends_at: datetime, message: str = "",
                 **fields) -> TrainingSession:
    """The admin's edit form, under the session's lock: its rules hold against the bookings taken right now.

    `fields` are course_id, timezone, mode, location, capacity and max_seats_per_booking. Raises SessionEditRefused
    (by field) when the edit would break bookings already taken; new times are a reschedule, and `message`
    goes with them to everyone booked.
    """
    session = _lock_open_session(session.id, "This session is cancelled; it can no longer be changed.")
    moved = (starts_at, ends_at) != (session.starts_at, session.ends_at)
    if moved:
        check_times(starts_at, ends_at)
    problems = session.edit_problems(course_id=fields["course_id"], capacity=fields["capacity"])
    if problems:
        raise SessionEditRefused(problems)
    for name, value in fields.items():
        setattr(session, name, value)
    if db.session.is_modified(session):
        AuditLog.record(actor, "session.update", session)
    if moved:
        _move_in_time(session, starts_at, ends_at, actor, message)
    db.session.flush()
    return session


# --- reminders ------------------------------------------------------------------------------

def send_reminders(now: datetime | None = None) -> int:
    """Queue a "still coming?" reminder for each holding booking whose session starts within 48 hours.

    Safe from cron every few minutes, even with two runs at once: each booking is
    claimed by setting reminder_sent_at in the same transaction that queues its
    email, under the write lock (SQLite) or a row lock that skips rows another run
    holds (PostgreSQL), so a reminder goes once. The caller commits.
    """
    now = now or utcnow()
    begin_write()
    bookings = db.session.scalars(
        select(Booking).join(Booking.session)
        .where(
            Booking.holds_seats, Booking.reminder_sent_at.is_(None),
            TrainingSession.status == TrainingSession.SCHEDULED,
            TrainingSession.starts_at > now, TrainingSession.starts_at <= now + REMINDER_BEFORE,
        )
        .order_by(Booking.id)
        .with_for_update(skip_locked=True, of=Booking)
        .execution_options(populate_existing=True)
    ).all()
    for booking in bookings:
        booking.reminder_sent_at = now
        mail_client("booking_reminder", booking, attend_url=booking_url(booking, "training.booking_attend"),
                    cancel_url=booking_url(booking, "training.booking_cancel"))
    db.session.flush()
    return len(bookings)


# --- pending bookings that lapse ------------------------------------------------------------

def expire_pending(now: datetime | None = None) -> int:
    """Lapse pending bookings unconfirmed for PENDING_BOOKING_HOURS (0: never) on sessions still to come.

    One anonymous request must not hold seats for ever: each lapsed booking's client is told, the
    change is audited, and the freed seats go to the waitlist in order (promoted clients get their
    usual email). Under each session's lock, as every seat change; safe from cron. The caller commits.
    """
    hours = current_app.config["PENDING_BOOKING_HOURS"]
    if hours <= 0:
        return 0
    now = now or utcnow()
    lapsed_before = now - timedelta(hours=hours)
    due = (Booking.status == Booking.PENDING, Booking.hold_expires_at.is_(None),  # a card hold ends with its Checkout
           func.coalesce(Booking.pending_since, Booking.created_at) <= lapsed_before)
    begin_write()
    session_ids = db.session.scalars(
        select(Booking.session_id).join(Booking.session)
        .where(*due, TrainingSession.status == TrainingSession.SCHEDULED, TrainingSession.starts_at > now)
        .distinct()
    ).all()
    count = 0
    for session_id in sorted(session_ids):  # the one lock order: session, then its bookings
        session = lock_session(session_id)
        lapsed = db.session.scalars(
            select(Booking).where(Booking.session_id == session_id, *due).order_by(Booking.id)
            .with_for_update().execution_options(populate_existing=True)
        ).all()
        for booking in lapsed:
            booking.expire()
            mail_client("booking_expired", booking, hours=hours)
            AuditLog.record(None, "booking.expire", booking, by="schedule", hours=hours)
        db.session.flush()
        count += len(lapsed)
        promote_waitlist(session)
    return count
