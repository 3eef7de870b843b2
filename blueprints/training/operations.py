"""Training workflows: booking, confirming, cancelling, moving, rescheduling, reminders.

Shared by the public pages, the admin pages and the CLI. Every function here
owns its transaction: it commits whatever the caller had pending, starts a
write transaction that locks the session row(s) involved (PostgreSQL
`SELECT ... FOR UPDATE`; SQLite `BEGIN IMMEDIATE`), applies the model's rules,
queues the emails in the same transaction and commits. So seats can never be
overbooked and an email is queued if and only if the change it reports is stored.

Stable names for the admin area: confirm_booking, decline_booking, cancel_booking,
cancel_session, reschedule_session. Each raises BookingStateError for a stale action.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from extensions import db
from mail.compose import queue_email
from models import AuditLog, Booking, TrainingSession, utcnow
from models.training import BookingError, BookingStateError, NotEnoughSeats, SessionUnavailable

__all__ = [
    "BookingError", "BookingStateError", "NotEnoughSeats", "SessionUnavailable", "BookingResult",
    "book_session", "confirm_booking", "decline_booking", "cancel_booking", "cancel_session",
    "reschedule_session", "move_booking", "confirm_attendance", "send_reminders", "booking_url", "link_token",
    "move_targets",
]

REMINDER_BEFORE = timedelta(hours=48)


# --- transactions and locks ---------------------------------------------------------------

def _begin_write() -> None:
    """End whatever transaction the caller had and start one that takes the write lock up front.

    On SQLite this is BEGIN IMMEDIATE (app.configure_engine emits it for this
    execution option): only one writer at a time, and no deadlock from two readers
    upgrading. On PostgreSQL the option is ignored and rows are locked with FOR UPDATE.
    """
    db.session.commit()
    db.session.connection(execution_options={"sqlite_immediate": True})


def _lock_session(session_id: int) -> TrainingSession | None:
    return db.session.scalar(
        select(TrainingSession).where(TrainingSession.id == session_id)
        .with_for_update().execution_options(populate_existing=True)
    )


def _lock_booking(booking: Booking | int) -> Booking:
    """Start the write transaction, lock the booking's session, then reload the booking."""
    booking_id = booking if isinstance(booking, int) else booking.id
    _begin_write()
    session_id = db.session.scalar(select(Booking.session_id).where(Booking.id == booking_id))
    if session_id is None:
        db.session.rollback()
        raise BookingStateError("This booking no longer exists.")
    _lock_session(session_id)
    fresh = db.session.scalar(
        select(Booking).where(Booking.id == booking_id).with_for_update().execution_options(populate_existing=True)
    )
    return fresh


def _fail(error: BookingError):
    db.session.rollback()
    raise error


# --- links --------------------------------------------------------------------------------

def link_token(booking: Booking) -> str:
    """The booking's self-service token (256 bits), recomputable only with SECRET_KEY.

    The database holds only its SHA-256 (Booking.token_hash), so a copy of the
    database reveals no links; deriving it with an HMAC lets every later email
    (confirmation, reminder, ...) carry the same working link. If the stored hash
    does not match (a row made elsewhere, or SECRET_KEY was rotated), the link is
    re-issued: the caller's transaction stores the new hash with the email.
    """
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"portico.booking-link:{booking.id}".encode(), hashlib.sha256).digest()
    token = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    token_hash = Booking.hash_token(token)
    if booking.token_hash != token_hash:
        booking.token_hash = token_hash
    return token


def site_url(path: str) -> str:
    return current_app.config["SITE_URL"] + path


def booking_url(booking: Booking, action: str = "") -> str:
    return site_url(f"/bookings/{link_token(booking)}" + (f"/{action}" if action else ""))


def admin_booking_url(booking: Booking) -> str:
    """The admin page listing the session's bookings, at this booking's row."""
    return site_url(f"/admin/sessions/{booking.session_id}#booking-{booking.id}")


# --- email --------------------------------------------------------------------------------

