"""Blog workflows shared by the public pages, the admin post editor, `flask seed` and the CLI."""
from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import func, select

from extensions import db
from models import Course, Post, Tag, post_tags
from models.base import utcnow
from rendering import render_document

PER_PAGE = 10


def render_post(post: Post) -> Post:
    """(Re)render a post from its Markdown: body_html, toc and reading_minutes. Call it on every save.

    The caller commits. Unsafe HTML (scripts, handlers, javascript: links, iframes) is removed here.
    """
    rendered = render_document(post.body or "")
    post.body_html = rendered.html
    post.toc = rendered.toc
    post.reading_minutes = rendered.reading_minutes
    return post


@dataclass
class Page:
    items: list
    number: int
    pages: int
    total: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def parse_page(value: str | None) -> int | None:
    """The ?page= number, or None when it is not a positive integer (the route answers 404)."""
    if value is None or value == "":
        return 1
    if not value.isdigit() or len(value) > 6:
        return None
    number = int(value)
    return number if number >= 1 else None


def visible_page(number: int, *, tag: Tag | None = None, per_page: int = PER_PAGE) -> Page | None:
    """One page of visible posts (newest first), optionally of one tag; None when past the last page."""
    query = Post.visible()
    if tag is not None:
        query = query.where(Post.id.in_(select(post_tags.c.post_id).where(post_tags.c.tag_id == tag.id)))
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, math.ceil(total / per_page))
    if number > pages:
        return None
    items = db.session.scalars(query.limit(per_page).offset((number - 1) * per_page)).all()
    return Page(items=list(items), number=number, pages=pages, total=total)


def visible_post(slug: str) -> Post | None:
    """The post at /blog/<slug> if the public may see it (published and its time has come)."""
    post = db.session.scalar(select(Post).where(Post.slug == slug))
    if post is None or not post.is_visible():
        return None
    return post


def tag_with_visible_posts(slug: str) -> Tag | None:
    """A tag the public may browse: it has at least one visible post."""
    tag = db.session.scalar(select(Tag).where(Tag.slug == slug))
    if tag is None:
        return None
    visible = Post.visible().order_by(None).subquery()
    has_any = db.session.scalar(
        select(func.count()).select_from(post_tags).join(visible, visible.c.id == post_tags.c.post_id)
        .where(post_tags.c.tag_id == tag.id)
    )
    return tag if has_any else None


def courses_for(post: Post) -> list[Course]:
    """The published training courses this post's call to action leads to, in the post's order."""
    slugs = [s for s in (post.course_slugs or []) if isinstance(s, str)]
    if not slugs:
        return []
    found = {c.slug: c for c in db.session.scalars(
        select(Course).where(Course.slug.in_(slugs), Course.published.is_(True))
    )}
    return [found[s] for s in slugs if s in found]


def feed_posts(limit: int = 20) -> list[Post]:
    return list(db.session.scalars(Post.visible().limit(limit)))


def latest_update(posts: list[Post]):
    """When the feed last changed: the newest of the posts' publication and edit times."""
    stamps = [max(p.published_at, p.updated_at or p.published_at) for p in posts]
    return max(stamps) if stamps else utcnow()


def toc_tree(toc: list[dict]) -> list[dict]:
    """Nest the flat table of contents: each h2 with the h3s under it."""
    tree: list[dict] = []
    for entry in toc:
        if not isinstance(entry, dict) or not entry.get("id"):
            continue
        node = {"id": entry["id"], "text": entry.get("text", ""), "children": []}
        if entry.get("level", 2) > 2 and tree:
            tree[-1]["children"].append(node)
        else:
            tree.append(node)
    return tree
