"""A session's joining details and its days (admin): each change under the session's lock, told to whom it concerns.

Joining details reach confirmed bookings only: a change sends each of them an updated invite (same UID,
SEQUENCE + 1) with the new details; pending and waitlisted bookings get nothing (they hear with their
confirmation). New days are a reschedule (schedule._move_in_time): everyone booked is told.
"""
from __future__ import annotations

from sqlalchemy import select

from blueprints.training.emails import invite, mail_client
from blueprints.training.schedule import _lock_open_session, _move_in_time, check_times
from extensions import db
from models import AuditLog, Booking, TrainingSession

JOINING_FIELDS = ("join_url", "join_text", "venue_address", "venue_room", "arrival_notes")


def update_joining(session: TrainingSession, actor, **fields) -> int:
    """Store new joining details; returns how many confirmed bookings were sent the updated invite."""
    unknown = set(fields) - set(JOINING_FIELDS)
    if unknown:
        raise TypeError(f"update_joining() got unexpected fields: {', '.join(sorted(unknown))}")
    session = _lock_open_session(session.id, "This session is cancelled; it can no longer be changed.")
    changed = [name for name, value in fields.items() if (value or "").strip() != (getattr(session, name) or "")]
    if not changed:
        return 0
    for name in changed:
        setattr(session, name, (fields[name] or "").strip())
    confirmed = db.session.scalars(
        select(Booking).where(Booking.session_id == session.id, Booking.status == Booking.CONFIRMED)
        .order_by(Booking.id).with_for_update()
    ).all()
    for booking in confirmed:
        booking.ics_sequence += 1
        db.session.flush()
        mail_client("booking_joining_updated", booking, attachments=invite(booking))
    AuditLog.record(actor, "session.joining_update", session, fields=changed, invites=len(confirmed))
    db.session.flush()
    return len(confirmed)


def set_days(session: TrainingSession, actor, ranges, message: str = "") -> TrainingSession:
    """Give the session these days ((start, end) UTC pairs, in order); everyone booked hears of the new times."""
    check_times(ranges[0][0], ranges[-1][1])
    session = _lock_open_session(session.id, "This session is cancelled; it can no longer be changed.")
    current = [(d.starts_at, d.ends_at) for d in session.days]
    if current != list(ranges):
        _move_in_time(session, ranges[0][0], ranges[-1][1], actor, message, days=ranges)
    return session