def _mail_client(template: str, booking: Booking, *, attachments=None, **context) -> None:
    session = booking.session
    queue_email(
        template, to=booking.email, to_name=booking.name,
        reply_to=current_app.config["CONSULTANT_EMAIL"], reply_to_name=current_app.config["CONSULTANT_NAME"],
        related=f"booking:{booking.id}", attachments=attachments, has_invite=bool(attachments),
        booking=booking, session=session, course=session.course, link=booking_url(booking),
        course_url=site_url(f"/training/{session.course.slug}"), **context,
    )


def _mail_consultant(template: str, booking: Booking, **context) -> None:
    session = booking.session
    queue_email(
        template, to=current_app.config["CONSULTANT_EMAIL"], to_name=current_app.config["CONSULTANT_NAME"],
        reply_to=booking.email, reply_to_name=booking.name, related=f"booking:{booking.id}",
        booking=booking, session=session, course=session.course, admin_url=admin_booking_url(booking),
        seats_left=max(session.capacity - session.seats_held, 0), **context,
    )


def _invite(booking: Booking, *, cancel: bool = False):
    from blueprints.training.ics import invite_attachment

    return [invite_attachment(booking, booking_url(booking), cancel=cancel)]


def _audit(actor, action: str, target, **detail) -> None:
    if actor is not None:
        AuditLog.record(actor, action, target, **detail)


# --- booking --------------------------------------------------------------------------------

@dataclass
class BookingResult:
    booking: Booking
    token: str

    @property
    def waitlisted(self) -> bool:
        return self.booking.status == Booking.WAITLISTED


def book_session(
    session_id: int, *, name: str, email: str, company: str = "", seats: int = 1, notes: str = "",
    waitlist: bool = False, now: datetime | None = None,
) -> BookingResult:
    """Take seats on a session, or join its waitlist when `waitlist` is set and the seats are not there.

    Raises SessionUnavailable (unknown, private, cancelled or past: nothing stored),
    NotEnoughSeats (and nothing stored) when the seats are not free and `waitlist` is false.
    """
    if seats < 1:
        raise BookingError("Book at least one seat.")
    now = now or utcnow()
    _begin_write()
    session = _lock_session(session_id)
    if session is None:
        _fail(SessionUnavailable("There is no such session.", 404))
    try:
        session.check_bookable(now)
    except SessionUnavailable as error:
        _fail(error)
    if seats > session.capacity:
        _fail(BookingError(f"This session has {session.capacity} seats in all."))
    left = session.seats_left
    if seats <= left:
        status = Booking.PENDING
    elif waitlist:
        status = Booking.WAITLISTED
    else:
        _fail(NotEnoughSeats(left))
    booking = Booking(
        session=session, name=name.strip(), email=email.strip(), company=(company or "").strip(), seats=seats,
        notes=(notes or "").strip(), status=status, consent_at=now,
        waitlisted_at=now if status == Booking.WAITLISTED else None,
        token_hash=Booking.hash_token(secrets.token_urlsafe(32)),  # replaced below, once the id is known
    )
    db.session.add(booking)
    db.session.flush()
    token = link_token(booking)
    if status == Booking.PENDING:
        _mail_client("booking_received", booking)
    else:
        _mail_client("booking_waitlisted", booking)
    _mail_consultant("booking_new", booking)
    db.session.commit()
    return BookingResult(booking, token)


def _promote_waitlist(session: TrainingSession) -> list[Booking]:
    """Give freed seats to waitlisted bookings in the order they joined, each one that fits."""
    if not session.is_open():
        return []
    promoted = []
    left = session.seats_left
    for waiting in session.waitlist():
        if left <= 0:
            break
        if waiting.seats <= left:
            waiting.promote()
            left -= waiting.seats
            promoted.append(waiting)
            _mail_client("booking_promoted", waiting)
            _mail_consultant("booking_new", waiting, promoted=True)
    db.session.flush()
    return promoted


def confirm_booking(booking: Booking, actor, message: str = "") -> Booking:
    """pending -> confirmed; emails the client an invite (METHOD:REQUEST)."""
    booking = _lock_booking(booking)
    if booking.status == Booking.PENDING and not booking.session.is_open():
        _fail(BookingStateError("This session is cancelled or has already started; the booking cannot be confirmed."))
    try:
        booking.confirm()
    except BookingStateError as error:
        _fail(error)
    _mail_client("booking_confirmed", booking, attachments=_invite(booking), message=message.strip())
    _audit(actor, "booking.confirm", booking, note=message.strip())
    db.session.commit()
    return booking


