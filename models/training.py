"""Training courses, their scheduled sessions and the bookings on them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime, utcnow


class Course(db.Model):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(150))
    summary: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    duration_days: Mapped[int] = mapped_column(Integer, default=1)
    level: Mapped[str] = mapped_column(String(30), default="Beginner")
    prerequisites: Mapped[str] = mapped_column(Text, default="")
    formats: Mapped[list] = mapped_column(JSON, default=list)  # online, on-site, private
    # [{"title": "...", "topics": ["...", ...]}, ...]
    outline: Mapped[list] = mapped_column(JSON, default=list)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    price: Mapped[int | None] = mapped_column(Integer)  # per seat, whole units of currency
    currency: Mapped[str | None] = mapped_column(String(3))
    position: Mapped[int] = mapped_column(Integer, default=0)
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    sessions: Mapped[list[TrainingSession]] = relationship(
        back_populates="course", order_by="TrainingSession.starts_at"
    )


class TrainingSession(db.Model):
    """A dated run of a course. Times are UTC instants; `timezone` is for display."""

    __tablename__ = "training_sessions"

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    ONLINE = "online"
    ON_SITE = "on-site"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="RESTRICT"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")  # IANA name
    mode: Mapped[str] = mapped_column(String(20), default=ONLINE)
    location: Mapped[str] = mapped_column(String(200), default="")
    capacity: Mapped[int] = mapped_column(Integer, default=10)
    status: Mapped[str] = mapped_column(String(20), default=SCHEDULED, index=True)
    # A private session is run for one client (from a private-training enquiry) and not listed.
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    enquiry_id: Mapped[int | None] = mapped_column(ForeignKey("enquiries.id", ondelete="SET NULL"))
    # Raised whenever the date, time or place changes, so calendar invites update in place.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    course: Mapped[Course] = relationship(back_populates="sessions")
    bookings: Mapped[list[Booking]] = relationship(back_populates="session", order_by="Booking.created_at")

    @classmethod
    def upcoming(cls, now: datetime | None = None):
        now = now or utcnow()
        return (
            select(cls)
            .where(cls.status == cls.SCHEDULED, cls.is_private.is_(False), cls.starts_at > now)
            .order_by(cls.starts_at, cls.id)
        )

    @classmethod
    def seats_held_column(cls):
        """A correlated subquery: seats of pending or confirmed bookings."""
        return (
            select(func.coalesce(func.sum(Booking.seats), 0))
            .where(Booking.session_id == cls.id, Booking.status.in_(Booking.HOLDING))
            .correlate(cls)
            .scalar_subquery()
        )


class Booking(db.Model):
    __tablename__ = "bookings"

    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    WAITLISTED = "waitlisted"
    HOLDING = (PENDING, CONFIRMED)  # statuses that hold seats

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), index=True)
    company: Mapped[str] = mapped_column(String(150), default="")
    seats: Mapped[int] = mapped_column(Integer, default=1)
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=PENDING, index=True)
    # SHA-256 of the self-service token; the token itself is only ever in the client's email.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    waitlisted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # waitlist order
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Calendar invite revision for this booking (METHOD:REQUEST/CANCEL updates).
    ics_sequence: Mapped[int] = mapped_column(Integer, default=0)

    session: Mapped[TrainingSession] = relationship(back_populates="bookings")
