"""The post editor: a slug proposed from the title, publish times in the consultant's zone, a link to the page."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from models import Post
from tests.factories import make_post

BASE = {"title": "Virtualisierung für Einsteiger", "slug": "", "summary": "", "body": "Text.", "tags": "",
        "status": "draft", "published_at": "", "action": "save"}


def saved(db_session, title=BASE["title"]) -> Post:
    db_session.expire_all()
    return db_session.scalar(select(Post).where(Post.title == title).order_by(Post.id.desc()))


def test_an_empty_slug_is_made_from_the_title_with_accents_transliterated(admin_client, db_session):
    response = admin_client.post("/admin/posts/new", data=BASE)
    assert response.status_code == 303
    assert saved(db_session).slug == "virtualisierung-fur-einsteiger"
    page = admin_client.get(response.headers["Location"]).text
    assert 'value="virtualisierung-fur-einsteiger"' in page
    assert "/blog/virtualisierung-fur-einsteiger" in page


def test_a_proposed_slug_never_takes_one_in_use(admin_client, db_session):
    make_post(slug="straße-und-søen".replace("ß", "ss").replace("ø", "o"), title="Older")
    admin_client.post("/admin/posts/new", data={**BASE, "title": "Straße und Søen"})
    assert saved(db_session, "Straße und Søen").slug == "strasse-und-soen-2"


def test_the_preview_shows_the_slug_it_would_use(admin_client, db_session):
    response = admin_client.post("/admin/posts/new", data={**BASE, "action": "preview"})
    assert response.status_code == 200 and 'value="virtualisierung-fur-einsteiger"' in response.text


def test_a_title_with_nothing_to_make_a_slug_from_asks_for_one(admin_client, db_session):
    response = admin_client.post("/admin/posts/new", data={**BASE, "title": "Виртуализация"})
    assert response.status_code == 422 and 'id="slug-error"' in response.text
    assert saved(db_session, "Виртуализация") is None


@pytest.mark.parametrize(("entered", "stored"), [
    ("2026-07-01T09:00", datetime(2026, 7, 1, 8, 0, tzinfo=UTC)),      # BST, UTC+1
    ("2026-12-01T09:00", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),     # GMT
    # The night the clocks go back, 01:30 comes twice: the first (still BST) is meant.
    ("2026-10-25T01:30", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
])
def test_publish_times_are_entered_and_shown_in_the_consultants_zone(admin_client, db_session, entered, stored):
    response = admin_client.post("/admin/posts/new", data={**BASE, "status": "published", "published_at": entered})
    assert response.status_code == 303
    assert saved(db_session).published_at == stored
    page = admin_client.get(response.headers["Location"]).text
    assert f'value="{entered}"' in page
    assert "Europe/London" in page


def test_the_zone_is_a_setting(app, admin_client, db_session):
    from models import SiteSettings, site_settings

    # The site settings' zone (/admin/settings), which SITE_TIMEZONE only seeds.
    db_session.add(SiteSettings(**{**site_settings.defaults(), "timezone": "America/Sao_Paulo"}))
    db_session.commit()
    admin_client.post("/admin/posts/new", data={**BASE, "status": "published", "published_at": "2026-07-01T09:00"})
    assert saved(db_session).published_at == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def test_a_time_the_clocks_skip_is_refused(admin_client, db_session):
    response = admin_client.post("/admin/posts/new", data={**BASE, "status": "published",
                                                           "published_at": "2026-03-29T01:30"})
    assert response.status_code == 422 and 'id="published_at-error"' in response.text
    assert "does not exist" in response.text


def test_view_on_the_site_for_a_published_post_and_a_private_preview_of_a_draft(admin_client, client, db_session):
    live = make_post(slug="live-one")
    assert 'href="/blog/live-one"' in admin_client.get(f"/admin/posts/{live.id}").text

    draft = make_post(slug="not-yet", title="Entwurf: Ärger mit Überläufen", status=Post.DRAFT, published_at=None)
    editor = admin_client.get(f"/admin/posts/{draft.id}").text
    assert 'href="/blog/not-yet"' not in editor
    assert f'href="/admin/posts/{draft.id}/preview"' in editor
    preview = admin_client.get(f"/admin/posts/{draft.id}/preview")
    assert preview.status_code == 200
    assert "Entwurf: Ärger mit Überläufen" in preview.text and "not published" in preview.text.lower()
    assert 'name="robots" content="noindex' in preview.text
    assert client.get(f"/admin/posts/{draft.id}/preview").status_code in (302, 303)
    assert client.get("/blog/not-yet").status_code == 404


def test_tags_get_transliterated_slugs_and_an_older_tag_is_reused(admin_client, db_session):
    from models import Tag

    db_session.add(Tag(slug="rger", name="Ärger"))  # as the editor made it before accents were transliterated
    db_session.commit()
    admin_client.post("/admin/posts/new", data={**BASE, "tags": "Ärger, Überläufe"})
    assert sorted((t.slug, t.name) for t in saved(db_session).tags) == [("rger", "Ärger"), ("uberlaufe", "Überläufe")]


def test_an_unknown_zone_stops_the_app_at_start(monkeypatch, tmp_path):
    from config import ConfigError, load_settings

    monkeypatch.setenv("SITE_TIMEZONE", "Europe/Londn")
    with pytest.raises(ConfigError, match="SITE_TIMEZONE"):
        load_settings(tmp_path, "testing")
    monkeypatch.setenv("SITE_TIMEZONE", "Asia/Kolkata")
    assert load_settings(tmp_path, "testing")["SITE_TIMEZONE"] == "Asia/Kolkata"