def decline_booking(booking: Booking, actor, message: str = "") -> Booking:
    """pending -> declined; frees the seats for the waitlist."""
    booking = _lock_booking(booking)
    try:
        booking.decline()
    except BookingStateError as error:
        _fail(error)
    db.session.flush()
    _mail_client("booking_declined", booking, message=message.strip())
    _audit(actor, "booking.decline", booking, note=message.strip())
    _promote_waitlist(booking.session)
    db.session.commit()
    return booking


def cancel_booking(booking: Booking, actor=None, message: str = "") -> Booking:
    """pending/confirmed/waitlisted -> cancelled, by the consultant (actor) or the client (actor None).

    A confirmed booking's calendar entry is withdrawn with METHOD:CANCEL; freed seats go to the waitlist.
    """
    booking = _lock_booking(booking)
    was_confirmed = booking.status == Booking.CONFIRMED
    try:
        booking.cancel()
    except BookingStateError as error:
        _fail(error)
    db.session.flush()
    attachments = None
    if was_confirmed:
        booking.ics_sequence += 1
        attachments = _invite(booking, cancel=True)
    _mail_client("booking_cancelled", booking, attachments=attachments, message=message.strip(),
                 by_client=actor is None)
    if actor is None:
        _mail_consultant("booking_client_changed", booking, change="cancelled")
    _audit(actor, "booking.cancel", booking, note=message.strip())
    _promote_waitlist(booking.session)
    db.session.commit()
    return booking


def move_targets(booking: Booking, now: datetime | None = None) -> list[TrainingSession]:
    """Other upcoming public sessions of the same course with enough seats for this booking."""
    sessions = db.session.scalars(
        TrainingSession.upcoming(now).where(
            TrainingSession.course_id == booking.session.course_id, TrainingSession.id != booking.session_id
        )
    ).all()
    return [s for s in sessions if s.seats_left >= booking.seats]


def move_booking(booking: Booking, target_session_id: int, now: datetime | None = None) -> Booking:
    """Self-service: move a pending, confirmed or waitlisted booking to another session of the same course."""
    now = now or utcnow()
    booking_id = booking.id
    _begin_write()
    current_id = db.session.scalar(select(Booking.session_id).where(Booking.id == booking_id))
    if current_id is None:
        _fail(BookingStateError("This booking no longer exists."))
    for session_id in sorted({current_id, target_session_id}):  # one lock order: no deadlock
        _lock_session(session_id)
    booking = db.session.scalar(
        select(Booking).where(Booking.id == booking_id).execution_options(populate_existing=True)
    )
    old_session = booking.session
    target = db.session.get(TrainingSession, target_session_id)
    if not booking.is_active:
        _fail(BookingStateError(f"This booking is {booking.status_label.lower()}, so it cannot be moved."))
    if target is None or target.id == old_session.id or target.course_id != old_session.course_id:
        _fail(BookingStateError("That session is not one this booking can move to."))
    try:
        target.check_bookable(now)
    except SessionUnavailable as error:
        _fail(BookingStateError(str(error)))
    if target.seats_left < booking.seats:
        _fail(NotEnoughSeats(target.seats_left))
    was_holding = booking.holds_seats
    if booking.status == Booking.WAITLISTED:
        booking.promote()
    booking.session = target
    booking.reminder_sent_at = None
    attachments = None
    if booking.status == Booking.CONFIRMED:
        booking.ics_sequence += 1  # same UID, later SEQUENCE: the calendar entry moves
    db.session.flush()
    if booking.status == Booking.CONFIRMED:
        attachments = _invite(booking)
    _mail_client("booking_moved", booking, attachments=attachments, old_session=old_session)
    _mail_consultant("booking_client_changed", booking, change="moved", old_session=old_session)
    if was_holding:
        _promote_waitlist(old_session)
    db.session.commit()
    return booking


def confirm_attendance(booking: Booking) -> Booking:
    """The client answered a reminder: still coming. Recorded for the consultant; the booking is unchanged."""
    booking = _lock_booking(booking)
    if not booking.holds_seats:
        _fail(BookingStateError(f"This booking is {booking.status_label.lower()}."))
    AuditLog.record(None, "booking.attendance_confirmed", booking, by="client")
    db.session.commit()
    return booking


