"""The blog's admin screens: the post editor (draft, schedule, preview, publish) and comment moderation."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from blueprints.admin import bp, paginate
from blueprints.blog import operations as ops
from blueprints.blog.forms import ModerationForm, PostActionForm, PostForm
from blueprints.blog.routes import render_post
from extensions import db
from models import AuditLog, Comment, Post, site_settings, utcnow
from models.base import slug_taken
from models.transactions import NotAllowed

PER_PAGE = 25
ACTION_LABELS = {"approve": "Approve", "reject": "Reject", "spam": "Mark as spam"}


@bp.get("/comments")
def comments():
    status = request.args.get("status", Comment.PENDING)
    if status not in Comment.STATUSES:
        status = Comment.PENDING
    return render_template(
        "admin/comments.html", results=paginate(ops.comments_in(status), PER_PAGE), status=status,
        statuses=Comment.STATUSES, counts=ops.comment_counts(), actions=ACTION_LABELS,
    )


@bp.post("/comments/<int:comment_id>/<action>")
def moderate_comment(comment_id: int, action: str):
    if action not in Comment.ACTIONS:
        abort(404)
    comment = db.get_or_404(Comment, comment_id)
    form = ModerationForm()
    if not form.validate_on_submit():  # it holds only the CSRF token and the state seen: a bad token is a 400
        abort(400)
    seen = form.seen.data if form.seen.data in Comment.STATUSES else None
    try:
        ops.moderate_comment(comment, action, current_user._get_current_object(), seen_status=seen)
    except NotAllowed as error:
        flash(str(error), "warning")
    else:
        db.session.commit()
        flash(f"Comment by {comment.author_name} {comment.status}.", "success")
    return redirect(url_for("admin.comments", status=seen or comment.status), code=303)


@bp.route("/posts/new", methods=["GET", "POST"], endpoint="post_new")
@bp.route("/posts/<int:post_id>", methods=["GET", "POST"], endpoint="post_edit")
def post_edit(post_id: int | None = None):
    post = db.get_or_404(Post, post_id) if post_id is not None else None
    form = PostForm(post=post, zone=site_settings.current().timezone)
    preview = None
    if form.is_submitted() and not form.slug.data and form.title.data:
        form.slug.data = ops.propose_slug(form.title.data, post_id)  # shown in the field, so the consultant sees it
    if form.validate_on_submit():
        if not form.slug.data:
            form.slug.errors.append("Enter a slug: none could be made from the title (letters a–z, digits, hyphens).")
        elif slug_taken(Post, form.slug.data, post_id):
            form.slug.errors.append("Another post already uses this slug.")
        elif request.form.get("action") == "preview":
            preview = ops.render_preview(form.body.data)
        else:
            created = post is None
            if created:
                post = Post()
                db.session.add(post)
            post.title, post.slug, post.summary = form.title.data, form.slug.data, form.summary.data or ""
            post.body = form.body.data or ""
            post.set_status(form.status.data, form.publish_time())
            ops.set_post_tags(post, form.tag_names())
            db.session.flush()
            AuditLog.record(current_user, "post.create" if created else "post.update", post, status=post.status)
            db.session.commit()
            flash(f"Post saved ({post.state()}) at /blog/{post.slug}.", "success")
            return redirect(url_for("admin.post_edit", post_id=post.id), code=303)
    status = 422 if request.method == "POST" and preview is None else 200
    return render_template("admin/post_form.html", form=form, post=post, preview=preview,
                           now=utcnow(), zone=form.zone), status


@bp.get("/posts/<int:post_id>/preview")
def post_preview(post_id: int):
    """The article as its page will show it, for the consultant only: a draft or a scheduled post too."""
    post = db.get_or_404(Post, post_id)
    return render_post(post, preview=True)


@bp.post("/posts/<int:post_id>/<action>")
def post_action(post_id: int, action: str):
    """The Publish / Unpublish buttons of the editor and the content list."""
    if action not in ops.POST_ACTIONS:
        abort(404)
    post = db.get_or_404(Post, post_id)
    form = PostActionForm()
    if not form.validate_on_submit():  # only the CSRF token and where to go back to: a bad token is a 400
        abort(400)
    try:
        ops.POST_ACTIONS[action](post, current_user._get_current_object())
    except NotAllowed as error:
        flash(str(error), "warning")
    else:
        db.session.commit()
        flash(f"“{post.title}” is now {post.state()}.", "success")
    if form.back.data == "content":
        return redirect(url_for("admin.content", _anchor="posts"), code=303)
    return redirect(url_for("admin.post_edit", post_id=post.id), code=303)
