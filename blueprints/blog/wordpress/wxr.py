"""Reading a WordPress export (WXR 1.0–1.2) safely into plain records.

defusedxml refuses a DOCTYPE (so no entity expansion, no external entities, no "billion laughs"),
and the file is refused before parsing when larger than MAX_BYTES. Everything WordPress writes as
text (CDATA or not) comes out as str; missing elements come out empty, never as None.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

MAX_BYTES = 200 * 1024 * 1024  # a large blog's export with every comment is tens of MB
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
EXCERPT_PREFIX = "http://wordpress.org/export/"  # excerpt: is {…/export/1.2/excerpt/}, wp: is {…/export/1.2/}
DC_NS = "http://purl.org/dc/elements/1.1/"
NO_DATE = "0000-00-00 00:00:00"


class ExportError(ValueError):
    """The file cannot be imported; the message says why, for the person running the command."""


@dataclass
class Term:
    domain: str  # category | post_tag
    slug: str
    name: str


@dataclass
class WPComment:
    id: str
    author: str
    email: str
    url: str
    date_gmt: datetime | None
    content: str
    approved: str  # "1", "0", "spam", "trash"
    type: str  # "", "comment", "pingback", "trackback"
    parent: str


@dataclass
class Item:
    id: str
    post_type: str  # post | page | attachment | nav_menu_item | …
    title: str
    slug: str
    link: str
    status: str
    creator: str
    content: str
    excerpt: str
    date_local: datetime | None  # the blog's wall-clock time (naive): what WordPress puts in its dated URLs
    date_gmt: datetime | None  # aware UTC, when WordPress gave it
    pub_date: datetime | None  # aware, from <pubDate>
    modified_gmt: datetime | None
    parent: str
    attachment_url: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    terms: list[Term] = field(default_factory=list)
    comments: list[WPComment] = field(default_factory=list)


@dataclass
class Category:
    slug: str
    name: str
    parent: str  # the parent's slug
    term_id: str = ""


@dataclass
class Export:
    title: str
    link: str
    base_url: str  # wp:base_blog_url, where the old site lived
    authors: dict[str, str]  # login -> display name
    author_ids: dict[str, str]  # login -> WordPress user id
    categories: list[Category]
    tags: list[Term]
    items: list[Item]

    def site_offset(self) -> timedelta | None:
        """The blog's UTC offset, read from the posts that carry both dates (the most common one; the export has no zone name)."""
        counts: dict[timedelta, int] = {}
        for item in self.items:
            if item.date_local and item.date_gmt:
                offset = item.date_local - item.date_gmt.replace(tzinfo=None)
                offset = timedelta(minutes=round(offset.total_seconds() / 900) * 15)
                counts[offset] = counts.get(offset, 0) + 1
        return max(counts, key=counts.get) if counts else None


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def _text(element: Element | None) -> str:
    return (element.text or "") if element is not None else ""


class _Reader:
    def __init__(self, wp_ns: str):
        self.wp = wp_ns

    def child(self, parent: Element, name: str, ns: str | None = None) -> str:
        return _text(parent.find(f"{{{ns or self.wp}}}{name}"))


def _naive(value: str) -> datetime | None:
    value = (value or "").strip()
    if not value or value == NO_DATE:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def _rfc822(value: str) -> datetime | None:
    value = (value or "").strip()
    if not value or "-0001" in value:  # WordPress's "no date": Mon, 30 Nov -0001 00:00:00 +0000
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def read(path: Path, *, max_bytes: int | None = None) -> Export:
    """Parse the file; ExportError (with the line and column when the XML itself is broken) for anything unusable."""
    max_bytes = max_bytes or MAX_BYTES
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ExportError(f"cannot read {path}: {error.strerror or error}") from None
    if size > max_bytes:
        raise ExportError(f"{path} is {size:,} bytes; the import reads files up to {max_bytes:,} bytes")
    if size == 0:
        raise ExportError(f"{path} is empty")
    try:
        root = SafeET.parse(str(path), forbid_dtd=True).getroot()
    except ParseError as error:
        line, column = error.position
        raise ExportError(f"{path} is not well-formed XML (line {line}, column {column + 1}): "
                          f"{re.sub(r': line .*$', '', str(error))}") from None
    except DefusedXmlException as error:
        raise ExportError(f"{path} declares a DOCTYPE or entities, which a WordPress export never does; "
                          f"refused for safety ({type(error).__name__})") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ExportError(f"cannot read {path}: {error}") from None
    return parse_root(root, str(path))


