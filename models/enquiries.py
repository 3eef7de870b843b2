"""Enquiries from the contact form and private-training requests, and their threads."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime, utcnow


class Enquiry(db.Model):
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
