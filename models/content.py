"""Public content: consultancy services, blog posts, tags and reader comments."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Table, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.archive import Archivable
from models.base import RenderedMarkdown, UTCDateTime, utcnow
from models.media import MediaFile
from models.transactions import NotAllowed


class Service(Archivable, RenderedMarkdown, db.Model):
    """One consultancy area (Public Cloud, Network…), shown at /services/<slug>."""

    __tablename__ = "services"
    noun = "service"
    markdown_columns = {"body": "body_html"}

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    headline: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    offerings: Mapped[list] = mapped_column(JSON, default=list)
    cta: Mapped[str] = mapped_column(String(20), default="contact")  # contact | training
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Shown at the top of the service page (an uploaded image: models/media.py).
    image_id: Mapped[int | None] = mapped_column(ForeignKey("media_files.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    image: Mapped[MediaFile | None] = relationship()

    @classmethod
    def ordered(cls):
        """The services the site shows (and the admin lists by default): not archived, in their order."""
        return select(cls).where(cls.live()).order_by(cls.position, cls.title)


post_tags = Table(
    "post_tags",
    db.Model.metadata,
    Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)


class Tag(db.Model):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(60))


class Post(Archivable, RenderedMarkdown, db.Model):
    """A blog article. Markdown is rendered and sanitised when saved, never per request."""

    __tablename__ = "posts"
    noun = "article"
    markdown_columns = {"body": "body_html"}

    DRAFT = "draft"
    PUBLISHED = "published"
    STATUSES = (DRAFT, PUBLISHED)
    # Not stored: a published post whose time has not come yet.
    SCHEDULED = "scheduled"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(300), default="")
    # Who wrote it, when not the consultant (an imported WordPress post keeps its author's name).
    author_name: Mapped[str] = mapped_column(String(100), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    # [{"level": 2, "id": "docker-swarm", "text": "Docker Swarm"}, …] from the rendered headings
    toc: Mapped[list] = mapped_column(JSON, default=list)
    reading_minutes: Mapped[int] = mapped_column(Integer, default=1)
    # Slugs of the training courses this article leads to (its call to action).
    course_slugs: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default=DRAFT, index=True)
    # A published post with a future published_at is scheduled: invisible until then.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Its social preview (og:image, twitter:image); images inside the body are written in its Markdown.
    image_id: Mapped[int | None] = mapped_column(ForeignKey("media_files.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    image: Mapped[MediaFile | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags, order_by=Tag.name, lazy="selectin")
    comments: Mapped[list[Comment]] = relationship(
        back_populates="post", cascade="all, delete-orphan", order_by="Comment.created_at"
    )

    def render_column(self, source: str, text: str | None) -> None:
        """The HTML, and what the article page shows beside it: the table of contents and the reading time."""
        from models.media import enrich_images
        from web.markdown import render_document

        rendered = render_document(text or "")
        rendered.html = enrich_images(rendered.html)
        self.body_html, self.toc, self.reading_minutes = rendered.html, rendered.toc, rendered.reading_minutes

    def is_visible(self, now: datetime | None = None) -> bool:
        return self.archived_at is None and self._published_by(now)

    def _published_by(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return self.status == self.PUBLISHED and self.published_at is not None and self.published_at <= now

    def is_gone(self, now: datetime | None = None) -> bool:
        """Archived after the public could read it: its address answers 410 Gone (a draft's stays a 404)."""
        return self.archived_at is not None and self._published_by(now)

    def state(self, now: datetime | None = None) -> str:
        """draft, scheduled or published: what the admin shows."""
        if self.status != self.PUBLISHED:
            return self.DRAFT
        return self.PUBLISHED if self.is_visible(now) else self.SCHEDULED

    # --- what the editor's Publish / Unpublish buttons may do ---------------------------------

    def can_publish(self, now: datetime | None = None) -> bool:
        """A draft, or a scheduled post (published at once)."""
        return not self.is_visible(now)

    def can_unpublish(self) -> bool:
        """Published or scheduled: back to draft."""
        return self.status == self.PUBLISHED

    def set_status(self, status: str, published_at: datetime | None = None, now: datetime | None = None) -> None:
        """What the editor saves: publishing with no time means now; a future time schedules the post."""
        if status not in self.STATUSES:
            raise ValueError(f"unknown post status {status!r}")
        self.status, self.published_at = status, published_at
        if status == self.PUBLISHED and published_at is None:
            self.published_at = now or utcnow()

    def publish(self, now: datetime | None = None) -> None:
        """Visible from now; a post published before (then unpublished) keeps its original date."""
        now = now or utcnow()
        if not self.can_publish(now):
            raise NotAllowed("This article is already published; nothing was changed.")
        keep = self.published_at is not None and self.published_at <= now
        self.set_status(self.PUBLISHED, self.published_at if keep else now)

    def unpublish(self) -> None:
        if not self.can_unpublish():
            raise NotAllowed("This article is already a draft; nothing was changed.")
        self.status = self.DRAFT  # the date stays, so publishing it again does not move it in the list

    @classmethod
    def visible(cls, now: datetime | None = None):
        """Published posts whose time has come, newest first."""
        now = now or utcnow()
        return (
            select(cls)
            .where(cls.status == cls.PUBLISHED, cls.published_at.is_not(None), cls.published_at <= now, cls.live())
            .order_by(cls.published_at.desc(), cls.id.desc())
        )


class Comment(Archivable, db.Model):
    """A reader's comment; shown only once the consultant approves it (and while it is not archived)."""

    __tablename__ = "comments"
    noun = "comment"

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SPAM = "spam"
    STATUSES = (PENDING, APPROVED, REJECTED, SPAM)
    # The moderation queue's actions and the state each leads to. Any decision can be changed
    # later; none leads back to pending.
    ACTIONS = {"approve": APPROVED, "reject": REJECTED, "spam": SPAM}
    TRANSITIONS = {
        PENDING: {APPROVED, REJECTED, SPAM},
        APPROVED: {REJECTED, SPAM},
        REJECTED: {APPROVED, SPAM},
        SPAM: {APPROVED, REJECTED},
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    # The comment this one answers (a threaded reply); replies outlive a deleted parent, at the top level.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="SET NULL"), index=True)
    author_name: Mapped[str] = mapped_column(String(100))
    author_email: Mapped[str] = mapped_column(String(254))  # never shown publicly
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=PENDING, index=True)
    spam_reason: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    moderated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("admin_users.id", ondelete="SET NULL"))

    post: Mapped[Post] = relationship(back_populates="comments")

    def can(self, action: str) -> bool:
        """The moderation queue offers this action on this comment."""
        return self.ACTIONS.get(action) in self.TRANSITIONS.get(self.status, ())

    def moderate(self, action: str, actor_id: int | None, *, seen_status: str | None = None) -> str:
        """Apply a moderation action; returns the previous state.

        `seen_status` is the state the moderator was looking at: if it changed since (another tab,
        another moderator), nothing happens. Raises NotAllowed for a stale or pointless action.
        """
        if action not in self.ACTIONS:
            raise ValueError(f"unknown moderation action {action!r}")
        if seen_status is not None and self.status != seen_status:
            raise NotAllowed(f"This comment was already marked {self.status} meanwhile; nothing was changed.")
        if not self.can(action):
            raise NotAllowed(f"This comment is already {self.status}; nothing was changed.")
        previous = self.status
        self.status = self.ACTIONS[action]
        self.moderated_at = utcnow()
        self.moderated_by_id = actor_id
        return previous