def parse_root(root: Element, name: str = "the file") -> Export:
    if _local(root.tag)[1] != "rss" or (channel := root.find("channel")) is None:
        raise ExportError(f"{name} is XML but not a WordPress export (no <rss><channel>): export it again from Tools → Export")
    wp_ns = next((ns for ns, _ in (_local(e.tag) for e in channel.iter())
                  if ns.startswith(EXCERPT_PREFIX) and not ns.endswith("/excerpt/")), None)
    if wp_ns is None:
        raise ExportError(f"{name} is an RSS feed, not a WordPress export (no wp: elements): export it from Tools → Export")
    r = _Reader(wp_ns)
    excerpt_ns = wp_ns.rstrip("/") + "/excerpt/"

    authors, author_ids = {}, {}
    for author in channel.findall(f"{{{wp_ns}}}author"):
        login = r.child(author, "author_login").strip()
        if login:
            authors[login] = r.child(author, "author_display_name").strip() or login
            author_ids[login] = r.child(author, "author_id").strip()
    categories = [Category(r.child(c, "category_nicename").strip(), r.child(c, "cat_name").strip(),
                           r.child(c, "category_parent").strip(), r.child(c, "term_id").strip())
                  for c in channel.findall(f"{{{wp_ns}}}category")]
    tags = [Term("post_tag", r.child(t, "tag_slug").strip(), r.child(t, "tag_name").strip())
            for t in channel.findall(f"{{{wp_ns}}}tag")]

    items = []
    for element in channel.findall("item"):
        date_gmt = _naive(r.child(element, "post_date_gmt"))
        modified = _naive(r.child(element, "post_modified_gmt"))
        item = Item(
            id=r.child(element, "post_id").strip(),
            post_type=r.child(element, "post_type").strip() or "post",
            title=_text(element.find("title")).strip(),
            slug=r.child(element, "post_name").strip(),
            link=_text(element.find("link")).strip(),
            status=r.child(element, "status").strip(),
            creator=_text(element.find(f"{{{DC_NS}}}creator")).strip(),
            content=_text(element.find(f"{{{CONTENT_NS}}}encoded")),
            excerpt=_text(element.find(f"{{{excerpt_ns}}}encoded")),
            date_local=_naive(r.child(element, "post_date")),
            date_gmt=date_gmt.replace(tzinfo=timezone.utc) if date_gmt else None,
            pub_date=_rfc822(_text(element.find("pubDate"))),
            modified_gmt=modified.replace(tzinfo=timezone.utc) if modified else None,
            parent=r.child(element, "post_parent").strip(),
            attachment_url=r.child(element, "attachment_url").strip(),
        )
        for meta in element.findall(f"{{{wp_ns}}}postmeta"):
            item.meta[r.child(meta, "meta_key")] = r.child(meta, "meta_value")
        for term in element.findall("category"):
            item.terms.append(Term(term.get("domain", "category"), (term.get("nicename") or "").strip(), (term.text or "").strip()))
        for comment in element.findall(f"{{{wp_ns}}}comment"):
            gmt = _naive(r.child(comment, "comment_date_gmt")) or _naive(r.child(comment, "comment_date"))
            item.comments.append(WPComment(
                id=r.child(comment, "comment_id").strip(),
                author=r.child(comment, "comment_author").strip(),
                email=r.child(comment, "comment_author_email").strip(),
                url=r.child(comment, "comment_author_url").strip(),
                date_gmt=gmt.replace(tzinfo=timezone.utc) if gmt else None,
                content=r.child(comment, "comment_content"),
                approved=r.child(comment, "comment_approved").strip(),
                type=r.child(comment, "comment_type").strip(),
                parent=r.child(comment, "comment_parent").strip(),
            ))
        if not item.id.isdigit() or len(item.id) > 20:
            raise ExportError(f"{name}: an <item> ({item.title or 'untitled'!r}) has no numeric wp:post_id; the file is damaged")
        items.append(item)

    return Export(
        title=_text(channel.find("title")).strip(), link=_text(channel.find("link")).strip(),
        base_url=(r.child(channel, "base_blog_url") or r.child(channel, "base_site_url") or _text(channel.find("link"))).strip(),
        authors=authors, author_ids=author_ids, categories=categories, tags=tags, items=items,
    )
