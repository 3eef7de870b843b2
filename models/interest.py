"""Interest lists: people who asked to hear when a course's next session is scheduled (double opt-in)."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime, utcnow

# An unconfirmed entry lapses after this long and is never mailed again.
CONFIRM_WITHIN = timedelta(days=7)


class InterestEntry(db.Model):
    __tablename__ = "interest_entries"
    __table_args__ = (UniqueConstraint("course_id", "email_key", name="uq_interest_course_email"),)

    PENDING = "pending"  # asked, not confirmed: gets only the confirmation email
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"  # final: a new request for the same address never revives it
    TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{22,128}")

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(320))  # one mailbox (mail.compose.recipient_key)
    status: Mapped[str] = mapped_column(String(20), default=PENDING, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # the latest confirmation email
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    course = relationship("Course")

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def find_by_token(cls, token: str) -> InterestEntry | None:
        if not isinstance(token, str) or not cls.TOKEN_PATTERN.fullmatch(token):
            return None
        return db.session.scalar(select(cls).where(cls.token_hash == cls.hash_token(token)))

    def lapsed(self, now: datetime | None = None) -> bool:
        """Unconfirmed for longer than CONFIRM_WITHIN since the last confirmation email."""
        return self.status == self.PENDING and self.asked_at + CONFIRM_WITHIN <= (now or utcnow())


class InterestAnnouncement(db.Model):
    """A public session whose scheduling was announced to its course's interest list (once per session)."""

    __tablename__ = "interest_announcements"

    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id", ondelete="CASCADE"), primary_key=True)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    announced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
