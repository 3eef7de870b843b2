"""Private courses: the dates proposed to a client from their request, and the private booking link of the session.

A proposal is a hidden private session offered to the client on one date; the client picks one by its
link and the others are withdrawn (their sessions cancelled; nobody is booked on them). The chosen
session gets a private booking link the client's coordinator forwards to colleagues: anyone with it may
register against the session's capacity, until the consultant revokes it. Both links are tokens derived
from SECRET_KEY and the row's id (blueprints/training/private.py), of which only a SHA-256 is stored.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime, utcnow
from models.transactions import NotAllowed

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{22,128}")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _find(model, token):
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        return None
    return db.session.scalar(select(model).where(model.token_hash == hash_token(token)))


class SessionProposal(db.Model):
    """One date proposed to a private-training client: proposed → accepted, or withdrawn when another is chosen."""

    __tablename__ = "session_proposals"

    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    WITHDRAWN = "withdrawn"
    LABELS = {PROPOSED: "Proposed", ACCEPTED: "Chosen", WITHDRAWN: "Withdrawn"}

    id: Mapped[int] = mapped_column(primary_key=True)
    enquiry_id: Mapped[int | None] = mapped_column(ForeignKey("enquiries.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=PROPOSED)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    enquiry = relationship("Enquiry")
    session = relationship("TrainingSession")

    @property
    def status_label(self) -> str:
        return self.LABELS.get(self.status, self.status)

    def pick_refusal(self) -> str | None:
        """Why the client cannot choose this date now (None: they can)."""
        if self.status == self.ACCEPTED:
            return "You have already chosen this date."
        if self.status == self.WITHDRAWN:
            return "Another date was chosen for this course, so this one is no longer offered."
        if not self.session.is_open():
            return "This date has passed or is no longer offered. Reply to our email and we will find another."
        return None

    def accept(self, now: datetime) -> None:
        if refusal := self.pick_refusal():
            raise NotAllowed(refusal)
        self.status, self.decided_at = self.ACCEPTED, now

    def withdraw(self, now: datetime) -> None:
        self.status, self.decided_at = self.WITHDRAWN, now

    @classmethod
    def find_by_token(cls, token) -> SessionProposal | None:
        return _find(cls, token)


class PrivateLink(db.Model):
    """The private booking link of a session; revoked links open nothing (a new one may be issued)."""

    __tablename__ = "private_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    session = relationship("TrainingSession")

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def find_by_token(cls, token) -> PrivateLink | None:
        """The live link a token opens (None for unknown, malformed or revoked ones)."""
        link = _find(cls, token)
        return link if link is not None and link.is_live else None

    @classmethod
    def live_for(cls, session_id: int) -> PrivateLink | None:
        return db.session.scalar(select(cls).where(cls.session_id == session_id, cls.revoked_at.is_(None))
                                 .order_by(cls.id.desc()).limit(1))
