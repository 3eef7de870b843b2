from __future__ import annotations

from flask import Response, abort, current_app, jsonify, render_template, send_from_directory, url_for
from sqlalchemy import select, text
from sqlalchemy.orm import joinedload

from blueprints.cases.operations import case_studies_for
from blueprints.site import bp
from extensions import db
from models import CaseStudy, Course, Post, Service, Tag, TrainingSession, post_tags
from web.errors import render_error


@bp.get("/")
def home():
    services = db.session.scalars(Service.ordered()).all()
    posts = db.session.scalars(Post.visible().limit(3)).all()
    sessions = db.session.execute(  # each session's course in the same query (no N+1)
        TrainingSession.upcoming().options(joinedload(TrainingSession.course))
        .add_columns(TrainingSession.seats_left).limit(4)
    ).all()
    return render_template("site/home.html", services=services, posts=posts, sessions=sessions)


@bp.get("/services")
def services():
    return render_template("site/services.html", services=db.session.scalars(Service.ordered()).all())


@bp.get("/services/<slug>")
def service(slug: str):
    item = db.session.scalar(select(Service).where(Service.slug == slug))
    if item is None:
        abort(404)
    if item.is_archived:
        return render_error(410, "This service is no longer offered. The services page lists what is.")
    others = db.session.scalars(Service.ordered().where(Service.id != item.id)).all()
    return render_template("site/service.html", service=item, others=others, case_studies=case_studies_for(item))


@bp.get("/privacy")
def privacy():
    return render_template("site/privacy.html")


@bp.get("/robots.txt")
def robots():
    sitemap_url = url_for("site.sitemap", _external=True)
    body = f"User-agent: *\nDisallow: /admin/\nDisallow: /bookings/\n\nSitemap: {sitemap_url}\n"
    return Response(body, mimetype="text/plain")


@bp.get("/sitemap.xml")
def sitemap():
    def url(endpoint: str, **values) -> str:
        return url_for(endpoint, _external=True, **values)

    pages = ["site.home", "site.services", "cases.index", "blog.index", "training.index", "enquiries.form", "site.privacy"]
    entries = [(url(endpoint), None) for endpoint in pages]
    services = Service.ordered().order_by(None).order_by(Service.position).subquery()
    for slug, updated in db.session.execute(select(services.c.slug, services.c.updated_at)):
        entries.append((url("site.service", slug=slug), updated))
    visible = Post.visible().subquery()
    for slug, updated in db.session.execute(select(visible.c.slug, visible.c.updated_at)):
        entries.append((url("blog.post", slug=slug), updated))
    tag_slugs = db.session.scalars(
        select(Tag.slug).join(post_tags).join(visible, visible.c.id == post_tags.c.post_id).distinct().order_by(Tag.slug)
    )
    for slug in tag_slugs:
        entries.append((url("blog.tag", tag=slug), None))
    for slug, updated in db.session.execute(select(CaseStudy.slug, CaseStudy.updated_at).where(
            CaseStudy.status == CaseStudy.PUBLISHED).order_by(CaseStudy.published_at.desc())):
        entries.append((url("cases.case_study", slug=slug), updated))
    courses = Course.public().order_by(Course.position).subquery()
    for slug, updated in db.session.execute(select(courses.c.slug, courses.c.updated_at)):
        entries.append((url("training.course", slug=slug), updated))
    xml = render_template("site/sitemap.xml", entries=entries)
    return Response(xml, mimetype="application/xml")


HEALTH_WRITE_WAIT_MS = 1000  # how long the SQLite write probe waits for the lock before calling it refused


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        if db.engine.dialect.name == "sqlite":
            sqlite_write_probe()
    except Exception:  # noqa: BLE001  (whatever the failure, the answer is "not healthy")
        current_app.logger.warning("health check: database did not answer or refused writes")
        db.session.rollback()
        return jsonify(status="unavailable", database="down"), 503
    return jsonify(status="ok")


def sqlite_write_probe() -> None:
    """Take SQLite's write lock and let it go (BEGIN IMMEDIATE, ROLLBACK): fails when SQLite refuses writes.

    A read answers while the file is read-only or another process holds the write lock for good; a page
    that books a seat would not. Nothing is written, so the database does not grow.
    """
    busy_ms = int(current_app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("connect_args", {}).get("timeout", 5) * 1000)
    with db.engine.connect() as conn:
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {HEALTH_WRITE_WAIT_MS}")  # not the pages' long wait
        conn.rollback()
        try:
            conn.execution_options(sqlite_immediate=True).exec_driver_sql("SELECT 1")  # begins IMMEDIATE
            conn.rollback()
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {busy_ms}")
            conn.rollback()


@bp.get("/favicon.ico")
def favicon():
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400)
