"""`flask seed --demo`: a few upcoming sessions so a newcomer sees a living catalogue."""
from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from extensions import db
from models import Booking, Course, TrainingSession

# (course slug, weeks from now, weekday 0=Mon, local start hour, zone, mode, location, capacity, seats booked)
DEMO_SESSIONS = [
    ("docker", 2, 1, 9, "Europe/London", TrainingSession.ONLINE, "", 10, 3),
    ("kubernetes", 3, 2, 9, "Europe/Berlin", TrainingSession.ON_SITE, "Berlin", 8, 7),  # nearly full
    ("linux-system-administration", 4, 0, 9, "Europe/London", TrainingSession.ONLINE, "", 12, 0),
    ("openstack", 6, 1, 9, "Europe/Paris", TrainingSession.ONLINE, "", 10, 2),
    ("nokia-nuage-sdn", 8, 2, 9, "Asia/Kolkata", TrainingSession.ON_SITE, "Bengaluru", 6, 5),  # nearly full
]


def _demo_bookings(session: TrainingSession, seats: int, now: datetime) -> None:
    """Made-up bookings (example.com addresses, confirmed) so the seat counts look lived in."""
    number = 0
    while seats > 0:
        number += 1
        taken = min(seats, 2)
        seats -= taken
        db.session.add(Booking(
            session=session, name=f"Demo client {number}", email=f"demo{number}@example.com",
            company="Example Ltd", seats=taken, status=Booking.CONFIRMED, consent_at=now, confirmed_at=now,
            token_hash=Booking.hash_token(secrets.token_urlsafe(32)),  # no working link: nobody gets an email
        ))


def seed_demo_sessions(today: datetime | None = None) -> int:
    """Adds each demo session once; a course that already has upcoming sessions is left alone."""
    today = today or datetime.now(timezone.utc)
    added = 0
    for slug, weeks, weekday, hour, zone, mode, location, capacity, booked in DEMO_SESSIONS:
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
        session = TrainingSession(
            course=course, starts_at=starts.astimezone(timezone.utc), ends_at=ends.astimezone(timezone.utc),
            timezone=zone, mode=mode, location=location, capacity=capacity,
        )
        db.session.add(session)
        _demo_bookings(session, booked, today)
        added += 1
    return added


DEMO_CASE_STUDY_SLUG = "demo-private-cloud-for-a-telecom-operator"


def seed_demo_case_study() -> int:
    """One made-up case study, marked as an example in its title and text, so the pages have something to show."""
    from models import CaseStudy, Service

    if db.session.scalar(select(CaseStudy.id).where(CaseStudy.slug == DEMO_CASE_STUDY_SLUG)) is not None:
        return 0
    services = list(db.session.scalars(select(Service).where(Service.slug.in_(["private-cloud", "network"]))))
    item = CaseStudy(
        slug=DEMO_CASE_STUDY_SLUG, title="Demo example: a private cloud for a telecom operator",
        client="A telecom operator (an invented example)", client_named=False,
        summary="An invented example of a case study, seeded by `flask seed --demo`: replace or delete it.",
        problem="*(Example text.)* The operator ran its internal tools on hand-built virtual machines; "
                "a new environment took two weeks.",
        work="*(Example text.)* An OpenStack private cloud on three racks, with Ceph storage and "
             "Ansible playbooks for every change.",
        result="*(Example text.)* A new environment takes an hour, and the team runs the cloud itself.",
        technologies=["OpenStack", "Ceph", "Ansible"], services=services,
    )
    item.publish()
    db.session.add(item)
    return 1
