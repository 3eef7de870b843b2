"""Blog workflows shared by the public pages, the admin post editor, `flask seed` and the CLI."""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select

from extensions import db
from models import AuditLog, Comment, Course, Post, Tag, post_tags, site_settings
from models.base import slug_taken, utcnow

PER_PAGE = 10


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
    """The post at /blog/<slug> if the public may see it (published, its time has come, not archived)."""
    post = db.session.scalar(select(Post).where(Post.slug == slug))
    if post is None or not post.is_visible():
        return None
    return post


def gone_post(slug: str) -> bool:
    """/blog/<slug> was an article the public could read, archived since (410 Gone rather than 404)."""
    post = db.session.scalar(select(Post).where(Post.slug == slug))
    return post is not None and post.is_gone()


def tag_with_visible_posts(slug: str) -> Tag | None:
    """A tag the public may browse: it has at least one visible post (one query)."""
    visible = Post.visible().order_by(None).subquery()
    has_visible_post = (
        select(post_tags.c.post_id).join(visible, visible.c.id == post_tags.c.post_id)
        .where(post_tags.c.tag_id == Tag.id).exists()
    )
    return db.session.scalar(select(Tag).where(Tag.slug == slug, has_visible_post))


def courses_for(post: Post) -> list[Course]:
    """The published training courses this post's call to action leads to, in the post's order."""
    slugs = [s for s in (post.course_slugs or []) if isinstance(s, str)]
    if not slugs:
        return []
    found = {c.slug: c for c in db.session.scalars(
        Course.public().where(Course.slug.in_(slugs))
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


# --- comments -------------------------------------------------------------------------------

COMMENT_MIN_CHARS = 2
COMMENT_MAX_CHARS = 3000


def approved_comments(post: Post) -> list[Comment]:
    return list(db.session.scalars(
        select(Comment).where(Comment.post_id == post.id, Comment.status == Comment.APPROVED, Comment.live())
        .order_by(Comment.created_at, Comment.id)
    ))


def comment_threads(comments: list[Comment]) -> list[dict]:
    """Comments as threads, oldest first: each with the replies under it (a reply whose parent is not shown stands alone)."""
    nodes = {c.id: {"comment": c, "replies": []} for c in comments}
    threads = []
    for comment in comments:
        parent = nodes.get(comment.parent_id) if comment.parent_id else None
        (parent["replies"] if parent is not None and parent is not nodes[comment.id] else threads).append(nodes[comment.id])
    return threads


def submit_comment(post: Post, *, name: str, email: str, body: str, spam_reason: str | None = None) -> Comment:
    """Store a reader's comment as pending (or as spam when a trap caught it) and, if real, tell the consultant.

    Never shown until approved. The caller commits: the comment and its email are stored together.
    """
    from mail.compose import queue_email

    name, email, body = name.strip(), email.strip(), body.strip().replace("\r\n", "\n")
    if not post.is_visible():
        raise ValueError("comments are only taken on published posts")
    if not (COMMENT_MIN_CHARS <= len(body) <= COMMENT_MAX_CHARS) or not name or len(name) > 100 or len(email) > 254:
        raise ValueError("comment out of bounds")
    comment = Comment(post=post, author_name=name, author_email=email, body=body,
                      status=Comment.SPAM if spam_reason else Comment.PENDING, spam_reason=spam_reason)
    db.session.add(comment)
    if spam_reason is None:
        db.session.flush()  # the id, for the message's `related`
        queue_email(
            "comment_notification", to=site_settings.current().consultant_email,
            to_name=site_settings.current().consultant_name, reply_to=email, reply_to_name=name,
            related=f"comment:{comment.id}", comment=comment, post=post,
        )
    return comment


def moderate_comment(comment: Comment, action: str, actor, *, seen_status: str | None = None) -> None:
    """Approve, reject or mark a comment as spam, with an audit entry. The caller commits.

    `seen_status` is the state the moderator was looking at; NotAllowed when it changed since
    (a stale action) or the comment is already in the state the action leads to.
    """
    previous = comment.moderate(action, getattr(actor, "id", None), seen_status=seen_status)
    AuditLog.record(actor, f"comment.{action}", comment, previous=previous, post=comment.post.slug)


def comments_in(status: str):
    """The moderation queue for one state: oldest pending first; other states newest first."""
    order = (Comment.created_at, Comment.id) if status == Comment.PENDING else (Comment.created_at.desc(), Comment.id.desc())
    return select(Comment).where(Comment.status == status, Comment.live()).order_by(*order)


def comment_counts() -> dict[str, int]:
    rows = db.session.execute(select(Comment.status, func.count()).where(Comment.live()).group_by(Comment.status))
    counts = dict.fromkeys(Comment.STATUSES, 0)
    counts.update({status: n for status, n in rows})
    return counts


# --- the editor (admin) ---------------------------------------------------------------------

# Letters Unicode does not decompose into a base letter and an accent.
_LETTERS = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "ł": "l", "þ": "th", "ı": "i"})


def slugify(text: str, max_length: int = 60, fallback: str = "tag") -> str:
    """'Virtualisierung für Einsteiger' -> 'virtualisierung-fur-einsteiger': accents dropped, not the letters."""
    plain = unicodedata.normalize("NFKD", text.lower().translate(_LETTERS)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:max_length].strip("-") or fallback


def propose_slug(title: str, post_id: int | None) -> str:
    """A free slug made from the title ('' when the title has no Latin letters or digits to make one from)."""
    base = slugify(title or "", max_length=110, fallback="")
    slug, n = base, 1
    while slug and slug_taken(Post, slug, post_id):
        n += 1
        slug = f"{base}-{n}"
    return slug


def set_post_tags(post: Post, names: list[str]) -> None:
    tags = []
    for name in names:
        slug = slugify(name)
        # By name too: a tag made before accents were transliterated keeps its old slug ("Ärger" -> "rger").
        tag = db.session.scalar(select(Tag).where(Tag.slug == slug)) or db.session.scalar(
            select(Tag).where(Tag.name == name).order_by(Tag.id).limit(1))
        if tag is None:
            tag = Tag(slug=slug, name=name)
            db.session.add(tag)
        if tag not in tags:
            tags.append(tag)
    post.tags = tags


def render_preview(body: str) -> str:
    """The post body as it would be published, without saving anything."""
    return Post(body=body or "").body_html


def publish_post(post: Post, actor) -> None:
    """Publish now (a draft, or a scheduled post); NotAllowed if it is already live. The caller commits."""
    post.publish()
    AuditLog.record(actor, "post.publish", post, published_at=post.published_at.isoformat())


def unpublish_post(post: Post, actor) -> None:
    """Back to draft; NotAllowed if it is one already. The caller commits."""
    post.unpublish()
    AuditLog.record(actor, "post.unpublish", post)


# The editor's buttons: /admin/posts/<id>/<action>.
POST_ACTIONS = {"publish": publish_post, "unpublish": unpublish_post}
