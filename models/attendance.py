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
from models.session_days import days_of, local


def session_dates(session) -> list[date]:
    """The local calendar dates the session runs on, in its own time zone, first to last: one per day of
    models.session_days (its own rows, or the default split), and for a single block over several dates every
    date it covers (an end at midnight belongs to the day before)."""
    days = days_of(session)
    if len(days) > 1:
        return [local(day.starts_at, session.timezone).date() for day in days]
    start, end = session.local_starts_at, session.local_ends_at
    last = end.date()
    if end.time() == datetime.min.time() and last > start.date():
        last -= timedelta(days=1)
    dates, day = [], start.date()
    while day <= last and len(dates) < 366:
        dates.append(day)
        day += timedelta(days=1)
    return dates


def day_hours(session) -> dict[date, float]:
    """Teaching hours of each of the session's days: each day's own time range; a single block over several
    dates has its hours shared out equally."""
    days = days_of(session)
    if len(days) > 1:
        return {local(day.starts_at, session.timezone).date(): round(day.duration.total_seconds() / 3600, 2)
                for day in days}
    dates = session_dates(session)
    if not dates:
        return {}
    hours = (session.ends_at - session.starts_at).total_seconds() / 3600 / len(dates)
    return {day: round(hours, 2) for day in dates}


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
