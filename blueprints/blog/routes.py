"""Public blog pages: the list, a post, a tag, and the Atom feed."""
from __future__ import annotations

import re

from flask import Response, abort, render_template, request, url_for

from blueprints.blog import bp
from blueprints.blog import operations as ops
from blueprints.blog.forms import CommentForm
from extensions import limiter
from models import site_settings
from models.base import utcnow
from web import spam
from web.errors import render_error

COMMENT_FORM = "comment"


def _page_number() -> int:
    number = ops.parse_page(request.args.get("page"))
    if number is None:
        abort(404)
    return number


@bp.get("/blog")
def index():
    page = ops.visible_page(_page_number())
    if page is None:
        abort(404)
    return render_template("blog/index.html", page=page, tag=None)


@bp.get("/blog/tag/<tag>")
def tag(tag: str):
    item = ops.tag_with_visible_posts(tag)
    if item is None:
        abort(404)
    page = ops.visible_page(_page_number(), tag=item)
    if page is None:
        abort(404)
    return render_template("blog/index.html", page=page, tag=item)


@bp.get("/blog/<slug>")
def post(slug: str):
    item = ops.visible_post(slug)
    if item is None:
        if ops.gone_post(slug):
            return render_error(410, "This article has been withdrawn. The blog lists the others.")
        abort(404)
    form = CommentForm()
    spam.arm(form, COMMENT_FORM)
    return render_post(item, form)


@bp.post("/blog/<slug>/comments")
@limiter.limit("5/minute;50/day", methods=["POST"])
def comment(slug: str):
    item = ops.visible_post(slug)
    if item is None:
        abort(404)
    form = CommentForm()
    if not form.validate():
        return render_post(item, form), 422

    def send():
        ops.submit_comment(item, name=form.name.data, email=form.email.data, body=form.body.data,
                           spam_reason=spam.spam_reason(form, COMMENT_FORM))
        # A trapped bot gets the same answer as a person.
        return (url_for("blog.post", slug=item.slug, _anchor="comment-result"),
                "Thank you for your comment. It will appear here once it has been approved.")

    return spam.submit_once(form, COMMENT_FORM, send)  # a double click posts one comment


def render_post(item, form: CommentForm | None = None, *, preview: bool = False):
    """The article page; `preview` is the consultant's view of a post the public may not see yet (no comment form)."""
    # A draft has no publication time yet: its preview is dated now, as publishing it now would date it.
    published = item.published_at or utcnow()
    comments = ops.approved_comments(item)
    return render_template(
        "blog/post.html", post=item, courses=ops.courses_for(item), toc=ops.toc_tree(item.toc or []),
        structured_data=None if preview else _structured_data(item), comments=comments,
        threads=ops.comment_threads(comments), form=form, preview=preview, published=published,
    )


def _structured_data(post) -> dict:
    """schema.org BlogPosting for search engines (rendered with |tojson, so it is safely escaped)."""
    url = url_for("blog.post", slug=post.slug, _external=True)
    author = {"@type": "Person", "name": site_settings.current().consultant_name, "url": url_for("site.home", _external=True)}
    publisher = author
    if post.author_name and post.author_name != author["name"]:  # an imported post by someone else
        author = {"@type": "Person", "name": post.author_name}
    data = {
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": post.title,
        "description": post.summary,
        "url": url,
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "datePublished": post.published_at.isoformat(),
        "dateModified": max(post.published_at, post.updated_at or post.published_at).replace(microsecond=0).isoformat(),
        "author": author,
        "publisher": publisher,
        "keywords": [t.name for t in post.tags],
        "timeRequired": f"PT{post.reading_minutes}M",
        "inLanguage": "en",
    }
    if post.image is not None:
        data["image"] = url_for("blog.media", name=post.image.name, _external=True)
    return data


_ROOT_RELATIVE = re.compile(r'(\s(?:href|src)=")/(?!/)')


# Characters XML 1.0 forbids even as references: one in a title (a pasted control character) would
# make the whole feed unreadable to every reader, so they go from the rendered document.
XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@bp.get("/feed.xml")
def feed():
    posts = ops.feed_posts()
    root = url_for("site.home", _external=True)
    # Feed readers show entries out of context: make root-relative links and images absolute.
    contents = {p.id: _ROOT_RELATIVE.sub(lambda m: f"{m.group(1)}{root}", p.body_html or "") for p in posts}
    xml = render_template("blog/feed.xml", posts=posts, contents=contents, updated=ops.latest_update(posts),
                          feed_url=url_for("blog.feed", _external=True), blog_url=url_for("blog.index", _external=True),
                          site_root=root)
    return Response(XML_INVALID.sub("", xml), mimetype="application/atom+xml")
