"""Shared column types and helpers for every model."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, select
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database.

    SQLite has no time zones, so values are stored as naive UTC and come back
    aware; PostgreSQL stores timestamptz. Naive input is refused: it is a bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def slug_taken(model, slug: str, current_id: int | None) -> bool:
    """Another row of `model` already uses `slug` (slugs are unique per table)."""
    from extensions import db

    existing = db.session.scalar(select(model).where(model.slug == slug))
    return existing is not None and existing.id != current_id
