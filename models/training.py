"""Training courses, their scheduled sessions and the bookings on them."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, case, func, select
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime, utcnow
from models.transactions import NotAllowed


class BookingError(NotAllowed):
    """A booking rule refused an action; the message is safe to show to the person who asked."""


class BookingStateError(BookingError):
    """The booking (or session) is not in a state that allows this action, e.g. confirming a cancelled booking."""


class SessionUnavailable(BookingError):
    """The session cannot be booked: unknown or private (404) or past or cancelled (410)."""

    def __init__(self, message: str, status_code: int = 410) -> None:
        super().__init__(message)
        self.status_code = status_code


class SessionEditRefused(BookingError):
    """A session edit would break the bookings already taken; `problems` says why, by form field."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(" ".join(problems.values()))
        self.problems = problems


class NotEnoughSeats(BookingError):
    def __init__(self, seats_left: int) -> None:
        self.seats_left = seats_left
        if seats_left <= 0:
            super().__init__("This session is full.")
        else:
            super().__init__(f"Only {seats_left} seat{'s' if seats_left != 1 else ''} left.")


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
        left = self.seats_left
        if seats <= left:
            return Booking.PENDING
        if waitlist:
            return Booking.WAITLISTED
        raise NotEnoughSeats(left)

    def check_bookable(self, now: datetime | None = None) -> None:
        """Raise SessionUnavailable unless a member of the public may book this session now."""
        if self.is_private:
            raise SessionUnavailable("There is no such session.", 404)
        if self.is_cancelled:
            raise SessionUnavailable("This session has been cancelled.", 410)
        if self.is_past(now):
            raise SessionUnavailable("This session has already started or taken place.", 410)

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
            .where(cls.status == cls.SCHEDULED, cls.is_private.is_(False), cls.starts_at > now)
            .order_by(cls.starts_at, cls.id)
        )



class Booking(db.Model):
    __tablename__ = "bookings"

    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    WAITLISTED = "waitlisted"
    HOLDING = (PENDING, CONFIRMED)  # statuses that hold seats
    ACTIVE = (PENDING, CONFIRMED, WAITLISTED)  # statuses a session change must tell

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

    # Which state may follow which; anything else raises BookingStateError.
    TRANSITIONS = {
        PENDING: {CONFIRMED, DECLINED, CANCELLED},
        CONFIRMED: {CANCELLED},
        WAITLISTED: {PENDING, CANCELLED},
        DECLINED: set(),
        CANCELLED: set(),
    }
    LABELS = {
        PENDING: "Awaiting confirmation",
        CONFIRMED: "Confirmed",
        DECLINED: "Declined",
        CANCELLED: "Cancelled",
        WAITLISTED: "On the waitlist",
    }
    # The actions that change the status, with the status each leads to and its past participle.
    ACTIONS = {"confirm": (CONFIRMED, "confirmed"), "decline": (DECLINED, "declined"),
               "cancel": (CANCELLED, "cancelled"), "promote": (PENDING, "given a seat")}
    TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{22,128}")

    @hybrid_property
    def holds_seats(self) -> bool:
        return self.status in self.HOLDING

    @holds_seats.inplace.expression
    @classmethod
    def _holds_seats_expression(cls):
        return cls.status.in_(cls.HOLDING)

    @hybrid_property
    def is_active(self) -> bool:
        """Still in play: pending, confirmed or waitlisted."""
        return self.status in self.ACTIVE

    @is_active.inplace.expression
    @classmethod
    def _is_active_expression(cls):
        return cls.status.in_(cls.ACTIVE)

    @property
    def status_label(self) -> str:
        return self.LABELS.get(self.status, self.status)

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())

    # --- which actions this booking can take ------------------------------------------------------
    # The one place that says so: the operations refuse through `check`, and the pages show a
    # button only when `can_…` is true.

    def refusal(self, action: str) -> str | None:
        """Why this booking cannot take `action` now, in words for the person who asked (None: it can)."""
        state = self.status_label.lower()
        if action == "move":  # to another session of the course: anything still in play
            return None if self.is_active else f"This booking is {state}, so it cannot be moved."
        if action == "attend":  # "still coming": only a booking that holds seats
            return None if self.holds_seats else f"This booking is {state}."
        status, verb = self.ACTIONS[action]
        if not self.can_become(status):
            return f"This booking is {state}, so it cannot be {verb}."
        if action == "confirm" and self.session is not None and not self.session.is_open():
            return "This session is cancelled or has already started; the booking cannot be confirmed."
        return None

    def check(self, action: str) -> None:
        """Raise BookingStateError (its message is the refusal) unless this booking can take `action` now."""
        reason = self.refusal(action)
        if reason:
            raise BookingStateError(reason)

    @property
    def can_confirm(self) -> bool:
        return self.refusal("confirm") is None

    @property
    def can_decline(self) -> bool:
        return self.refusal("decline") is None

    @property
    def can_cancel(self) -> bool:
        return self.refusal("cancel") is None

    @property
    def can_promote(self) -> bool:
        return self.refusal("promote") is None

    @property
    def can_move(self) -> bool:
        return self.refusal("move") is None

    @property
    def can_attend(self) -> bool:
        return self.refusal("attend") is None

    def _take(self, action: str) -> None:
        self.check(action)
        self.status = self.ACTIONS[action][0]

    def confirm(self) -> None:
        self._take("confirm")
        self.confirmed_at = utcnow()

    def decline(self) -> None:
        self._take("decline")

    def cancel(self) -> None:
        self._take("cancel")
        self.cancelled_at = utcnow()

    def promote(self) -> None:
        """From the waitlist to pending (the seats are then held)."""
        self._take("promote")

    # --- self-service token -------------------------------------------------------------------

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def token_matches(self, token: str) -> bool:
        return self.token_hash == self.hash_token(token)

    @classmethod
    def find_by_token(cls, token: str) -> Booking | None:
        """The booking a self-service token belongs to, or None (malformed tokens never reach the database)."""
        if not isinstance(token, str) or not cls.TOKEN_PATTERN.fullmatch(token):
            return None
        return db.session.scalar(select(cls).where(cls.token_hash == cls.hash_token(token)))

