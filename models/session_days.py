"""The days of a training session: each day its own time range, so a three-day course is three 09:00–17:00 days.

A session with no rows here runs as its own starts_at..ends_at, split into one range per local date when it
spans several dates with the same hours each day (09:00 on the first to 17:00 on the last: that many
09:00–17:00 days); the consultant writes rows only to differ from that (a day off, a shorter last day).
The session's starts_at and ends_at stay the first day's start and the last day's end, so every query
that orders, filters or reminds by them is unchanged. Instants are UTC; each day is reckoned in the
session's own zone, so 09:00 stays 09:00 across a change to or from summer time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime

if TYPE_CHECKING:
    from models.training import TrainingSession

DEFAULT_HOURS = (time(9, 0), time(17, 0))
MAX_DAYS = 60


class SessionDay(db.Model):
    """One day of a session whose days differ from the default split (see the module's docstring)."""

    __tablename__ = "session_days"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    position: Mapped[int] = mapped_column(Integer, default=0)


def _attach() -> None:
    from models.training import TrainingSession

    SessionDay.session = relationship(TrainingSession, backref=backref(
        "custom_days", order_by=(SessionDay.starts_at, SessionDay.id), cascade="all, delete-orphan"))


_attach()


@dataclass(frozen=True)
class Day:
    """One day's time range, as UTC instants, and its number in the session (1, 2, …)."""

    number: int
    starts_at: datetime
    ends_at: datetime

    @property
    def duration(self) -> timedelta:
        return self.ends_at - self.starts_at


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


def at(day: date, clock: time, zone: str) -> datetime:
    """The instant a wall-clock time on a date in `zone` is (UTC)."""
    return datetime.combine(day, clock, tzinfo=ZoneInfo(zone)).astimezone(ZoneInfo("UTC"))


def split_range(starts_at: datetime, ends_at: datetime, zone: str) -> list[tuple[datetime, datetime]]:
    """The default days of a range: one per local date when it spans dates with the same hours each day, else itself."""
    first, last = local(starts_at, zone), local(ends_at, zone)
    dates = (last.date() - first.date()).days + 1
    if dates <= 1 or last.time() <= first.time() or dates > MAX_DAYS:
        return [(starts_at, ends_at)]
    return [(at(first.date() + timedelta(days=n), first.time(), zone), at(first.date() + timedelta(days=n), last.time(), zone))
            for n in range(dates)]


def days_of(session: TrainingSession) -> list[Day]:
    """The session's days in order: its own rows, or the default split of starts_at..ends_at."""
    rows = [(d.starts_at, d.ends_at) for d in session.custom_days] if session.id is not None else []
    ranges = rows or split_range(session.starts_at, session.ends_at, session.timezone)
    return [Day(n, s, e) for n, (s, e) in enumerate(sorted(ranges), start=1)]


def default_range(first_day: date, duration_days: int, zone: str,
                  hours: tuple[time, time] = DEFAULT_HOURS) -> tuple[datetime, datetime]:
    """A course of `duration_days` from `first_day`, at the daily hours: the first start and the last end (UTC)."""
    last_day = first_day + timedelta(days=max(1, duration_days) - 1)
    return at(first_day, hours[0], zone), at(last_day, hours[1], zone)


# --- the admin's text form of the days: "2027-03-29 09:00-17:00", one line each ----------------------

LINE = re.compile(r"(\d{4})-(\d{2})-(\d{2})\s+(\d{1,2}):(\d{2})\s*[-\u2013\u2014]\s*(\d{1,2}):(\d{2})")


class DaysError(ValueError):
    """The days as typed cannot be a session's days; the message says why, for the form."""


def parse_days(text: str, zone: str) -> list[tuple[datetime, datetime]]:
    """Lines of "YYYY-MM-DD HH:MM-HH:MM" (local to `zone`) as UTC ranges, in order, not overlapping."""
    ranges = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = " ".join(raw.split())
        if not line:
            continue
        match = LINE.fullmatch(line)
        if not match:
            raise DaysError(f"Line {number}: write a day as 2027-03-29 09:00-17:00.")
        y, m, d, h1, m1, h2, m2 = (int(g) for g in match.groups())
        try:
            day, start, end = date(y, m, d), time(h1, m1), time(h2, m2)
        except ValueError:
            raise DaysError(f"Line {number}: that is not a real date or time.") from None
        if end <= start:
            raise DaysError(f"Line {number}: a day must end after it starts.")
        try:
            ranges.append((at(day, start, zone), at(day, end, zone)))
        except OverflowError:  # the last days of year 9999 in a zone behind UTC
            raise DaysError(f"Line {number}: that date is too far away.") from None
    if not ranges:
        raise DaysError("Give at least one day.")
    if len(ranges) > MAX_DAYS:
        raise DaysError(f"A session has at most {MAX_DAYS} days.")
    ranges.sort()
    for (_, end), (start, _) in zip(ranges, ranges[1:], strict=False):
        if start < end:
            raise DaysError("Two days overlap.")
    return ranges


def days_text(session: TrainingSession) -> str:
    lines = []
    for day in days_of(session):
        s, e = local(day.starts_at, session.timezone), local(day.ends_at, session.timezone)
        lines.append(f"{s:%Y-%m-%d %H:%M}-{e:%H:%M}")
    return "\n".join(lines)
