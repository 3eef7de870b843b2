"""Enquiries from the contact form and private-training requests, and their threads."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime, utcnow
from models.transactions import NotAllowed


class Enquiry(db.Model):
    """A contact-form enquiry or a private-training request, and where it stands in the sales pipeline."""

    __tablename__ = "enquiries"

    CONTACT = "contact"
    PRIVATE_TRAINING = "private_training"
    KINDS = (CONTACT, PRIVATE_TRAINING)

    NEW = "new"
    REPLIED = "replied"
    QUOTED = "quoted"
    WON = "won"
    LOST = "lost"
    SPAM = "spam"
    STATUSES = (NEW, REPLIED, QUOTED, WON, LOST, SPAM)
    # Every move any operation makes. Along the pipeline the consultant may move an enquiry
    # anywhere (and mark it spam); spam leaves only through "not spam", which sends what the
    # spam trap held back, or through a reply, which is the consultant's own judgement.
    TRANSITIONS = {
        NEW: {REPLIED, QUOTED, WON, LOST, SPAM},
        REPLIED: {NEW, QUOTED, WON, LOST, SPAM},
        QUOTED: {NEW, REPLIED, WON, LOST, SPAM},
        WON: {NEW, REPLIED, QUOTED, LOST, SPAM},
        LOST: {NEW, REPLIED, QUOTED, WON, SPAM},
        SPAM: {NEW, REPLIED},
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), default=CONTACT, index=True)
    status: Mapped[str] = mapped_column(String(20), default=NEW, index=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), index=True)
    company: Mapped[str] = mapped_column(String(150), default="")
    topic: Mapped[str] = mapped_column(String(60), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why a spam trap fired (honeypot, too fast, rate limit); None for real enquiries.
    spam_reason: Mapped[str | None] = mapped_column(String(100))

    # Private-training requests only.
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="SET NULL"))
    preferred_dates: Mapped[str] = mapped_column(String(500), default="")
    attendees: Mapped[int | None] = mapped_column(Integer)
    training_format: Mapped[str] = mapped_column(String(30), default="")

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    course = relationship("Course")
    messages: Mapped[list[EnquiryMessage]] = relationship(
        back_populates="enquiry", cascade="all, delete-orphan", order_by="EnquiryMessage.created_at"
    )

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())

    def status_targets(self) -> list[str]:
        """What the status form offers: the pipeline moves from here (spam leaves by its own button)."""
        if self.status == self.SPAM:
            return []
        return [status for status in self.STATUSES if self.can_become(status)]

    def can_mark_not_spam(self) -> bool:
        return self.status == self.SPAM

    def can_schedule(self) -> bool:
        """Only a private-training request becomes a private session."""
        return self.kind == self.PRIVATE_TRAINING

    def move_to(self, status: str) -> str:
        """Change the pipeline status through the status form; returns the previous one."""
        if status not in self.STATUSES:
            raise ValueError(f"unknown status {status!r}")
        if status == self.status:
            raise NotAllowed(f"This enquiry is already {status}.")
        if self.status == self.SPAM:
            raise NotAllowed("This enquiry is held as spam: use “Not spam” to move it to the inbox.")
        previous, self.status = self.status, status
        return previous

    def mark_not_spam(self) -> str | None:
        """Back to the inbox; returns why the spam trap held it (None if marked spam by hand: its emails went out)."""
        if not self.can_mark_not_spam():
            raise NotAllowed("This enquiry is not marked as spam.")
        reason, self.status, self.spam_reason = self.spam_reason, self.NEW, None
        return reason

    def record_reply(self) -> None:
        """A reply moves a new enquiry (or one held as spam) along the pipeline, never a quoted or won one back."""
        if self.status in (self.NEW, self.SPAM):
            self.status, self.spam_reason = self.REPLIED, None


class EnquiryMessage(db.Model):
    """One entry in an enquiry's thread: a reply sent to the client or an internal note."""

    __tablename__ = "enquiry_messages"

    REPLY = "reply"
    NOTE = "note"

    id: Mapped[int] = mapped_column(primary_key=True)
    enquiry_id: Mapped[int] = mapped_column(ForeignKey("enquiries.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default=REPLY)
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("admin_users.id", ondelete="SET NULL"))
    outbox_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    enquiry: Mapped[Enquiry] = relationship(back_populates="messages")
    author = relationship("AdminUser")
