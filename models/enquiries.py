"""Enquiries from the contact form and private-training requests, and their threads."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.archive import DELETE, Archivable
from models.base import UTCDateTime, utcnow
from models.content import Service
from models.outbox import failure_reason
from models.transactions import NotAllowed

# The one place a stored value gets the words people read (forms, admin pages, emails).
KIND_LABELS = {"contact": "Contact", "private_training": "Private training"}
FORMAT_LABELS = {"online": "Online", "on-site": "On-site at your premises"}
# Topics that are not a service; a service's own title wins over these (topic_choices).
FIXED_TOPICS = {"training": "Training", "other": "Something else"}


class Enquiry(Archivable, db.Model):
    """A contact-form enquiry or a private-training request, and where it stands in the sales pipeline."""

    __tablename__ = "enquiries"
    noun = "enquiry"

    CONTACT = "contact"
    PRIVATE_TRAINING = "private_training"
    KINDS = (CONTACT, PRIVATE_TRAINING)

    NEW = "new"
    REPLIED = "replied"
    QUOTED = "quoted"
    WON = "won"
    LOST = "lost"
    # Sent sooner after the form was shown than SPAM_MIN_SECONDS, and nothing else wrong with it:
    # autofill and paste do that, so a person may be behind it. Its emails wait for the consultant.
    HELD = "held"
    SPAM = "spam"
    STATUSES = (NEW, REPLIED, QUOTED, WON, LOST, HELD, SPAM)
    STATUS_LABELS = {NEW: "New", REPLIED: "Replied", QUOTED: "Quoted", WON: "Won", LOST: "Lost",
                     HELD: "Held for review", SPAM: "Spam"}
    # The spam trap that holds a submission for review instead of filing it as spam.
    HOLD_REASONS = frozenset({"submitted too fast"})
    # Every move any operation makes. Along the pipeline the consultant may move an enquiry
    # anywhere (and mark it spam); spam leaves only through "not spam", which sends what the
    # spam trap held back, or through a reply, which is the consultant's own judgement.
    # A held enquiry leaves through "release" (to new, sending its emails), a reply, or as spam.
    TRANSITIONS = {
        NEW: {REPLIED, QUOTED, WON, LOST, SPAM},
        REPLIED: {NEW, QUOTED, WON, LOST, SPAM},
        QUOTED: {NEW, REPLIED, WON, LOST, SPAM},
        WON: {NEW, REPLIED, QUOTED, LOST, SPAM},
        LOST: {NEW, REPLIED, QUOTED, WON, SPAM},
        HELD: {NEW, REPLIED, SPAM},
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

    @classmethod
    def status_for(cls, spam_reason: str | None) -> str:
        """Where a new submission lands: the inbox, held for review, or spam (what the spam trap said)."""
        if not spam_reason:
            return cls.NEW
        return cls.HELD if spam_reason in cls.HOLD_REASONS else cls.SPAM

    @property
    def status_label(self) -> str:
        return self.STATUS_LABELS.get(self.status, self.status)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def format_label(self) -> str:
        return FORMAT_LABELS.get(self.training_format, self.training_format)

    @property
    def topic_label(self) -> str:
        """The service's title for a service slug, else the fixed topic's label ("" when none was chosen)."""
        if not self.topic:
            return ""
        title = db.session.scalar(select(Service.title).where(Service.slug == self.topic))
        return title or FIXED_TOPICS.get(self.topic) or self.topic.replace("-", " ").capitalize()

    @property
    def emails_withheld(self) -> bool:
        """Held or trapped as spam on arrival: neither the client's copy nor the notification was sent."""
        return self.status in (self.HELD, self.SPAM) and self.spam_reason is not None

    @property
    def is_erased(self) -> bool:
        """Erased on a privacy request (blueprints/admin/operations.py): nobody is left to write to."""
        return self.email.lower().endswith("@erased.invalid")

    def refusals(self, action: str):
        # Deleting an enquiry is erasing the person's data (blueprints/admin/operations.py erase_person).
        if action == DELETE and self.is_erased:
            yield "This enquiry was already erased: there is nothing left to delete."

    def can_reply(self) -> bool:
        return not self.is_erased

    def reply_refusal(self) -> str | None:
        if self.is_erased:
            return "This enquiry was erased on a privacy request: there is no address left to reply to."
        return None

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())

    def status_targets(self) -> list[str]:
        """What the status form offers: the pipeline moves from here (spam and held leave by their own buttons)."""
        if self.status == self.SPAM:
            return []
        if self.status == self.HELD:
            return [self.SPAM]
        return [status for status in self.STATUSES if status != self.HELD and self.can_become(status)]

    def can_release(self) -> bool:
        return self.status == self.HELD

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
        if not self.can_become(status):
            if self.status == self.HELD:
                raise NotAllowed("This enquiry is held for review: use “Release” to send its emails and "
                                 "move it to the inbox.")
            raise NotAllowed(f"An enquiry cannot be moved to {self.STATUS_LABELS[status].lower()} by hand.")
        previous, self.status = self.status, status
        return previous

    def release(self) -> None:
        """A held enquiry is a person after all: to the inbox (the caller queues the withheld emails)."""
        if not self.can_release():
            raise NotAllowed("This enquiry is not held for review: nothing to release.")
        self.status, self.spam_reason = self.NEW, None

    def mark_not_spam(self) -> str | None:
        """Back to the inbox; returns why the spam trap held it (None if marked spam by hand: its emails went out)."""
        if not self.can_mark_not_spam():
            raise NotAllowed("This enquiry is not marked as spam.")
        reason, self.status, self.spam_reason = self.spam_reason, self.NEW, None
        return reason

    def record_reply(self) -> None:
        """A reply moves a new enquiry (or one held as spam) along the pipeline, never a quoted or won one back."""
        if self.status in (self.NEW, self.HELD, self.SPAM):
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
    outbox_message = relationship("OutboxMessage")

    @property
    def delivery(self) -> Delivery | None:
        """Where a reply's email stands, from its outbox row (None for a note)."""
        if self.kind != self.REPLY:
            return None
        return Delivery.of(self.outbox_message)


