"""Content editing: posts (preview, draft, publish, schedule, tags), services and courses."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from models import AuditLog, Course, Post, Service, Tag
from tests.factories import make_course, make_post, make_service


def audit_actions(db_session):
    return [e.action for e in db_session.scalars(select(AuditLog).order_by(AuditLog.id))]


POST = {"title": "Zero-downtime upgrades", "slug": "zero-downtime-upgrades", "summary": "How we do it.",
        "body": "## Plan\n\nDrain *first*.\n\n<script>alert(1)</script>", "tags": "Kubernetes, ops , kubernetes",
        "status": "draft", "published_at": ""}


def test_preview_renders_without_saving(admin_client, db_session):
    response = admin_client.post("/admin/posts/new", data={**POST, "action": "preview"})
    assert response.status_code == 200
    assert "Preview (not saved)" in response.text and "<em>first</em>" in response.text
    assert "<script>alert(1)</script>" not in response.text
    assert db_session.scalar(select(func.count()).select_from(Post)) == 0


def test_draft_is_saved_rendered_and_hidden(admin_client, client, db_session):
    response = admin_client.post("/admin/posts/new", data={**POST, "action": "save"})
    assert response.status_code == 303
    post = db_session.scalar(select(Post))
    assert post.status == Post.DRAFT and post.published_at is None
    assert "<em>first</em>" in post.body_html and "<script>" not in post.body_html
    assert sorted(t.name for t in post.tags) == ["Kubernetes", "ops"]
    assert audit_actions(db_session)[-1] == "post.create"
    assert client.get("/blog/zero-downtime-upgrades").status_code == 404


def test_publish_now_and_schedule(admin_client, client, db_session):
    admin_client.post("/admin/posts/new", data={**POST, "status": "published", "action": "save"})
    post = db_session.scalar(select(Post))
    assert post.is_visible()
    assert client.get("/blog/zero-downtime-upgrades").status_code == 200

    later = (datetime.now(UTC) + timedelta(days=3)).replace(second=0, microsecond=0)
    response = admin_client.post(f"/admin/posts/{post.id}", data={
        **POST, "status": "published", "published_at": later.strftime("%Y-%m-%dT%H:%M"), "action": "save"},
        follow_redirects=True)
    assert "scheduled" in response.text
    db_session.expire_all()
    assert post.published_at == later and not post.is_visible()
    assert post.is_visible(now=later + timedelta(minutes=1))
    assert audit_actions(db_session)[-1] == "post.update"


def test_post_edit_form_is_prefilled_and_validates(admin_client, db_session):
    other = make_post(slug="taken")
    post = make_post(title="Existing")
    page = admin_client.get(f"/admin/posts/{post.id}").text
    assert 'value="Existing"' in page
    response = admin_client.post(f"/admin/posts/{post.id}", data={**POST, "slug": "taken", "action": "save"})
    assert response.status_code == 400 and 'id="slug-error"' in response.text
    response = admin_client.post(f"/admin/posts/{post.id}", data={**POST, "slug": "Not A Slug", "title": ""})
    assert response.status_code == 400 and 'id="title-error"' in response.text
    db_session.expire_all()
    assert post.title == "Existing" and other.slug == "taken"
    assert admin_client.get("/admin/posts/9999").status_code == 404


def test_tags_are_reused_not_duplicated(admin_client, db_session):
    admin_client.post("/admin/posts/new", data={**POST, "action": "save"})
    admin_client.post("/admin/posts/new", data={**POST, "slug": "second", "tags": "KUBERNETES", "action": "save"})
    assert db_session.scalar(select(func.count()).select_from(Tag)) == 2


def test_service_create_and_edit_render_markdown(admin_client, client, db_session):
    data = {"title": "Network", "slug": "network", "headline": "SDN and more", "summary": "Fast networks.",
            "body": "We **design** networks.", "offerings": "Design\n\nAudits\n", "cta": "contact", "position": "3"}
    assert admin_client.post("/admin/services/new", data=data).status_code == 303
    service = db_session.scalar(select(Service))
    assert service.body_html == "<p>We <strong>design</strong> networks.</p>\n"
    assert service.offerings == ["Design", "Audits"]
    admin_client.post(f"/admin/services/{service.id}", data={**data, "body": "Now *faster*."})
    db_session.expire_all()
    assert "<em>faster</em>" in service.body_html
    assert "faster" in client.get("/services/network").text
    assert audit_actions(db_session)[-2:] == ["service.create", "service.update"]
    make_service(slug="taken")
    response = admin_client.post(f"/admin/services/{service.id}", data={**data, "slug": "taken"})
    assert response.status_code == 400 and "already uses this slug" in response.text


def test_course_create_and_edit(admin_client, db_session):
    data = {"title": "Docker Deep Dive", "slug": "docker-deep-dive", "summary": "Containers.",
            "description": "Learn **Docker**.", "duration_days": "2", "level": "Intermediate",
            "prerequisites": "", "price": "900", "currency": "eur", "position": "1", "published": "y"}
    assert admin_client.post("/admin/courses/new", data=data).status_code == 303
    course = db_session.scalar(select(Course))
    assert course.description_html == "<p>Learn <strong>Docker</strong>.</p>\n"
    assert course.currency == "EUR" and course.price == 900 and course.published
    admin_client.post(f"/admin/courses/{course.id}", data={**data, "published": ""})
    db_session.expire_all()
    assert not course.published
    response = admin_client.post("/admin/courses/new", data={**data, "duration_days": "0", "slug": "x y"})
    assert response.status_code == 422
    assert 'id="duration_days-error"' in response.text and 'id="slug-error"' in response.text
    assert audit_actions(db_session)[-2:] == ["course.create", "course.update"]


def test_content_overview_lists_everything(admin_client):
    make_post(title="A visible post")
    make_post(title="A future post", published_at=datetime.now(UTC) + timedelta(days=2))
    make_service(title="Public Cloud")
    make_course(title="OpenStack Basics")
    page = admin_client.get("/admin/content").text
    for text in ("A visible post", "A future post", "Public Cloud", "OpenStack Basics", "badge-scheduled"):
        assert text in page
