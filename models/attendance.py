"""Who attended a session, day by day, and the days and hours a session runs.

Attendance is keyed by (booking, day): the local calendar date in the session's time zone. It works the
same for a session stored as one block (starts_at..ends_at) as for one stored day by day; `session_dates`
and `day_hours` are the one place that says which days a session has and how long each is.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Boolean, Date, ForeignKey, Integer, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.base import UTCDateTime, utcnow


def session_dates(session) -> list[date]:
    """The local calendar dates the session runs on, in its own time zone, first to last.

    One block from starts_at to ends_at: every date from the local start to the local end (an end at
    midnight belongs to the day before).
    """
    start, end = session.local_starts_at, session.local_ends_at
    last = end.date()
    if end.time() == datetime.min.time() and last > start.date():
        last -= timedelta(days=1)
    days = []
    day = start.date()
    while day <= last and len(days) < 366:
        days.append(day)
        day += timedelta(days=1)
    return days


def day_hours(session) -> dict[date, float]:
    """Teaching hours of each of the session's days.

    One day: from start to end. Several days in one block: each day from the start's clock time to the end's
    (09:00-17:00 each day), or, if that is not a positive span, the block's hours shared out equally.
    """
    days = session_dates(session)
    if not days:
        return {}
    start, end = session.local_starts_at, session.local_ends_at
    if len(days) == 1:
        return {days[0]: round((end - start).total_seconds() / 3600, 2)}
    clock = (datetime.combine(date.min, end.time()) - datetime.combine(date.min, start.time())).total_seconds() / 3600
    if clock <= 0:
        clock = (session.ends_at - session.starts_at).total_seconds() / 3600 / len(days)
    return {day: round(clock, 2) for day in days}


class Attendance(db.Model):
    """One booking's presence on one day of its session (no row: not marked yet)."""

    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("booking_id", "day", name="uq_attendance_booking_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    attended: Mapped[bool] = mapped_column(Boolean, default=False)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    marked_by: Mapped[int | None] = mapped_column(Integer)  # admin user id (a plain id: the log keeps who)

    @classmethod
    def for_bookings(cls, booking_ids) -> dict[tuple[int, date], bool]:
        """{(booking id, day): attended} for the given bookings."""
        ids = list(booking_ids)
        if not ids:
            return {}
        rows = db.session.execute(select(cls.booking_id, cls.day, cls.attended).where(cls.booking_id.in_(ids)))
        return {(booking_id, day): attended for booking_id, day, attended in rows}

    @classmethod
    def attended_days(cls, booking_id: int) -> list[date]:
        return list(db.session.scalars(
            select(cls.day).where(cls.booking_id == booking_id, cls.attended.is_(True)).order_by(cls.day)))
