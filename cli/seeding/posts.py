from __future__ import annotations

import tomllib
from datetime import UTC

from sqlalchemy import select

from cli.seeding import CONTENT_DIR
from extensions import db
from models import Post, Tag


def read_post_file(path) -> tuple[dict, str]:
    """Split TOML front matter (between +++ lines) from the Markdown body."""
    text = path.read_text(encoding="utf-8")
    _, front, body = text.split("+++\n", 2)
    return tomllib.loads(front), body.lstrip("\n")


def get_or_create_tags(names: list[str]) -> list[Tag]:
    tags = []
    for name in names:
        slug = name.strip().lower().replace(" ", "-")
        tag = db.session.scalar(select(Tag).where(Tag.slug == slug))
        if tag is None:
            tag = Tag(slug=slug, name=name.strip())
            db.session.add(tag)
        tags.append(tag)
    return tags


def seed_posts() -> int:
    existing = set(db.session.scalars(select(Post.slug)))
    added = 0
    for path in sorted((CONTENT_DIR / "posts").glob("*.md")):
        meta, body = read_post_file(path)
        if meta["slug"] in existing:
            continue
        published_at = meta.get("published_at")
        if published_at is not None and published_at.tzinfo is None:
            published_at = published_at.replace(tzinfo=UTC)
        post = Post(
            slug=meta["slug"], title=meta["title"], summary=meta.get("summary", ""), body=body,
            course_slugs=meta.get("courses", []),
            status=Post.PUBLISHED if published_at else Post.DRAFT, published_at=published_at,
            tags=get_or_create_tags(meta.get("tags", [])),
        )
        if published_at is not None:  # the article was written then, not when this site was set up
            post.created_at = post.updated_at = published_at
        db.session.add(post)
        added += 1
    return added
