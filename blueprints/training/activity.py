"""What clients did to their own bookings (still coming, cancelled, moved), for the consultant's session page and CSV.

The booking's own columns say when (attendance_confirmed_at, cancelled_at/cancelled_by, client_moved_at);
only where a moved booking came from is read from the audit log's last "booking.move" entry, since the
booking keeps no history of its sessions.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from extensions import db
from models import AuditLog, Booking, TrainingSession

CLIENT = Booking.CLIENT
CONSULTANT = Booking.CONSULTANT
SESSION = "session"  # cancelled with its session


@dataclass
class ClientActivity:
    attendance_confirmed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancelled_by: str = ""  # CLIENT, CONSULTANT, SESSION, or "" while not cancelled
    moved_at: datetime | None = None
    moved_from: TrainingSession | None = None

    @property
    def cancelled_by_client(self) -> bool:
        return self.cancelled_by == CLIENT


def _moved_from(bookings: list[Booking]) -> dict[int, int]:
    """Booking id → the session its client last moved it from, for the bookings a client moved."""
    ids = [b.id for b in bookings if b.client_moved_at is not None]
    found: dict[int, int] = {}
    if ids:
        entries = db.session.scalars(
            select(AuditLog).where(AuditLog.target_type == Booking.__name__, AuditLog.target_id.in_(ids),
                                   AuditLog.action == "booking.move").order_by(AuditLog.created_at, AuditLog.id))
        for entry in entries:  # oldest first: the last one wins
            origin = (entry.detail or {}).get("from_session")
            if isinstance(origin, int):
                found[entry.target_id] = origin
    return found


def client_activity(bookings: list[Booking]) -> dict[int, ClientActivity]:
    """Each booking's ClientActivity, by booking id (one audit-log query for the moved ones)."""
    origins = _moved_from(bookings)
    found = {}
    for booking in bookings:
        activity = ClientActivity(attendance_confirmed_at=booking.attendance_confirmed_at,
                                  moved_at=booking.client_moved_at)
        if booking.status == Booking.CANCELLED:
            activity.cancelled_at = booking.cancelled_at
            by = booking.cancelled_by or CONSULTANT
            activity.cancelled_by = SESSION if by == CONSULTANT and booking.session.is_cancelled else by
        origin = origins.get(booking.id)
        if origin is not None and origin != booking.session_id:
            activity.moved_from = db.session.get(TrainingSession, origin)
        found[booking.id] = activity
    return found
