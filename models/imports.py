"""What an import brought in: which row here each item of the source became, and what it wrote.

The fingerprint is a hash of the fields the import wrote. Importing the same file again compares
it with the row as it is now: equal means untouched here (safe to update from a newer export);
different means the consultant edited it, and the import leaves it alone.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.base import UTCDateTime, utcnow


class ImportedItem(db.Model):
    __tablename__ = "imported_items"
    __table_args__ = (UniqueConstraint("source", "kind", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The site it came from ("wordpress https://old.example"): two sites' ids never mix.
    source: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # post | page | comment | attachment
    source_id: Mapped[str] = mapped_column(String(64))
    local_id: Mapped[int | None] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    # The same of what the source said then: a newer export that says something else is an update.
    source_fingerprint: Mapped[str] = mapped_column(String(64), default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @classmethod
    def find(cls, source: str, kind: str, source_id) -> ImportedItem | None:
        return db.session.scalar(select(cls).where(cls.source == source, cls.kind == kind, cls.source_id == str(source_id)))
