"""Form stamps already used: a public form's signed stamp (web/spam.py) produces one submission, once."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, delete
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.base import UTCDateTime, utcnow


class UsedFormStamp(db.Model):
    __tablename__ = "used_form_stamps"

    # SHA-256 of the stamp: the primary key is what makes a second use fail, even from two posts at once.
    stamp_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    form_name: Mapped[str] = mapped_column(String(40))
    # What the first post answered (the page to show again), encrypted under the stamp itself.
    result: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    @classmethod
    def purge(cls, older_than: datetime) -> int:
        """Forget stamps older than any a form still accepts; the caller commits."""
        return db.session.execute(delete(cls).where(cls.created_at < older_than)).rowcount or 0
