"""Small `make_*` functions that add a valid row and return it (committed)."""
from __future__ import annotations

import hashlib
import itertools
import secrets
from datetime import datetime, timedelta, timezone

from extensions import db
from models import AdminUser, Booking, Course, Enquiry, Post, Service, Tag, TrainingSession

_seq = itertools.count(1)


def _commit(obj):
    db.session.add(obj)
    db.session.commit()
    return obj


def make_admin(email: str | None = None, password: str = "a long test password") -> AdminUser:
    user = AdminUser(email=email or f"admin{next(_seq)}@example.com")
    user.set_password(password)
    return _commit(user)


def make_service(**fields) -> Service:
    n = next(_seq)
    defaults = dict(slug=f"service-{n}", title=f"Service {n}", headline="Headline", summary="Summary.",
                    body="We do **good** work.", offerings=["One", "Two"], position=n)
    return _commit(Service(**{**defaults, **fields}))


def make_tag(name: str) -> Tag:
    return _commit(Tag(slug=name.lower().replace(" ", "-"), name=name))


def make_post(**fields) -> Post:
    n = next(_seq)
    defaults = dict(slug=f"post-{n}", title=f"Post {n}", summary="A summary.", body="Some *text*.",
                    status=Post.PUBLISHED,
                    published_at=datetime.now(timezone.utc) - timedelta(days=n))
    return _commit(Post(**{**defaults, **fields}))


def make_course(**fields) -> Course:
    n = next(_seq)
    defaults = dict(slug=f"course-{n}", title=f"Course {n}", summary="Learn things.", description="About it.",
                    duration_days=2, level="Beginner",
                    formats=["online", "on-site", "private"],
                    outline=[{"title": "Module one", "topics": ["a", "b"]}], tags=[], position=n)
    return _commit(Course(**{**defaults, **fields}))


def make_session(course: Course | None = None, **fields) -> TrainingSession:
    course = course or make_course()
    starts = fields.pop("starts_at", datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=14))
    defaults = dict(course=course, starts_at=starts, ends_at=starts + timedelta(hours=8),
                    timezone="Europe/London", mode=TrainingSession.ONLINE, capacity=10)
    return _commit(TrainingSession(**{**defaults, **fields}))


def new_token() -> tuple[str, str]:
    """A self-service token and the hash stored for it."""
    token = secrets.token_urlsafe(24)
    return token, hashlib.sha256(token.encode()).hexdigest()


def make_booking(session: TrainingSession | None = None, **fields) -> Booking:
    """A booking row as stored (bypasses the booking rules; use operations to test those)."""
    session = session or make_session()
    n = next(_seq)
    token = fields.pop("token", None)
    token_hash = hashlib.sha256(token.encode()).hexdigest() if token else new_token()[1]
    defaults = dict(session=session, name=f"Client {n}", email=f"client{n}@example.com", seats=1,
                    status=Booking.PENDING, token_hash=token_hash, consent_at=datetime.now(timezone.utc))
    return _commit(Booking(**{**defaults, **fields}))


def make_enquiry(**fields) -> Enquiry:
    n = next(_seq)
    defaults = dict(name=f"Client {n}", email=f"client{n}@example.com", company="Acme", topic="public-cloud",
                    message="We would like help moving our workloads to AWS next quarter.",
                    consent_at=datetime.now(timezone.utc))
    return _commit(Enquiry(**{**defaults, **fields}))


def make_case_study(**fields):
    from models import CaseStudy

    n = next(_seq)
    defaults = dict(slug=f"case-{n}", title=f"Case {n}", client="A telecom operator", summary="What happened.",
                    problem="The problem.", work="The work.", result="The result.", technologies=["Ceph"])
    published = fields.pop("published", True)
    item = CaseStudy(**{**defaults, **fields})
    if published:
        item.publish()
    return _commit(item)
