"""The blog's admin screens: the post editor (draft, schedule, preview) and comment moderation."""
from __future__ import annotations

from datetime import UTC

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from blueprints.admin import bp
from blueprints.blog import operations as blog_ops
from blueprints.blog import operations as ops
from blueprints.blog.forms import ModerationForm, PostForm
from extensions import db
from models import AuditLog, Comment, Post, utcnow
from models.base import slug_taken

PER_PAGE = 25
STATUSES = (Comment.PENDING, Comment.APPROVED, Comment.REJECTED, Comment.SPAM)
ACTION_LABELS = {"approve": "Approve", "reject": "Reject", "spam": "Mark as spam"}


@bp.get("/comments")
def comments():
    status = request.args.get("status", Comment.PENDING)
    if status not in STATUSES:
        status = Comment.PENDING
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    results = db.paginate(blog_ops.comments_in(status), page=page, per_page=PER_PAGE, error_out=False)
    return render_template(
        "admin/comments.html", results=results, status=status, statuses=STATUSES,
        counts=blog_ops.comment_counts(), actions=ACTION_LABELS,
        targets=blog_ops.MODERATION_ACTIONS,
    )


@bp.post("/comments/<int:comment_id>/<action>")
def moderate_comment(comment_id: int, action: str):
    if action not in blog_ops.MODERATION_ACTIONS:
        abort(404)
    comment = db.session.get(Comment, comment_id)
    if comment is None:
        abort(404)
    form = ModerationForm()
    if not form.validate_on_submit():
        abort(400)
    seen = form.seen.data if form.seen.data in STATUSES else None
    result = blog_ops.moderate_comment(comment, action, current_user._get_current_object(), seen_status=seen)
    db.session.commit()
    flash(result.message, "success" if result.changed else "warning")
    return redirect(url_for("admin.comments", status=seen or comment.status), code=303)


@bp.route("/posts/new", methods=["GET", "POST"], endpoint="post_new")
@bp.route("/posts/<int:post_id>", methods=["GET", "POST"], endpoint="post_edit")
def post_edit(post_id: int | None = None):
    post = db.get_or_404(Post, post_id) if post_id is not None else None
    form = PostForm(obj=post)
    if request.method == "GET" and post is not None:
        form.tags.data = ", ".join(t.name for t in post.tags)
        form.published_at.data = post.published_at.astimezone(UTC).replace(tzinfo=None) if post.published_at else None
    preview = None
    if form.validate_on_submit():
        if slug_taken(Post, form.slug.data, post_id):
            form.slug.errors.append("Another post already uses this slug.")
        elif request.form.get("action") == "preview":
            preview = ops.render_preview(form.body.data)
        else:
            created = post is None
            if created:
                post = Post()
                db.session.add(post)
            post.title, post.slug, post.summary = form.title.data, form.slug.data, form.summary.data or ""
            post.body, post.status = form.body.data or "", form.status.data
            when = form.published_at.data
            post.published_at = when.replace(tzinfo=UTC) if when else None
            if post.status == Post.PUBLISHED and post.published_at is None:
                post.published_at = utcnow()
            ops.set_post_tags(post, form.tag_names())
            db.session.flush()
            AuditLog.record(current_user, "post.create" if created else "post.update", post, status=post.status)
            db.session.commit()
            state = "scheduled" if post.status == Post.PUBLISHED and post.published_at > utcnow() else post.status
            flash(f"Post saved ({state}).", "success")
            return redirect(url_for("admin.post_edit", post_id=post.id), code=303)
    status = 400 if request.method == "POST" and preview is None else 200
    return render_template("admin/post_form.html", form=form, post=post, preview=preview), status
