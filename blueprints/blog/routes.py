# Placeholder endpoints (blog.index, blog.post, blog.tag, blog.feed); the blog issue builds them out.
from flask import abort, render_template
from sqlalchemy import select

from blueprints.blog import bp
from extensions import db
from models import Post


@bp.get("/blog")
def index():
    posts = db.session.scalars(Post.visible()).all()
    return render_template("blog/index.html", posts=posts)


@bp.get("/blog/<slug>")
def post(slug: str):
    item = db.session.scalar(select(Post).where(Post.slug == slug))
    if item is None or not item.is_visible():
        abort(404)
    return render_template("blog/post.html", post=item)


@bp.get("/blog/tag/<tag>")
def tag(tag: str):
    abort(404)


@bp.get("/feed.xml")
def feed():
    abort(404)
