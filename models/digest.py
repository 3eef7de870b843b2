"""The consultant's daily digest: one row per morning it was sent, so a second run that day sends nothing."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime, utcnow


class DigestRun(db.Model):
    __tablename__ = "digest_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The consultant's own date (SITE_TIMEZONE) the digest is for; unique, so two runs at once
    # (two cron hosts, a retry) cannot both send: the second one's insert fails and it sends nothing.
    day: Mapped[date] = mapped_column(Date, unique=True)
    # What "new since the last digest" was counted up to; the next digest starts here.
    covered_until: Mapped[datetime] = mapped_column(UTCDateTime)
    recipient: Mapped[str] = mapped_column(String(254))
    # How many of each kind the email listed, e.g. {"new_enquiries": 2, "failed_emails": 1}.
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    outbox_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    outbox_message = relationship("OutboxMessage")
