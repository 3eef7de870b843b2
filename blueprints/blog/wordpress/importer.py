"""A read export -> posts, drafts, comments, media and redirects, in the caller's transaction, with a report.

Nothing here commits: `flask import wordpress` commits once when all of it worked, and rolls back on a
dry run, so a dry run and a failed import leave the database as it was.
"""
from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from flask import current_app, url_for
from sqlalchemy import select
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from blueprints.blog import operations as ops
from blueprints.blog.wordpress.convert import convert, excerpt_from
from blueprints.blog.wordpress.wxr import Export, Item
from extensions import db
from models import AuditLog, Comment, ImportedItem, MediaFile, Post, Redirect, Tag, site_settings
from models.base import utcnow
from models.media import ImageRefused, reencode_image
from models.redirects import normalise, query_key

POST_STATUS = {"publish": Post.PUBLISHED, "future": Post.PUBLISHED, "draft": Post.DRAFT, "pending": Post.DRAFT,
               "private": Post.DRAFT}
COMMENT_STATUS = {"1": Comment.APPROVED, "0": Comment.PENDING, "spam": Comment.SPAM}
UNCATEGORIZED = {"uncategorized", "uncategorised", "non-classe", "allgemein", "sin-categoria"}
FEED_PATHS = ("/feed", "/feed/rss2", "/feed/rss", "/feed/atom", "/feed/rdf", "/rss", "/rss2", "/atom",
              "/comments/feed", "/wp-rss2.php", "/wp-atom.php", "/wp-rss.php")
# Size variants WordPress makes of an upload: diagram-300x200.png, diagram-scaled.png, diagram-1024x768@2x.png.
SIZE_SUFFIX = re.compile(r"-(?:\d+x\d+|scaled|rotated)(?:@2x)?(?=\.\w+$)")


