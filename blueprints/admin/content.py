"""Content: posts, services and courses (Markdown rendered once, when saved)."""
from __future__ import annotations

from datetime import UTC

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from blueprints.admin import bp
from blueprints.admin import operations as ops
from blueprints.admin.forms import CourseForm, PostForm, ServiceForm
from extensions import db
from models import AuditLog, Course, Post, Service, TrainingSession, utcnow
from rendering import render_markdown


def get_or_404(model, object_id: int):
    obj = db.session.get(model, object_id)
    if obj is None:
        abort(404)
    return obj


def slug_taken(model, slug: str, current_id: int | None) -> bool:
    existing = db.session.scalar(select(model).where(model.slug == slug))
    return existing is not None and existing.id != current_id


@bp.get("/content")
def content():
    posts = db.session.scalars(select(Post).order_by(Post.published_at.desc().nulls_first(), Post.id.desc())).all()
    services = db.session.scalars(Service.ordered()).all()
    courses = db.session.scalars(select(Course).order_by(Course.position, Course.title)).all()
    return render_template("admin/content.html", posts=posts, services=services, courses=courses, now=utcnow())


# --- posts ---------------------------------------------------------------------------------

@bp.route("/posts/new", methods=["GET", "POST"], endpoint="post_new")
@bp.route("/posts/<int:post_id>", methods=["GET", "POST"], endpoint="post_edit")
def post_edit(post_id: int | None = None):
    post = get_or_404(Post, post_id) if post_id is not None else None
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
            ops.render_post_body(post)
            db.session.flush()
            AuditLog.record(current_user, "post.create" if created else "post.update", post, status=post.status)
            db.session.commit()
            state = "scheduled" if post.status == Post.PUBLISHED and post.published_at > utcnow() else post.status
            flash(f"Post saved ({state}).", "success")
            return redirect(url_for("admin.post_edit", post_id=post.id), code=303)
    status = 400 if request.method == "POST" and preview is None else 200
    return render_template("admin/post_form.html", form=form, post=post, preview=preview), status


# --- services ------------------------------------------------------------------------------

@bp.route("/services/new", methods=["GET", "POST"], endpoint="service_new")
@bp.route("/services/<int:service_id>", methods=["GET", "POST"], endpoint="service_edit")
def service_edit(service_id: int | None = None):
    service = get_or_404(Service, service_id) if service_id is not None else None
    form = ServiceForm(obj=service)
    if request.method == "GET" and service is not None:
        form.offerings.data = "\n".join(service.offerings or [])
    if form.validate_on_submit():
        if slug_taken(Service, form.slug.data, service_id):
            form.slug.errors.append("Another service already uses this slug.")
        else:
            created = service is None
            if created:
                service = Service()
                db.session.add(service)
            service.title, service.slug = form.title.data, form.slug.data
            service.headline, service.summary = form.headline.data or "", form.summary.data or ""
            service.body = form.body.data or ""
            service.body_html = render_markdown(service.body)
            offerings = form.offerings.data or ""
            if not isinstance(offerings, str):  # field left out of the POST: WTForms kept the stored list
                offerings = "\n".join(offerings)
            service.offerings = [line.strip() for line in offerings.splitlines() if line.strip()]
            service.cta, service.position = form.cta.data, form.position.data or 0
            db.session.flush()
            AuditLog.record(current_user, "service.create" if created else "service.update", service)
            db.session.commit()
            flash("Service saved.", "success")
            return redirect(url_for("admin.service_edit", service_id=service.id), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template("admin/service_form.html", form=form, service=service), status


# --- courses -------------------------------------------------------------------------------

@bp.route("/courses/new", methods=["GET", "POST"], endpoint="course_new")
@bp.route("/courses/<int:course_id>", methods=["GET", "POST"], endpoint="course_edit")
def course_edit(course_id: int | None = None):
    course = get_or_404(Course, course_id) if course_id is not None else None
    form = CourseForm(obj=course)
    if form.validate_on_submit():
        if slug_taken(Course, form.slug.data, course_id):
            form.slug.errors.append("Another course already uses this slug.")
        else:
            created = course is None
            if created:
                course = Course(formats=["online", "on-site", "private"], outline=[], tags=[])
                db.session.add(course)
            form.populate_obj(course)
            course.summary = course.summary or ""
            course.description = course.description or ""
            course.prerequisites = course.prerequisites or ""
            course.currency = (course.currency or "").upper() or None
            course.position = course.position or 0
            course.description_html = render_markdown(course.description)
            db.session.flush()
            AuditLog.record(current_user, "course.create" if created else "course.update", course)
            db.session.commit()
            flash("Course saved.", "success")
            return redirect(url_for("admin.course_edit", course_id=course.id), code=303)
    status = 400 if request.method == "POST" else 200
    sessions = []
    if course is not None:
        sessions = db.session.scalars(select(TrainingSession).where(TrainingSession.course_id == course.id)
                                      .order_by(TrainingSession.starts_at.desc())).all()
    return render_template("admin/course_form.html", form=form, course=course, sessions=sessions), status
