"""The sessions of one month as a grid of weeks (Monday first), each day of a multi-day session marked.

Days are the consultant's (SITE_TIMEZONE): a session belongs to every local day it runs on, from the
day it starts to the day it ends. Seats held and left come from the model (TrainingSession.with_seats).
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from extensions import db
from models import TrainingSession

MONTH = re.compile(r"(\d{4})-(\d{2})")
FIRST_YEAR, LAST_YEAR = 2000, 2100


@dataclass(frozen=True)
class Entry:
    session: TrainingSession
    held: int
    left: int
    day: int  # 1 for the first day of the session
    days: int

    @property
    def fill(self) -> str:
        """low, half, high or full: how a cell shows the seats held (the words say it too)."""
        if self.left <= 0:
            return "full"
        share = self.held / self.session.capacity if self.session.capacity else 1
        return "high" if share >= 0.75 else "half" if share >= 0.5 else "low"


@dataclass
class Day:
    date: date
    in_month: bool
    is_today: bool
    entries: list[Entry] = field(default_factory=list)


@dataclass(frozen=True)
class Month:
    first: date
    weeks: list[list[Day]]

    @property
    def previous(self) -> date:
        return (self.first - timedelta(days=1)).replace(day=1)

    @property
    def next(self) -> date:
        return (self.first + timedelta(days=32)).replace(day=1)

    @property
    def has_previous(self) -> bool:
        return self.previous.year >= FIRST_YEAR

    @property
    def has_next(self) -> bool:
        return self.next.year <= LAST_YEAR

    @property
    def session_count(self) -> int:
        return len({e.session.id for week in self.weeks for d in week if d.in_month for e in d.entries})


def parse_month(value: str | None, today: date) -> date | None:
    """`YYYY-MM` as the first of that month; this month when absent; None when it is no month we show."""
    if not value:
        return today.replace(day=1)
    match = MONTH.fullmatch(value)
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not (FIRST_YEAR <= year <= LAST_YEAR and 1 <= month <= 12):
        return None
    return date(year, month, 1)


def local_days(session: TrainingSession, zone: ZoneInfo) -> tuple[date, date]:
    """The first and last local day a session runs on (one that ends at midnight does not run on the next day)."""
    first = session.starts_at.astimezone(zone).date()
    last = (max(session.ends_at, session.starts_at + timedelta(seconds=1)) - timedelta(seconds=1)).astimezone(zone).date()
    return first, max(first, last)


def build(first: date, zone_name: str, today: date) -> Month:
    zone = ZoneInfo(zone_name)
    grid = calendar.Calendar(firstweekday=calendar.MONDAY).monthdatescalendar(first.year, first.month)
    days = {d: Day(d, d.month == first.month, d == today) for week in grid for d in week}
    start = datetime.combine(grid[0][0], time(), zone)
    end = datetime.combine(grid[-1][-1] + timedelta(days=1), time(), zone)
    query = TrainingSession.with_seats(
        select(TrainingSession).options(joinedload(TrainingSession.course))
        .where(TrainingSession.starts_at < end, TrainingSession.ends_at > start, TrainingSession.live())
        .order_by(TrainingSession.starts_at, TrainingSession.id))
    for session, held, left in db.session.execute(query).all():
        begin, finish = local_days(session, zone)
        total = (finish - begin).days + 1
        for n in range(total):
            day = days.get(begin + timedelta(days=n))
            if day is not None:
                day.entries.append(Entry(session, held, left, n + 1, total))
    return Month(first, [[days[d] for d in week] for week in grid])