@dataclass(frozen=True)
class Delivery:
    """A reply's email as the consultant needs to know it: waiting, sent, retrying or failed, and why."""

    state: str  # queued, sending, sent, retrying, failed, skipped, gone
    badge: str  # a word or two
    detail: str = ""  # the sentence after it
    at: datetime | None = None  # sent at, or the next attempt
    reason: str = ""
    message_id: int | None = None

    @property
    def is_trouble(self) -> bool:
        return self.state in ("retrying", "failed", "skipped", "gone")

    @classmethod
    def of(cls, message) -> Delivery:
        if message is None:
            return cls("gone", "No record", "The email is no longer in the outbox.")
        status, attempts = message.status, message.attempts or 0
        reason = failure_reason(message.last_error) if message.last_error else ""
        if status == "sent":
            return cls("sent", "Sent", at=message.sent_at, message_id=message.id)
        if status == "failed":
            return cls("failed", "Failed", "Not delivered, and no more tries.", reason=reason, message_id=message.id)
        if status == "skipped":
            return cls("skipped", "Not sent", "Held back by the outbox.", reason=reason, message_id=message.id)
        if status == "sending":
            return cls("sending", "Sending", "Being handed to the mail server now.", message_id=message.id)
        if attempts:
            tries = f"{attempts} {'try' if attempts == 1 else 'tries'}"
            return cls("retrying", "Retrying", f"Not delivered yet ({tries}), will retry", message.next_attempt_at,
                       reason, message.id)
        return cls("queued", "Queued", "Not sent yet: waiting in the outbox.", message_id=message.id)
