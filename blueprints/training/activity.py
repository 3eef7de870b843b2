"""What clients did to their own bookings (still coming, cancelled, moved), for the consultant's session page and CSV.

A booking has no columns for these answers: the audit log holds them (entries on the booking with no
admin behind them). A booking's own fields fill the gaps for changes made before the log recorded them:
a cancelled booking with no admin's cancel on record, on a session still running, was cancelled by its
client (the only other way to cancel it); `moved_from_session_id` is set only by the client's own move.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from extensions import db
from models import AuditLog, Booking, TrainingSession

ATTENDANCE_ACTIONS = ("booking.attendance_confirmed", "booking.attend")
CLIENT = "client"
CONSULTANT = "consultant"
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


def _by_client(entry: AuditLog, booking: Booking) -> bool:
    """An entry the client made: marked so, or made by nobody signed in (cron marks its own: by=schedule)."""
    by = (entry.detail or {}).get("by")
    if by is not None:
        return by == CLIENT
    return entry.actor_id is None and entry.actor_email in ("", booking.email)


def _session_id(detail: dict) -> int | None:
    for key in ("from_session_id", "from_session", "old_session_id"):
        value = detail.get(key)
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return int(value)
    return None


def client_activity(bookings: list[Booking]) -> dict[int, ClientActivity]:
    """Each booking's ClientActivity, by booking id, from one query of the audit log."""
    ids = [b.id for b in bookings]
    entries: dict[int, list[AuditLog]] = defaultdict(list)
    if ids:
        for entry in db.session.scalars(
            select(AuditLog).where(AuditLog.target_type == Booking.__name__, AuditLog.target_id.in_(ids))
            .order_by(AuditLog.created_at, AuditLog.id)
        ):
            entries[entry.target_id].append(entry)
    found = {}
    for booking in bookings:
        activity = ClientActivity()
        for entry in entries[booking.id]:
            client = _by_client(entry, booking)
            if entry.action in ATTENDANCE_ACTIONS and client:
                activity.attendance_confirmed_at = entry.created_at
            elif entry.action == "booking.cancel":
                activity.cancelled_at = entry.created_at
                activity.cancelled_by = CLIENT if client else CONSULTANT
            elif entry.action.startswith("booking.move") and client:
                activity.moved_at = entry.created_at
                from_id = _session_id(entry.detail or {})
                if from_id is not None and from_id != booking.session_id:
                    activity.moved_from = db.session.get(TrainingSession, from_id)
        if booking.status == Booking.CANCELLED:
            activity.cancelled_at = activity.cancelled_at or booking.cancelled_at
            if not activity.cancelled_by:
                activity.cancelled_by = SESSION if booking.session.is_cancelled else CLIENT
        else:
            activity.cancelled_at, activity.cancelled_by = None, ""
        if booking.moved_from_session_id not in (None, booking.session_id):
            activity.moved_from = db.session.get(TrainingSession, booking.moved_from_session_id) or activity.moved_from
        found[booking.id] = activity
    return found
