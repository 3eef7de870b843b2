"""Bookings on training sessions: their states, the actions each can take now, the self-service token.

Also the refusals of the training rules (BookingError and its kinds): each is a NotAllowed
whose message is safe to show to the person who asked.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime, utcnow
from models.transactions import NotAllowed

if TYPE_CHECKING:
    from models.training import TrainingSession


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


class Booking(db.Model):
    __tablename__ = "bookings"

    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    WAITLISTED = "waitlisted"
    EXPIRED = "expired"  # pending too long without the consultant's answer: the seats went back
    CLIENT = "client"  # cancelled_by
    CONSULTANT = "consultant"
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
    # Who cancelled: CLIENT (their booking link), CONSULTANT (the admin, or the whole session cancelled).
    cancelled_by: Mapped[str | None] = mapped_column(String(20))
    # The client's own actions through their link, for the consultant's session page and attendee CSV.
    attendance_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # "yes, I am coming"
    client_moved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # their last move to another session
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the booking last began to hold seats unconfirmed (booked, or given a seat from the waitlist):
    # a pending booking older than PENDING_BOOKING_HOURS lapses, so one request cannot hoard seats.
    pending_since: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # While a "moved" email is still held in the outbox (blueprints/training/emails.py coalesces
    # them), where the client last knew the booking to be: the next email names that as "from".
    # (A plain id, not a foreign key: a session emptied by the move may be deleted meanwhile.)
    moved_from_session_id: Mapped[int | None] = mapped_column(Integer)
    moved_from_status: Mapped[str | None] = mapped_column(String(20))
    # Calendar invite revision for this booking (METHOD:REQUEST/CANCEL updates).
    ics_sequence: Mapped[int] = mapped_column(Integer, default=0)
    # Invoice details, asked for when the course has a price (the company name is `company`).
    billing_address: Mapped[str] = mapped_column(Text, default="", server_default="")
    vat_id: Mapped[str] = mapped_column(String(20), default="", server_default="")
    po_reference: Mapped[str] = mapped_column(String(60), default="", server_default="")
    # Card payment: the Stripe Checkout Session paying for the seats, and until when it holds them.
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    checkout_url: Mapped[str | None] = mapped_column(Text)  # Stripe's payment page, while the session is open

    session: Mapped[TrainingSession] = relationship(back_populates="bookings")

    # Which state may follow which; anything else raises BookingStateError.
    TRANSITIONS = {
        PENDING: {CONFIRMED, DECLINED, CANCELLED, EXPIRED},
        CONFIRMED: {CANCELLED},
        WAITLISTED: {PENDING, CANCELLED},
        DECLINED: set(),
        CANCELLED: set(),
        EXPIRED: set(),
    }
    LABELS = {
        PENDING: "Awaiting confirmation",
        CONFIRMED: "Confirmed",
        DECLINED: "Declined",
        CANCELLED: "Cancelled",
        WAITLISTED: "On the waitlist",
        EXPIRED: "Lapsed (not confirmed in time)",
    }
    # The actions that change the status, with the status each leads to and its past participle.
    ACTIONS = {"confirm": (CONFIRMED, "confirmed"), "decline": (DECLINED, "declined"),
               "cancel": (CANCELLED, "cancelled"), "promote": (PENDING, "given a seat"),
               "expire": (EXPIRED, "expired")}
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

    @property
    def awaits_card_payment(self) -> bool:
        """Holding seats while a Checkout Session is open (the consultant does not confirm it: the payment does)."""
        return self.status == self.PENDING and self.hold_expires_at is not None

    def confirm_paid(self) -> None:
        """Paid by card: pending (or lapsed, the seats being free again) -> confirmed. The caller checked the seats."""
        if self.status not in (self.PENDING, self.EXPIRED):
            raise BookingStateError(f"This booking is {self.status_label.lower()}, so a payment cannot confirm it.")
        self.status = self.CONFIRMED
        self.confirmed_at = utcnow()
        self.hold_expires_at = None

    def waitlist_paid(self) -> None:
        """Paid after the hold lapsed and the seats went to someone else: onto the waitlist (a refund is due)."""
        if self.status not in (self.PENDING, self.EXPIRED):
            raise BookingStateError(f"This booking is {self.status_label.lower()}.")
        self.status = self.WAITLISTED
        self.waitlisted_at = utcnow()
        self.hold_expires_at = None

    def decline(self) -> None:
        self._take("decline")

    def cancel(self, by: str = CONSULTANT) -> None:
        self._take("cancel")
        self.cancelled_at = utcnow()
        self.cancelled_by = by

    def attend(self) -> None:
        """The client said they are still coming (the status is unchanged)."""
        self.check("attend")
        self.attendance_confirmed_at = utcnow()

    def promote(self) -> None:
        """From the waitlist to pending (the seats are then held)."""
        self._take("promote")
        self.pending_since = utcnow()

    def expire(self) -> None:
        """Pending too long: the seats go back (blueprints/training/schedule.py expire_pending)."""
        self._take("expire")

    @property
    def price_total(self) -> int | None:
        """What the seats cost at the course's price per seat (None: price on request)."""
        course = self.session.course if self.session is not None else None
        if course is None or not course.price:
            return None
        return course.price * self.seats

    @property
    def waitlist_place(self) -> int | None:
        """1 for the next waitlisted booking to be offered freed seats, 2 for the one after, …; None unless waitlisted."""
        if self.status != self.WAITLISTED or self.session is None:
            return None
        order = [waiting.id for waiting in self.session.waitlist()]
        return order.index(self.id) + 1 if self.id in order else None

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

