"""Content editing: posts (preview, draft, publish, schedule, tags), services and courses."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

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
    london = later.astimezone(ZoneInfo("Europe/London"))  # the editor takes the consultant's wall-clock time
    response = admin_client.post(f"/admin/posts/{post.id}", data={
        **POST, "status": "published", "published_at": london.strftime("%Y-%m-%dT%H:%M"), "action": "save"},
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
    assert response.status_code == 422 and 'id="slug-error"' in response.text
    response = admin_client.post(f"/admin/posts/{post.id}", data={**POST, "slug": "Not A Slug", "title": ""})
    assert response.status_code == 422 and 'id="title-error"' in response.text
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
    assert response.status_code == 422 and "already uses this slug" in response.text


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


def test_the_editor_and_the_content_list_offer_only_the_allowed_publish_button(admin_client, client, db_session):
    draft = make_post(slug="a-draft", status=Post.DRAFT, published_at=None)
    live = make_post(slug="a-live-one")
    scheduled = make_post(slug="later", published_at=datetime.now(UTC) + timedelta(days=2))
    content = admin_client.get("/admin/content").text
    assert f"/admin/posts/{draft.id}/publish" in content and f"/admin/posts/{draft.id}/unpublish" not in content
    assert f"/admin/posts/{live.id}/unpublish" in content and f"/admin/posts/{live.id}/publish" not in content
    assert f"/admin/posts/{scheduled.id}/publish" in content and f"/admin/posts/{scheduled.id}/unpublish" in content
    editor = admin_client.get(f"/admin/posts/{draft.id}").text
    assert f"/admin/posts/{draft.id}/publish" in editor and f"/admin/posts/{draft.id}/unpublish" not in editor

    response = admin_client.post(f"/admin/posts/{draft.id}/publish", data={"back": "content"})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/content#posts"
    assert client.get("/blog/a-draft").status_code == 200
    # The same click again (a second tab): nothing changes, and the consultant is told why.
    again = admin_client.post(f"/admin/posts/{draft.id}/publish", data={}, follow_redirects=True)
    assert "already published" in again.text
    assert audit_actions(db_session).count("post.publish") == 1

    admin_client.post(f"/admin/posts/{live.id}/unpublish", data={})
    assert client.get("/blog/a-live-one").status_code == 404
    db_session.expire_all()
    assert live.status == Post.DRAFT and live.published_at is not None  # it keeps its date for later
    assert "already a draft" in admin_client.post(f"/admin/posts/{live.id}/unpublish", data={},
                                                  follow_redirects=True).text
    assert admin_client.post(f"/admin/posts/{live.id}/destroy", data={}).status_code == 404  # not an action
    asked = admin_client.post(f"/admin/posts/{live.id}/delete", data={})  # delete asks first (tests/admin/test_archive.py)
    assert asked.status_code == 200 and db_session.get(Post, live.id) is not None
    assert admin_client.post("/admin/posts/9999/publish", data={}).status_code == 404


def test_publishing_a_scheduled_post_makes_it_live_now(admin_client, client):
    scheduled = make_post(slug="later", published_at=datetime.now(UTC) + timedelta(days=2))
    assert client.get("/blog/later").status_code == 404
    admin_client.post(f"/admin/posts/{scheduled.id}/publish", data={})
    assert client.get("/blog/later").status_code == 200


def test_models_render_their_markdown_when_it_is_set(db_session):
    course = make_course(description="Learn **Docker**.")
    assert course.description_html == "<p>Learn <strong>Docker</strong>.</p>\n"
    service = make_service(body="We *design*.")
    assert service.body_html == "<p>We <em>design</em>.</p>\n"
    post = make_post(body="Old.")
    post.body = "## New heading\n\nText."
    db_session.commit()
    db_session.expire_all()
    assert post.body_html.startswith('<h2 id="new-heading">') and post.toc[0]["id"] == "new-heading"