# --- sessions (admin) ---------------------------------------------------------------------------

def cancel_session(session: TrainingSession, actor, message: str = "") -> TrainingSession:
    """Cancel a session and every active booking on it; confirmed ones get METHOD:CANCEL."""
    session_id = session.id
    _begin_write()
    session = _lock_session(session_id)
    if session is None or session.is_cancelled:
        _fail(BookingStateError("This session is already cancelled."))
    session.status = TrainingSession.CANCELLED
    session.sequence += 1
    bookings = _active_bookings(session)
    for booking in bookings:
        was_confirmed = booking.status == Booking.CONFIRMED
        booking.cancel()
        attachments = None
        if was_confirmed:
            booking.ics_sequence += 1
            attachments = _invite(booking, cancel=True)
        _mail_client("booking_session_cancelled", booking, attachments=attachments, message=message.strip())
    _audit(actor, "session.cancel", session, note=message.strip(), bookings=len(bookings))
    db.session.commit()
    return session


def _active_bookings(session: TrainingSession) -> list[Booking]:
    """The bookings a change to their session must reach, locked (the session's row lock is already held)."""
    return db.session.scalars(
        select(Booking).where(Booking.session_id == session.id, Booking.status.in_(Booking.ACTIVE))
        .order_by(Booking.id).with_for_update()
    ).all()


def reschedule_session(session: TrainingSession, starts_at: datetime, ends_at: datetime, actor) -> TrainingSession:
    """Move a session in time; confirmed bookings get an updated invite (same UID, higher SEQUENCE)."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise BookingError("Give the new times with a time zone.")
    if ends_at <= starts_at:
        raise BookingError("The session must end after it starts.")
    if starts_at <= utcnow():
        raise BookingError("The new start is in the past.")
    session_id = session.id
    _begin_write()
    session = _lock_session(session_id)
    if session is None or session.is_cancelled:
        _fail(BookingStateError("A cancelled session cannot be rescheduled."))
    old_starts, old_ends = session.starts_at, session.ends_at
    if (old_starts, old_ends) == (starts_at, ends_at):
        db.session.rollback()
        return session
    session.starts_at, session.ends_at = starts_at, ends_at
    session.sequence += 1
    bookings = _active_bookings(session)
    for booking in bookings:
        booking.reminder_sent_at = None
        attachments = None
        if booking.status == Booking.CONFIRMED:
            booking.ics_sequence += 1
            db.session.flush()
            attachments = _invite(booking)
        _mail_client("booking_rescheduled", booking, attachments=attachments,
                     old_starts_at=old_starts, old_ends_at=old_ends)
    _audit(actor, "session.reschedule", session, starts_at=starts_at.isoformat(), ends_at=ends_at.isoformat(),
           was=old_starts.isoformat())
    db.session.commit()
    return session


# --- reminders ------------------------------------------------------------------------------

def send_reminders(now: datetime | None = None) -> int:
    """Queue a "still coming?" reminder for each holding booking whose session starts within 48 hours.

    Safe from cron every few minutes, even with two runs at once: each booking is
    claimed by setting reminder_sent_at in the same transaction that queues its
    email, under the write lock (SQLite) or a row lock that skips rows another run
    holds (PostgreSQL), so a reminder goes once.
    """
    now = now or utcnow()
    _begin_write()
    bookings = db.session.scalars(
        select(Booking).join(Booking.session)
        .where(
            Booking.status.in_(Booking.HOLDING), Booking.reminder_sent_at.is_(None),
            TrainingSession.status == TrainingSession.SCHEDULED,
            TrainingSession.starts_at > now, TrainingSession.starts_at <= now + REMINDER_BEFORE,
        )
        .order_by(Booking.id)
        .with_for_update(skip_locked=True, of=Booking)
        .execution_options(populate_existing=True)
    ).all()
    for booking in bookings:
        booking.reminder_sent_at = now
        _mail_client("booking_reminder", booking, attend_url=booking_url(booking, "attend"),
                     cancel_url=booking_url(booking, "cancel"))
    db.session.commit()
    return len(bookings)

