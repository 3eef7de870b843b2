"""Old addresses that answer 301 with where their content lives now (an imported WordPress site's permalinks)."""
from __future__ import annotations

from datetime import datetime
from urllib.parse import unquote

from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.base import UTCDateTime, utcnow

# WordPress's "plain" permalinks: /?p=12, /?page_id=3, /?cat=4 … (also on /index.php).
QUERY_ARGS = ("p", "page_id", "attachment_id", "cat", "tag", "author", "feed", "m")


def normalise(path: str) -> str:
    """The form an old path is stored and looked up in: decoded, lower case, no trailing slash.

    WordPress slugs are lower case and percent-encode non-ASCII letters; links to them come both ways,
    with and without the trailing slash.
    """
    path = unquote(path or "/").strip().lower()
    return "/" + path.strip("/")


def query_key(name: str, value: str) -> str:
    return f"/?{name}={value.strip().lower()}"


class Redirect(db.Model):
    """old_path -> a post, a tag, a media file or a fixed path of this site; resolved when asked, so a renamed post still works."""

    __tablename__ = "redirects"

    POST, TAG, MEDIA, PATH = "post", "tag", "media", "path"

    id: Mapped[int] = mapped_column(primary_key=True)
    old_path: Mapped[str] = mapped_column(String(500), unique=True)
    target_type: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int | None] = mapped_column(Integer)
    target_path: Mapped[str] = mapped_column(String(500), default="")
    # What the old address was, in words ("WordPress post #12, dated permalink").
    note: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def same_target(self, other: Redirect) -> bool:
        return (self.target_type, self.target_id, self.target_path) == (other.target_type, other.target_id, other.target_path)

    def destination(self) -> str | None:
        """The path it answers 301 to now, or None when its target is not public (an unpublished post): then 404."""
        from flask import url_for

        from blueprints.blog import operations as blog_ops
        from models.content import Post, Tag
        from models.media import MediaFile

        if self.target_type == self.PATH:
            return self.target_path or None
        if self.target_type == self.POST:
            post = db.session.get(Post, self.target_id)
            return url_for("blog.post", slug=post.slug, _external=False) if post is not None and post.is_visible() else None
        if self.target_type == self.TAG:
            tag = db.session.get(Tag, self.target_id)
            if tag is None:
                return None
            # A tag none of whose posts is public yet: the blog, rather than a 404.
            visible = blog_ops.tag_with_visible_posts(tag.slug)
            return url_for("blog.tag", tag=tag.slug, _external=False) if visible is not None else url_for("blog.index", _external=False)
        if self.target_type == self.MEDIA:
            name = db.session.scalar(select(MediaFile.name).where(MediaFile.id == self.target_id))
            return url_for("blog.media", name=name, _external=False) if name else None
        return None

    @classmethod
    def lookup(cls, path: str, args) -> Redirect | None:
        """The redirect for a request's path and query (a plain permalink /?p=12 is a query on the home page)."""
        keys = []
        if normalise(path) in ("/", "/index.php"):
            keys = [query_key(name, args[name]) for name in QUERY_ARGS if args.get(name)]
        else:
            keys = [normalise(path)]
        if not keys:
            return None
        found = {r.old_path: r for r in db.session.scalars(select(cls).where(cls.old_path.in_(keys)))}
        return next((found[k] for k in keys if k in found), None)
