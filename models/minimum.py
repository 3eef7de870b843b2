"""A session's minimum class size: how many seats must be confirmed by a decision date for it to run."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime, utcnow


class SessionMinimum(db.Model):
    """Go/no-go for one session. The site asks and reminds; only the consultant decides (never cancels by itself)."""

    __tablename__ = "session_minimums"

    GO = "go"
    CANCEL = "cancel"

    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id", ondelete="CASCADE"), primary_key=True)
    min_attendees: Mapped[int] = mapped_column(Integer)
    decide_by: Mapped[date] = mapped_column(Date)  # a local date in the session's time zone
    decision: Mapped[str | None] = mapped_column(String(10))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the go/no-go email before the date
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # again, once the date came undecided
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    session = relationship("TrainingSession")

    @property
    def decided(self) -> bool:
        return self.decision is not None

    def confirmed_seats(self) -> int:
        return sum(b.seats for b in self.session.bookings if b.status == "confirmed")

    def held_seats(self) -> int:
        return sum(b.seats for b in self.session.bookings if b.holds_seats)

    @property
    def reached(self) -> bool:
        return self.confirmed_seats() >= self.min_attendees
