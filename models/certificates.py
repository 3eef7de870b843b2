"""Certificates of attendance: what was certified (copied at issue, so the verification page shows what the PDF says)."""
from __future__ import annotations

import re
import secrets
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime, utcnow


def new_certificate_id() -> str:
    """128 random bits, URL-safe: the verification address cannot be guessed from another one."""
    return secrets.token_urlsafe(16)


class Certificate(db.Model):
    __tablename__ = "certificates"

    ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,40}")

    # The verification id: the same for ever, also when the certificate is regenerated (a name corrected).
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_certificate_id)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    course_title: Mapped[str] = mapped_column(String(150))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    days: Mapped[int] = mapped_column(Integer)  # days attended
    minutes: Mapped[int] = mapped_column(Integer)  # teaching time attended
    consultant_name: Mapped[str] = mapped_column(String(100))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    regenerated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    booking = relationship("Booking")

    @property
    def hours_label(self) -> str:
        hours = self.minutes / 60
        text = f"{hours:.1f}".removesuffix(".0")
        return f"{text} hour{'s' if text != '1' else ''}"

    @property
    def dates_label(self) -> str:
        if self.first_day == self.last_day:
            return f"{self.first_day.day} {self.first_day:%B %Y}"
        if (self.first_day.year, self.first_day.month) == (self.last_day.year, self.last_day.month):
            return f"{self.first_day.day}–{self.last_day.day} {self.last_day:%B %Y}"
        return f"{self.first_day.day} {self.first_day:%B %Y} – {self.last_day.day} {self.last_day:%B %Y}"

    @property
    def filename(self) -> str:
        return f"certificate-{self.id}.pdf"

    @classmethod
    def find(cls, certificate_id: str) -> Certificate | None:
        if not isinstance(certificate_id, str) or not cls.ID_PATTERN.fullmatch(certificate_id):
            return None
        return db.session.get(cls, certificate_id)

    @classmethod
    def for_booking(cls, booking_id: int) -> Certificate | None:
        return db.session.scalar(select(cls).where(cls.booking_id == booking_id))
