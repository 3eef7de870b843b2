"""`flask seed --demo`: a few upcoming sessions so a newcomer sees a living catalogue."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from extensions import db
from models import Course, TrainingSession

# (course slug, weeks from now, weekday 0=Mon, local start hour, zone, mode, location, capacity)
DEMO_SESSIONS = [
    ("docker", 2, 1, 9, "Europe/London", TrainingSession.ONLINE, "", 10),
    ("kubernetes", 3, 2, 9, "Europe/Berlin", TrainingSession.ON_SITE, "Berlin", 8),
    ("linux-system-administration", 4, 0, 9, "Europe/London", TrainingSession.ONLINE, "", 12),
    ("openstack", 6, 1, 9, "Europe/Paris", TrainingSession.ONLINE, "", 10),
    ("nokia-nuage-sdn", 8, 2, 9, "Asia/Kolkata", TrainingSession.ON_SITE, "Bengaluru", 6),
]


def seed_demo_sessions(today: datetime | None = None) -> int:
    """Adds each demo session once; a course that already has upcoming sessions is left alone."""
    today = today or datetime.now(timezone.utc)
    added = 0
    for slug, weeks, weekday, hour, zone, mode, location, capacity in DEMO_SESSIONS:
        course = db.session.scalar(select(Course).where(Course.slug == slug))
        if course is None:
            continue
        has_upcoming = db.session.scalar(
            select(TrainingSession.id).where(
                TrainingSession.course_id == course.id, TrainingSession.starts_at > today
            ).limit(1)
        )
        if has_upcoming:
            continue
        tz = ZoneInfo(zone)
        day = (today + timedelta(weeks=weeks)).date()
        day += timedelta(days=(weekday - day.weekday()) % 7)
        starts = datetime.combine(day, time(hour), tz)
        ends = datetime.combine(day + timedelta(days=max(course.duration_days, 1) - 1), time(17), tz)
        db.session.add(TrainingSession(
            course=course, starts_at=starts.astimezone(timezone.utc), ends_at=ends.astimezone(timezone.utc),
            timezone=zone, mode=mode, location=location, capacity=capacity,
        ))
        added += 1
    return added