@dataclass
class Report:
    source: str
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    lines: dict[str, list[str]] = field(default_factory=dict)

    def add(self, section: str, what: str, line: str | None = None) -> None:
        key = f"{section}.{what}"
        self.counts[key] = self.counts.get(key, 0) + 1
        if line:
            self.lines.setdefault(section, []).append(f"{what}: {line}")

    def count(self, section: str, what: str) -> int:
        return self.counts.get(f"{section}.{what}", 0)

    @property
    def changed(self) -> bool:
        return any(self.count(s, w) for s, w in (("posts", "created"), ("posts", "updated"), ("pages", "created"),
                                                    ("pages", "updated"), ("comments", "imported"),
                                                    ("media", "copied"), ("redirects", "created")))

    SECTIONS = (
        ("posts", "Posts", ("created", "updated", "unchanged", "kept", "renamed", "matched", "skipped")),
        ("pages", "Pages (drafts to turn into services or posts)", ("created", "updated", "unchanged", "kept", "renamed", "skipped")),
        ("comments", "Comments", ("imported", "approved", "pending", "spam", "unchanged", "dropped")),
        ("media", "Media", ("copied", "unchanged", "linked", "refused")),
        ("redirects", "Redirects", ("created", "unchanged", "conflict", "skipped")),
        ("shortcodes", "Unsupported content", ("left",)),
    )

    def text(self) -> str:
        head = f"WordPress import from {self.source}"
        out = [head + (" (dry run: nothing was written)" if self.dry_run else "")]
        for section, title, order in self.SECTIONS:
            figures = ", ".join(f"{self.count(section, w)} {w}" for w in order if self.count(section, w))
            out.append(f"{title}: {figures or 'none'}")
            out.extend(f"  {line}" for line in self.lines.get(section, []))
        if not self.dry_run and not self.changed:
            out.append("Nothing changed: everything in this export was imported before.")
        return "\n".join(out)

    def summary(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


def fingerprint(values: dict) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def post_values(post: Post) -> dict:
    """The fields an import writes, as the post has them now (compared with what the import wrote)."""
    return {"title": post.title, "slug": post.slug, "summary": post.summary, "body": post.body, "status": post.status,
            "published_at": post.published_at.replace(microsecond=0).isoformat() if post.published_at else None,
            "tags": sorted(t.name for t in post.tags), "author_name": post.author_name}


def source_print(values: dict) -> str:
    return fingerprint({k: v for k, v in values.items() if not k.startswith("_")})


MATCHED = "already here"  # the fingerprint of an article that was here before the import: never written to


class Importer:
    def __init__(self, export: Export, *, media_dir: Path | None = None, dry_run: bool = False):
        self.export, self.media_dir, self.dry_run = export, media_dir, dry_run
        base = export.base_url or export.link
        self.base = base.rstrip("/")
        self.base_path = urlsplit(base).path.rstrip("/")
        self.source = f"wordpress {self.base or export.title}"[:200]
        self.report = Report(self.base or export.title or "a WordPress export", dry_run)
        self.offset = export.site_offset()
        self.zone = ZoneInfo(site_settings.current().timezone)
        self.items = {i.id: i for i in export.items}
        self.attachments = {i.id: i for i in export.items if i.post_type == "attachment"}
        self.media_urls: dict[str, str] = {}  # an upload's path (under uploads/, without size suffix) -> /media/…
        self.posts: dict[str, Post] = {}  # WordPress id -> the post here
        self.tags_by_name: dict[str, Tag] = {}

    # --- the whole import ---------------------------------------------------------------------------

    def run(self) -> Report:
        # What earlier imports of this site brought, and the redirects there are: read once, not per item.
        self.known = {(i.kind, i.source_id): i for i in db.session.scalars(
            select(ImportedItem).where(ImportedItem.source == self.source))}
        self.existing = {r.old_path: r for r in db.session.scalars(select(Redirect))}
        for item in self.attachments.values():
            self.import_attachment(item)
        for item in self.export.items:
            if item.post_type in ("post", "page"):
                self.import_post(item)
        db.session.flush()
        for item in self.export.items:
            if item.id in self.posts:
                self.import_comments(item, self.posts[item.id])
        self.redirects()
        db.session.flush()
        if self.report.changed and not self.dry_run:
            AuditLog.record(None, "wordpress.import", None, source=self.report.source, **{
                k: v for k, v in self.report.summary().items() if k.split(".")[1] in ("created", "updated", "imported", "copied")})
        return self.report

    # --- dates ---------------------------------------------------------------------------------------

    def published_at(self, item: Item) -> datetime | None:
        """UTC: post_date_gmt, else pubDate, else the local post_date read in the export's own offset."""
        if item.date_gmt:
            return item.date_gmt
        if item.pub_date:
            return item.pub_date.astimezone(timezone.utc)
        if item.date_local:
            if self.offset is not None:
                return (item.date_local - self.offset).replace(tzinfo=timezone.utc)
            return item.date_local.replace(tzinfo=self.zone).astimezone(timezone.utc)
        return None

    def local_date(self, item: Item) -> datetime | None:
        """The wall-clock date WordPress put in the post's dated permalink."""
        if item.date_local:
            return item.date_local
        when = self.published_at(item)
        if when is None:
            return None
        return (when + self.offset).replace(tzinfo=None) if self.offset is not None else when.astimezone(self.zone)

    # --- media ---------------------------------------------------------------------------------------

    def upload_path(self, url: str) -> str | None:
        """'https://old.example/wp-content/uploads/2019/05/d-300x200.png' -> '2019/05/d.png'."""
        path = unquote(urlsplit(url).path)
        if "/wp-content/uploads/" not in path:
            return None
        return SIZE_SUFFIX.sub("", path.split("/wp-content/uploads/", 1)[1])

    def import_attachment(self, item: Item) -> None:
        relative = (item.meta.get("_wp_attached_file") or self.upload_path(item.attachment_url) or "").strip().lstrip("/")
        label = item.attachment_url or relative or f"attachment #{item.id}"
        known = self.find("attachment", item.id)
        if known is not None and (media := db.session.get(MediaFile, known.local_id)) is not None:
            self.media_urls[SIZE_SUFFIX.sub("", relative)] = url_for("blog.media", name=media.name, _external=False)
            self.report.add("media", "unchanged")
            return
        if self.media_dir is None:
            self.report.add("media", "linked", f"{label} (no --media-dir given: the body links to the old site)")
            return
        root = self.media_dir.resolve()
        file = (root / relative).resolve()
        if not relative or root not in file.parents:
            self.report.add("media", "refused", f"{label}: its path leaves the media folder")
            return
        if not file.is_file():
            self.report.add("media", "linked", f"{label}: not found in {self.media_dir}, so the body links to the old site")
            return
        try:
            encoded = reencode_image(file.read_bytes())
        except ImageRefused as error:
            self.report.add("media", "linked", f"{label}: {error}; kept as a link to the old site")
            return
        name = re.sub(r"\.\w+$", "", relative) + "." + encoded.extension
        name, n = name, 1
        base_name = name
        while db.session.scalar(select(MediaFile.id).where(MediaFile.name == name)) is not None:
            n += 1
            name = re.sub(r"(\.\w+)$", rf"-{n}\1", base_name)
        media = MediaFile(name=name[:255], source_url=item.attachment_url[:1000],
                          alt=(item.meta.get("_wp_attachment_image_alt") or item.title)[:300])
        media.store(encoded)
        db.session.add(media)
        db.session.flush()
        self._remember(known, "attachment", item.id, media.id, media.sha256)
        self.media_urls[SIZE_SUFFIX.sub("", relative)] = url_for("blog.media", name=media.name, _external=False)
        self.report.add("media", "copied", f"{label} -> /media/{media.name}" + (f" ({encoded.note})" if encoded.note else ""))

    def rewrite_url(self, url: str) -> str:
        """An upload that was copied -> its address here; another link into the old site -> the same path here (it redirects)."""
        upload = self.upload_path(url) if ("/wp-content/uploads/" in url) else None
        if upload is not None and (self.base and url.startswith((self.base, "/")) or url.startswith("/")):
            return self.media_urls.get(upload, url)
        if self.base and url.startswith(self.base + "/") and not upload:
            return url[len(self.base):] or "/"
        return url

    def gallery(self, post_id: str):
        def images(ids):
            found = [self.attachments[i] for i in ids if i in self.attachments] if ids is not None else sorted(
                (a for a in self.attachments.values() if a.parent == post_id), key=lambda a: int(a.id))
            return [(a.attachment_url, a.meta.get("_wp_attachment_image_alt") or a.title, html.unescape(a.excerpt or ""))
                    for a in found if a.attachment_url]
        return images

    # --- posts and pages ---------------------------------------------------------------------------

    def find(self, kind: str, source_id) -> ImportedItem | None:
        return self.known.get((kind, str(source_id)))

    def _remember(self, known: ImportedItem | None, kind: str, source_id: str, local_id: int, print_: str,
                  source_hash: str = "") -> None:
        known = known or self.find(kind, source_id)
        if known is None:
            known = ImportedItem(source=self.source, kind=kind, source_id=str(source_id), local_id=local_id,
                                 fingerprint=print_, source_fingerprint=source_hash)
            db.session.add(known)
            self.known[(kind, str(source_id))] = known
        else:
            known.local_id, known.fingerprint, known.source_fingerprint = local_id, print_, source_hash

    def _slug(self, item: Item) -> str:
        slug = ops.slugify(unquote(item.slug), max_length=110, fallback="") or ops.slugify(html.unescape(item.title),
                                                                                            max_length=110, fallback="")
        return slug or f"{item.post_type}-{item.id}"

    def values(self, item: Item) -> dict:
        section = "pages" if item.post_type == "page" else "posts"
        title = html.unescape(item.title).strip() or "(untitled)"
        converted = convert(item.content, gallery=self.gallery(item.id), rewrite_url=self.rewrite_url)
        for note in converted.notes:
            self.report.add("shortcodes", "left", f"“{title}”: {note}")
        from web.markdown import plain_text, render_markdown

        excerpt = " ".join(plain_text(item.excerpt).split()) if item.excerpt.strip() else ""
        summary = excerpt or excerpt_from(render_markdown(converted.body))
        if len(summary) > 300:
            summary = summary[:299].rsplit(" ", 1)[0] + "…"
        status = Post.DRAFT if section == "pages" else POST_STATUS[item.status]
        when = self.published_at(item)
        if status == Post.PUBLISHED and when is None:
            when = utcnow()
        tags = []
        if section == "posts":
            for term in item.terms:
                if term.domain in ("category", "post_tag") and term.name and term.slug.lower() not in UNCATEGORIZED \
                        and term.name.lower() not in ("uncategorized", "uncategorised") and term.name not in tags:
                    tags.append(html.unescape(term.name)[:60])
        return {"title": title[:200], "summary": summary, "body": converted.body, "status": status,
                "published_at": when.replace(microsecond=0).isoformat() if when else None, "tags": sorted(tags),
                "author_name": self.export.authors.get(item.creator, item.creator)[:100], "_when": when,
                "_modified": max(item.modified_gmt, when) if item.modified_gmt and when else item.modified_gmt,
                "_tag_order": tags}

    def _write(self, post: Post, values: dict) -> None:
        post.title, post.summary, post.body = values["title"], values["summary"], values["body"]
        post.author_name = values["author_name"]
        post.status, post.published_at = values["status"], values["_when"]
        # When it was last changed is WordPress's date, not the import's: the page would say "updated today".
        post.updated_at = values["_modified"] or values["_when"] or utcnow()
        ops.set_post_tags(post, values["_tag_order"])

    def import_post(self, item: Item) -> None:
        section = "pages" if item.post_type == "page" else "posts"
        title = html.unescape(item.title).strip() or f"#{item.id}"
        if section == "posts" and item.status not in POST_STATUS:
            self.report.add(section, "skipped", f"“{title}” ({item.status or 'no status'}: not a post WordPress shows)")
            return
        if section == "pages" and item.status in ("trash", "auto-draft", "inherit"):
            self.report.add(section, "skipped", f"“{title}” ({item.status})")
            return
        kind = item.post_type
        known = self.find(kind, item.id)
        values = self.values(item)
        if known is not None:
            post = db.session.get(Post, known.local_id) if known.local_id else None
            if post is None:
                self.report.add(section, "skipped", f"“{title}”: deleted here since it was imported, so not brought back")
                return
            self.posts[item.id] = post
            if known.fingerprint == MATCHED:
                self.report.add(section, "unchanged")
                return
            if fingerprint(post_values(post)) != known.fingerprint:
                self.report.add(section, "kept", f"“{post.title}” (/blog/{post.slug}) was edited here since it was imported: left as it is")
                return
            if source_print(values) == known.source_fingerprint:
                self.report.add(section, "unchanged")
                return
            self._write(post, values)
            db.session.flush()
            known.fingerprint, known.source_fingerprint = fingerprint(post_values(post)), source_print(values)
            self.report.add(section, "updated", f"“{post.title}” (/blog/{post.slug}): changed in the export, not edited here")
            return

        slug = self._slug(item)
        existing = db.session.scalar(select(Post).where(Post.slug == slug))
        if existing is not None and section == "posts" and existing.title.casefold() == values["title"].casefold():
            # The same article, already here (the site's first article was copied from the old blog).
            self.posts[item.id] = existing
            self._remember(None, kind, item.id, existing.id, MATCHED)
            self.report.add(section, "matched", f"“{existing.title}” is already here at /blog/{existing.slug}: "
                                                "kept as it is; its comments and old links point to it")
            return
        if existing is not None:
            taken = slug
            slug = ops.propose_slug(slug, None)
            self.report.add(section, "renamed", f"“{values['title']}”: /blog/{taken} is another post's, so this one is /blog/{slug}")
        post = Post(slug=slug)
        self._write(post, values)
        db.session.add(post)
        db.session.flush()
        self.posts[item.id] = post
        self._remember(None, kind, item.id, post.id, fingerprint(post_values(post)), source_print(values))
        state = "draft" if section == "pages" else post.state()
        self.report.add(section, "created", f"“{post.title}” -> /blog/{post.slug} ({state})")

    # --- comments ----------------------------------------------------------------------------------

    def import_comments(self, item: Item, post: Post) -> None:
        made: dict[str, Comment] = {}
        parents: list[tuple[Comment, str]] = []
        fresh: list[tuple[Comment, str]] = []
        for wp in item.comments:
            if wp.type in ("pingback", "trackback"):
                self.report.add("comments", "dropped")
                continue
            status = COMMENT_STATUS.get(wp.approved)
            if status is None:  # trash
                self.report.add("comments", "dropped")
                continue
            if wp.id in made:  # the same comment twice in a damaged export
                continue
            known = self.find("comment", wp.id[:64])
            if known is not None:
                comment = db.session.get(Comment, known.local_id) if known.local_id else None
                if comment is not None:
                    made[wp.id] = comment
                self.report.add("comments", "unchanged")
                continue
            comment = Comment(post_id=post.id, author_name=(html.unescape(wp.author) or "Anonymous")[:100],
                              author_email=wp.email[:254], body=comment_text(wp.content), status=status,
                              created_at=wp.date_gmt or self.published_at(item) or utcnow(),
                              spam_reason="marked as spam on WordPress" if status == Comment.SPAM else None,
                              # Spam is deleted 30 days after it was judged (privacy purge): counted from the
                              # import, so the consultant has those days to look at it, not none at all.
                              moderated_at=utcnow() if status == Comment.SPAM else None)
            db.session.add(comment)
            made[wp.id] = comment
            fresh.append((comment, wp.id[:64]))
            if wp.parent and wp.parent != "0":
                parents.append((comment, wp.parent))
            self.report.add("comments", "imported")
            self.report.add("comments", status)
        if fresh:
            db.session.flush()  # the ids, once for the post's comments
        for comment, source_id in fresh:
            self._remember(None, "comment", source_id, comment.id, "")
        for comment, parent in parents:  # replies may come before the comment they answer
            if parent in made:
                comment.parent_id = made[parent].id

    # --- redirects ---------------------------------------------------------------------------------

    def _own_route(self, path: str) -> bool:
        """This site already answers the path (a WordPress page /contact/ and the contact page here)."""
        adapter = current_app.url_map.bind("localhost")
        try:
            adapter.match(path, method="GET")
        except (NotFound, MethodNotAllowed):
            return False
        except RequestRedirect:
            return True
        return True

    def redirect(self, old: str, note: str, *, post: Post | None = None, tag: Tag | None = None,
                 media: str | None = None, path: str | None = None) -> None:
        key = old if old.startswith("/?") else normalise(old)
        if key == "/" or len(key) > 500:
            return
        if not key.startswith("/?") and self._own_route(key):
            if post is None or key != url_for("blog.post", slug=post.slug, _external=False):
                path, post = key, None  # /contact/ -> /contact: the page here, not the imported draft
            else:
                return
            own = True
        else:
            own = False
        if post is not None:
            wanted = Redirect(old_path=key, target_type=Redirect.POST, target_id=post.id, target_path="")
        elif tag is not None:
            wanted = Redirect(old_path=key, target_type=Redirect.TAG, target_id=tag.id, target_path="")
        elif media is not None:
            media_id = db.session.scalar(select(MediaFile.id).where(MediaFile.name == media))
            wanted = Redirect(old_path=key, target_type=Redirect.MEDIA, target_id=media_id, target_path="")
        else:
            if path == key and not own:
                return
            wanted = Redirect(old_path=key, target_type=Redirect.PATH, target_id=None, target_path=path or "/blog")
        if key in self.seen:
            return
        self.seen.add(key)
        existing = self.existing.get(key)
        if existing is not None:
            if existing.same_target(wanted):
                self.report.add("redirects", "unchanged")
            else:
                self.report.add("redirects", "conflict", f"{key} already leads elsewhere ({existing.note or existing.target_type}): kept")
            return
        wanted.note, wanted.source = note[:200], self.source
        db.session.add(wanted)
        self.existing[key] = wanted
        self.report.add("redirects", "created")

    def _old_path(self, link: str) -> str | None:
        """The path of a link into the old site, relative to where the blog lived (a blog under /blog/ too)."""
        if not link:
            return None
        parts = urlsplit(link)
        if parts.query:
            return None
        if self.base and not link.startswith(self.base):
            return None
        return parts.path

    def redirects(self) -> None:
        self.seen: set[str] = set()
        prefix = self.base_path
        for item in self.export.items:
            post = self.posts.get(item.id)
            if post is None:
                continue
            slug = unquote(item.slug).lower()
            kind = "page" if item.post_type == "page" else "post"
            note = f"WordPress {kind} #{item.id}"
            if kind == "post":
                self.redirect(query_key("p", item.id), f"{note}, plain link", post=post)
                if (day := self.local_date(item)) is not None and slug:
                    self.redirect(f"{prefix}/{day:%Y/%m/%d}/{slug}", f"{note}, dated link", post=post)
                    self.redirect(f"{prefix}/{day:%Y/%m}/{slug}", f"{note}, month link", post=post)
                    self.redirect(f"{prefix}/{day:%Y}/{slug}", f"{note}, year link", post=post)
                    self.redirect(f"{prefix}/archives/{item.id}", f"{note}, numeric link", post=post)
            else:
                self.redirect(query_key("page_id", item.id), f"{note}, plain link", post=post)
            if slug:
                self.redirect(f"{prefix}/{slug}", f"{note}, name link", post=post)
            if (path := self._old_path(item.link)) is not None:
                self.redirect(path, f"{note}, its permalink", post=post)
        archives = {self.local_date(i) for i in self.export.items if i.id in self.posts and i.post_type == "post"}
        blog = url_for("blog.index", _external=False)
        for day in sorted(d for d in archives if d is not None):
            self.redirect(f"{prefix}/{day:%Y}", "WordPress year archive", path=blog)
            self.redirect(f"{prefix}/{day:%Y/%m}", "WordPress month archive", path=blog)
            self.redirect(f"{prefix}/{day:%Y/%m/%d}", "WordPress day archive", path=blog)
            self.redirect(query_key("m", f"{day:%Y%m}"), "WordPress month archive, plain link", path=blog)
        for attachment in self.attachments.values():
            relative = SIZE_SUFFIX.sub("", (attachment.meta.get("_wp_attached_file") or self.upload_path(attachment.attachment_url) or "").lstrip("/"))
            media_url = self.media_urls.get(relative)
            media_name = unquote(media_url.split("/media/", 1)[1]) if media_url else None
            parent = self.posts.get(attachment.parent)
            target = {"media": media_name} if media_name else {"post": parent} if parent else None
            if target is None:
                continue
            note = f"WordPress attachment #{attachment.id}"
            self.redirect(query_key("attachment_id", attachment.id), f"{note}, plain link", **target)
            if (path := self._old_path(attachment.link)) is not None:
                self.redirect(path, f"{note}, attachment page", **target)
            if media_name and (path := urlsplit(attachment.attachment_url).path):
                self.redirect(path, f"{note}, the file", media=media_name)
        tags = {t.name.casefold(): t for t in db.session.scalars(select(Tag))}
        slugs = {c.slug: c for c in self.export.categories}
        for category in self.export.categories:
            chain, seen, current = [category.slug], {category.slug}, category
            while current.parent and current.parent in slugs and current.parent not in seen:
                current = slugs[current.parent]
                chain.insert(0, current.slug)
                seen.add(current.slug)
            tag = tags.get(html.unescape(category.name).casefold())
            target = {"tag": tag} if tag else {"path": url_for("blog.index", _external=False)}
            for old in {f"{prefix}/category/{'/'.join(unquote(s) for s in chain)}", f"{prefix}/category/{unquote(category.slug)}"}:
                self.redirect(old, f"WordPress category “{html.unescape(category.name)}”", **target)
            if category.term_id:
                self.redirect(query_key("cat", category.term_id), f"WordPress category “{html.unescape(category.name)}”, plain link", **target)
        for term in self.export.tags + [t for i in self.export.items for t in i.terms if t.domain == "post_tag"]:
            if not term.slug:
                continue
            tag = tags.get(html.unescape(term.name).casefold())
            target = {"tag": tag} if tag else {"path": url_for("blog.index", _external=False)}
            self.redirect(f"{prefix}/tag/{unquote(term.slug)}", f"WordPress tag “{html.unescape(term.name)}”", **target)
            self.redirect(query_key("tag", unquote(term.slug)), f"WordPress tag “{html.unescape(term.name)}”, plain link", **target)
        feed = url_for("blog.feed", _external=False)
        for old in FEED_PATHS:
            self.redirect(f"{prefix}{old}", "WordPress feed", path=feed)
        for name in ("rss2", "rss", "atom", "rdf"):
            self.redirect(query_key("feed", name), "WordPress feed, plain link", path=feed)
        for login, user_id in self.export.author_ids.items():
            nicename = ops.slugify(login, fallback="")
            if nicename:
                self.redirect(f"{prefix}/author/{nicename}", f"WordPress author {self.export.authors.get(login, login)}", path=url_for("blog.index", _external=False))
            if user_id:
                self.redirect(query_key("author", user_id), "WordPress author, plain link", path=url_for("blog.index", _external=False))
        if prefix:
            self.redirect(prefix, "where the WordPress blog lived", path=url_for("blog.index", _external=False))


def comment_text(content: str) -> str:
    """A WordPress comment (a little HTML) as the plain text comments here are."""
    text = re.sub(r"<br\s*/?>", "\n", content or "", flags=re.I)
    text = re.sub(r"</p>\s*<p[^>]*>", "\n\n", text, flags=re.I)
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").strip().splitlines())


def run_import(export: Export, *, media_dir: Path | None = None, dry_run: bool = False) -> Report:
    return Importer(export, media_dir=media_dir, dry_run=dry_run).run()
