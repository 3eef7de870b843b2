"""Comment moderation: the queue of reader comments, approve / reject / mark as spam."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField

from blueprints.admin import bp
from blueprints.blog import operations as blog_ops
from extensions import db
from models import Comment

PER_PAGE = 25
STATUSES = (Comment.PENDING, Comment.APPROVED, Comment.REJECTED, Comment.SPAM)
ACTION_LABELS = {"approve": "Approve", "reject": "Reject", "spam": "Mark as spam"}


class ModerationForm(FlaskForm):
    """One moderation button; `seen` is the state the moderator saw, so a stale click changes nothing."""

    seen = HiddenField()


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
