"""Shared column types and helpers for every model."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import ClassVar

from sqlalchemy import DateTime, event, select
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


class RenderedMarkdown:
    """A model whose HTML columns are rendered from Markdown columns whenever the Markdown is set.

    `markdown_columns` maps each Markdown column to the column holding its sanitised HTML. Setting
    the Markdown (in the constructor or later) renders it at once, so every writer (admin editors,
    `flask seed`, tests) just sets the text; pages only read the stored HTML, never render per request.
    """

    markdown_columns: ClassVar[dict[str, str]] = {}

    def render_column(self, source: str, text: str | None) -> None:
        """Store the rendering of `text`, the new value of the Markdown column `source`."""
        from models.media import enrich_images
        from web.markdown import render_markdown

        setattr(self, self.markdown_columns[source], enrich_images(render_markdown(text or "")))

    def rerender(self) -> None:
        """Render every HTML column again from the stored Markdown (after the renderer itself changed)."""
        for source in self.markdown_columns:
            self.render_column(source, getattr(self, source))


def _render_when_set(target: RenderedMarkdown, value, _oldvalue, initiator):
    target.render_column(initiator.key, value)


@event.listens_for(RenderedMarkdown, "mapper_configured", propagate=True)
def _listen_to_markdown_columns(_mapper, cls) -> None:
    for source in cls.markdown_columns:
        event.listen(getattr(cls, source), "set", _render_when_set)
