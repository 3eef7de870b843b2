"""Training courses and their scheduled sessions, with the seat rules (the bookings on them: models/bookings.py)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, case, func, select
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.archive import ARCHIVE, Archivable
from models.base import RenderedMarkdown, UTCDateTime, utcnow
from models.bookings import Booking, BookingError, NotEnoughSeats, SessionUnavailable
from models.media import MediaFile

__all__ = ["Booking", "Course", "TrainingSession"]  # Booking too: models/__init__.py imports it from here


class Course(Archivable, RenderedMarkdown, db.Model):
    __tablename__ = "courses"
    noun = "course"
    markdown_columns = {"description": "description_html"}

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
    # Shown on the course page (an uploaded image: models/media.py).
    image_id: Mapped[int | None] = mapped_column(ForeignKey("media_files.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    image: Mapped[MediaFile | None] = relationship()
    sessions: Mapped[list[TrainingSession]] = relationship(
        back_populates="course", order_by="TrainingSession.starts_at"
    )

    @property
    def is_public(self) -> bool:
        return self.published and self.archived_at is None

    @classmethod
    def public(cls):
        """The courses the public may see: published and not archived (the one place that says so)."""
        return select(cls).where(cls.published.is_(True), cls.live())

    def booking_ids(self):
        return select(Booking.id).join(TrainingSession, Booking.session_id == TrainingSession.id).where(
            TrainingSession.course_id == self.id)

    def refusals(self, action: str):
        booked = [s for s in self.sessions if s.bookings_in_the_way()]
        if booked:
            n = sum(len(s.bookings_in_the_way()) for s in booked)
            yield (f"{n} {'booking is' if n == 1 else 'bookings are'} still active on {len(booked)} of its sessions: "
                   f"cancel {'that session' if len(booked) == 1 else 'those sessions'} first (everyone booked is emailed).")


class TrainingSession(Archivable, db.Model):
    """A dated run of a course. Times are UTC instants; `timezone` is for display."""

    __tablename__ = "training_sessions"
    noun = "session"

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
    # Most seats one booking may take, so one anonymous request cannot hold the whole session.
    max_seats_per_booking: Mapped[int] = mapped_column(Integer, default=4, server_default="4")
    status: Mapped[str] = mapped_column(String(20), default=SCHEDULED, index=True)
    # A private session is run for one client (from a private-training enquiry) and not listed.
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    enquiry_id: Mapped[int | None] = mapped_column(ForeignKey("enquiries.id", ondelete="SET NULL"))
    # Raised whenever the date, time or place changes, so calendar invites update in place.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    # Joining details: only ever sent to confirmed bookings (confirmation, invite, reminder), never shown publicly.
    join_url: Mapped[str] = mapped_column(String(500), default="", server_default="")  # online: the meeting link
    join_text: Mapped[str] = mapped_column(Text, default="", server_default="")  # online: passcode, dial-in
    venue_address: Mapped[str] = mapped_column(Text, default="", server_default="")  # on-site: the address
    venue_room: Mapped[str] = mapped_column(String(200), default="", server_default="")
    arrival_notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    course: Mapped[Course] = relationship(back_populates="sessions")
    bookings: Mapped[list[Booking]] = relationship(back_populates="session", order_by="Booking.created_at")

    # --- rules -----------------------------------------------------------------------------

    # Seats held and seats left are SQL expressions, defined once: a query can select or filter on
    # them (TrainingSession.seats_left >= 2), and an instance reads its own row through the same one.

    @hybrid_property
    def seats_held(self) -> int:
        """Seats of pending or confirmed bookings, counted in the database (not the loaded list)."""
        return self._own(TrainingSession.seats_held, unsaved=0)

    @seats_held.inplace.expression
    @classmethod
    def _seats_held_expression(cls):
        return cls._from_held()

    @hybrid_property
    def seats_left(self) -> int:
        """The capacity less the seats held, never below zero."""
        return self._own(TrainingSession.seats_left, unsaved=self.capacity)

    @seats_left.inplace.expression
    @classmethod
    def _seats_left_expression(cls):
        return cls._from_held(lambda held: case((held < cls.capacity, cls.capacity - held), else_=0))

    @classmethod
    def _from_held(cls, value=lambda held: held):
        """A correlated subquery of `value(seats held)`, seats held being the sum over seat-holding bookings."""
        held = func.coalesce(func.sum(Booking.seats), 0)
        return (
            select(value(held))
            .where(Booking.session_id == cls.id, Booking.holds_seats)
            .correlate_except(Booking)
            .scalar_subquery()
        )

    def _own(self, expression, *, unsaved):
        """This session's value of a seat expression (an unsaved session has no bookings yet)."""
        if self.id is None:
            return unsaved
        return db.session.scalar(select(expression).where(TrainingSession.id == self.id))

    @classmethod
    def with_seats(cls, query):
        """The query's sessions as (session, seats held, seats left) rows, counted in the same query."""
        return query.add_columns(cls.seats_held.label("held"), cls.seats_left.label("left"))

    def edit_problems(self, *, course_id: int, capacity: int) -> dict[str, str]:
        """Why a proposed edit would break the bookings already taken, by field (empty: it is fine)."""
        problems = {}
        held = self.seats_held
        if capacity < held:
            problems["capacity"] = f"{held} seats are already held; the capacity cannot be lower."
        if course_id != self.course_id and self.bookings:
            problems["course_id"] = "People have booked this session; its course cannot change."
        return problems

    @property
    def seats_per_booking(self) -> int:
        """The most seats one booking may take here (never more than the capacity)."""
        return max(1, min(self.max_seats_per_booking or 1, self.capacity))

    @property
    def seats_per_booking_message(self) -> str:
        n = self.seats_per_booking
        return (f"You can book at most {n} seat{'s' if n != 1 else ''} on this session. "
                "For a larger group, ask for a private course.")

    @property
    def is_cancelled(self) -> bool:
        return self.status == self.CANCELLED

    def is_past(self, now: datetime | None = None) -> bool:
        return self.starts_at <= (now or utcnow())

    def is_open(self, now: datetime | None = None) -> bool:
        """Open for booking: scheduled and not started yet."""
        return self.status == self.SCHEDULED and not self.is_past(now)

    @property
    def is_full(self) -> bool:
        return self.seats_left <= 0

    @property
    def local_starts_at(self) -> datetime:
        return self.starts_at.astimezone(ZoneInfo(self.timezone))

    @property
    def local_ends_at(self) -> datetime:
        return self.ends_at.astimezone(ZoneInfo(self.timezone))

    @property
    def days(self):
        """Each day's time range (models/session_days.py): a three-day course is three days, not one block."""
        from models.session_days import days_of

        return days_of(self)

    @property
    def is_multi_day(self) -> bool:
        return len(self.days) > 1

    @property
    def has_joining_details(self) -> bool:
        return any((self.join_url, self.join_text, self.venue_address, self.venue_room, self.arrival_notes))

    @property
    def joining_location(self) -> str:
        """Where to be, for the invite's LOCATION: the meeting link online, the address and room on site."""
        if self.mode == self.ONLINE and self.join_url:
            return self.join_url
        place = ", ".join(p for p in (self.venue_room, " ".join(self.venue_address.split())) if p)
        return place or self.where

    def joining_lines(self) -> list[tuple[str, str]]:
        """(label, text) of each joining detail given, in the order an attendee needs them."""
        pairs = [("Join online", self.join_url), ("Passcode and dial-in", self.join_text),
                 ("Address", self.venue_address), ("Room", self.venue_room), ("On arrival", self.arrival_notes)]
        return [(label, value.strip()) for label, value in pairs if value and value.strip()]

    @property
    def where(self) -> str:
        return "Online" if self.mode == self.ONLINE else (self.location or "On-site")

    def admit(self, seats: int, *, waitlist: bool = False) -> str:
        """The status a new booking of `seats` gets now: pending while the seats are free, else waitlisted if asked.

        Raises BookingError (more seats than the session has) or NotEnoughSeats; the caller holds the session's lock.
        """
        if seats < 1:
            raise BookingError("Book at least one seat.")
        if seats > self.capacity:
            raise BookingError(f"This session has {self.capacity} seats in all.")
        if seats > self.seats_per_booking:
            raise BookingError(self.seats_per_booking_message)
        left = self.seats_left
        if seats <= left:
            return Booking.PENDING
        if waitlist:
            return Booking.WAITLISTED
        raise NotEnoughSeats(left)

    def check_bookable(self, now: datetime | None = None, *, private_link: bool = False) -> None:
        """Raise SessionUnavailable unless a member of the public (or, `private_link`, its holder) may book it now."""
        if self.is_private and not private_link:
            raise SessionUnavailable("There is no such session.", 404)
        if self.archived_at is not None:
            raise SessionUnavailable("This session is no longer offered.", 410)
        if self.is_cancelled:
            raise SessionUnavailable("This session has been cancelled.", 410)
        if self.is_past(now):
            raise SessionUnavailable("This session has already started or taken place.", 410)

    def bookings_in_the_way(self, now: datetime | None = None) -> list[Booking]:
        """Bookings that stop it being archived or deleted: pending, confirmed or waitlisted on a session not yet over.

        Once it is over they are its history (deleting takes them along, unless an invoice keeps them)."""
        if self.ends_at is not None and self.ends_at <= (now or utcnow()):
            return []
        return [b for b in self.bookings if b.is_active]

    def booking_ids(self):
        return select(Booking.id).where(Booking.session_id == self.id)

    def refusals(self, action: str):
        active = self.bookings_in_the_way()
        if active:
            n = len(active)
            verb = "archived" if action == ARCHIVE else "deleted"
            yield (f"{n} {'booking is' if n == 1 else 'bookings are'} active on this session, so it cannot be {verb}: "
                   "cancel the session first (everyone booked is emailed).")

    def waitlist(self) -> list[Booking]:
        """Waitlisted bookings in the order they joined."""
        return list(db.session.scalars(
            select(Booking)
            .where(Booking.session_id == self.id, Booking.status == Booking.WAITLISTED)
            .order_by(Booking.waitlisted_at, Booking.id)
        ))

    @classmethod
    def upcoming(cls, now: datetime | None = None):
        now = now or utcnow()
        return (
            select(cls)
            .where(cls.status == cls.SCHEDULED, cls.is_private.is_(False), cls.starts_at > now, cls.live(),
                   cls.course_id.in_(select(Course.id).where(Course.live())))
            .order_by(cls.starts_at, cls.id)
        )
