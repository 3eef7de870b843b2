"""The anonymous render cache (web/page_cache.py): served without the database, never stale past a change, never for forms."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

from extensions import db
from models import Booking, Post
from tests.factories import make_post, make_session, new_token
from web import page_cache


@pytest.fixture
def app_config():
    # A long check interval: only this process's commits (or the fake clock below) refresh the version.
    return {"PAGE_CACHE_SECONDS": 60, "PAGE_CACHE_CHECK_SECONDS": 30}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(page_cache.time, "monotonic", fake)
    return fake


@contextmanager
def statements():
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


@contextmanager
def elsewhere(app):
    """A write by another worker: its own engine and Session, committed there, so this app's hooks do not see it."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with Session(engine) as other:
            yield other
            other.commit()
    finally:
        engine.dispose()
    # In tests the app context (and its session) outlives each request; a real request starts afresh.
    db.session.remove()


def test_a_repeated_anonymous_page_is_served_without_touching_the_database(client, site, clock):
    first = client.get("/services")
    with statements() as seen:
        second = client.get("/services")
    assert second.status_code == 200
    assert second.data == first.data
    assert seen == []
    # the usual headers are still added on a hit
    assert second.headers["Content-Security-Policy"]
    assert second.headers["X-Request-ID"] != first.headers["X-Request-ID"]
    assert second.headers["ETag"] == first.headers["ETag"]


def test_a_hit_answers_conditional_gets_gzip_and_head_like_a_render(client, site, clock):
    plain = client.get("/services")
    gzipped = client.get("/services", headers={"Accept-Encoding": "gzip"})
    with statements() as seen:
        plain_hit = client.get("/services")
        gzip_hit = client.get("/services", headers={"Accept-Encoding": "gzip"})
        not_modified = client.get("/services", headers={"If-None-Match": plain.headers["ETag"]})
        head = client.head("/services")
    assert seen == []
    assert gzip_hit.headers["Content-Encoding"] == "gzip" and gzip_hit.data == gzipped.data != plain.data
    assert gzip_hit.headers["ETag"] == gzipped.headers["ETag"] != plain.headers["ETag"]
    assert plain_hit.data == plain.data and "Content-Encoding" not in plain_hit.headers
    assert not_modified.status_code == 304 and not_modified.data == b""
    assert not_modified.headers["ETag"] == plain.headers["ETag"]
    assert head.status_code == 200 and head.data == b"" and head.headers["Content-Length"] == str(len(plain.data))


def test_a_change_in_this_process_shows_at_once(client, site, clock):
    post = make_post(title="Original title")
    assert "Original title" in client.get(f"/blog/{post.slug}").get_data(as_text=True)
    post.title = "Edited title"
    db.session.commit()
    html = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert "Edited title" in html and "Original title" not in html


def test_a_change_by_another_process_shows_within_the_check_interval(app, client, site, clock):
    post = make_post(title="Original title")
    client.get(f"/blog/{post.slug}")
    with elsewhere(app) as other:
        other.get(Post, post.id).title = "Changed elsewhere"
    # within the interval this process may still serve what it rendered (bounded staleness)...
    assert "Original title" in client.get(f"/blog/{post.slug}").get_data(as_text=True)
    clock.now += 30
    # ...and after it, it sees the new version in the database
    assert "Changed elsewhere" in client.get(f"/blog/{post.slug}").get_data(as_text=True)


def test_a_deleted_post_disappears_from_the_list(app, client, site, clock):
    post = make_post(title="Soon gone")
    assert "Soon gone" in client.get("/blog").get_data(as_text=True)
    with elsewhere(app) as other:
        other.delete(other.get(Post, post.id))
    clock.now += 30
    assert "Soon gone" not in client.get("/blog").get_data(as_text=True)
    assert client.get(f"/blog/{post.slug}").status_code == 404


def test_a_booking_elsewhere_changes_the_content_version(app, site, clock):
    cache = app.extensions["page_cache"]
    session = make_session()
    before = cache.version()
    with elsewhere(app) as other:
        other.add(Booking(session_id=session.id, name="A", email="a@example.com", seats=2, token_hash=new_token()[1]))
    assert cache.version() == before  # not re-read yet
    clock.now += 30
    assert cache.version() != before


def test_a_scheduled_post_appears_when_its_time_comes(client, site, clock, monkeypatch):
    post = make_post(title="From the future", published_at=datetime.now(timezone.utc) + timedelta(hours=1))
    assert "From the future" not in client.get("/blog").get_data(as_text=True)
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    import models.base
    import models.content

    monkeypatch.setattr(models.base, "utcnow", lambda: later)
    monkeypatch.setattr(models.content, "utcnow", lambda: later)
    clock.now += 30  # the version is re-read: the next scheduled publication has passed
    assert "From the future" in client.get("/blog").get_data(as_text=True)
    assert client.get(f"/blog/{post.slug}").status_code == 200


def test_entries_expire_after_max_age(client, site, clock):
    client.get("/services")
    clock.now += 61
    with statements() as seen:
        client.get("/services")
    assert seen  # rendered again


def test_a_flash_message_is_shown_to_its_visitor_only(app, site, clock):
    anonymous = app.test_client()
    cached = anonymous.get("/services").data
    visitor = app.test_client()
    with visitor.session_transaction() as sess:
        sess["_flashes"] = [("info", "Thanks, your message is on its way.")]
    assert b"Thanks, your message is on its way." in visitor.get("/services").data
    assert b"Thanks, your message is on its way." not in visitor.get("/services").data
    assert anonymous.get("/services").data == cached


def test_a_signed_in_admin_is_never_served_from_the_cache(admin_client, client, site, clock):
    client.get("/services")
    with statements() as seen:
        admin_client.get("/services")
    assert seen


def test_query_strings_other_than_page_are_not_cached(client, site, clock):
    client.get("/services?utm_source=news")
    with statements() as seen:
        client.get("/services?utm_source=news")
    assert seen
    assert page_cache.MAX_ENTRIES >= 100


def test_a_page_marked_private_is_shared_by_neither_layer(app, client, site, clock):
    from flask import request

    @app.after_request
    def mark_private(response):  # as a view would that shows something personal
        if request.path == "/services":
            response.headers["Cache-Control"] = "private"
        return response

    first = client.get("/services")
    assert first.status_code == 200 and "ETag" not in first.headers
    with statements() as seen:
        client.get("/services")
    assert seen  # rendered again: one rule (http_caching.sharing) decides for both


def test_errors_and_posts_are_not_cached(client, site, clock):
    assert client.get("/blog/no-such-post").status_code == 404
    with statements() as seen:
        assert client.get("/blog/no-such-post").status_code == 404
    assert seen


def test_the_cache_is_off_by_default_outside_production(another_app):
    assert "page_cache" not in another_app().extensions
    assert "page_cache" in another_app(APP_ENV="production", SECRET_KEY="x" * 32,
                                       SITE_URL="http://localhost").extensions
    assert "page_cache" not in another_app(APP_ENV="production", SECRET_KEY="x" * 32,
                                           SITE_URL="http://localhost", PAGE_CACHE_SECONDS=0).extensions


def test_retagging_a_post_or_renaming_a_tag_changes_the_content_version(app, site, clock):
    from tests.factories import make_tag

    cache = app.extensions["page_cache"]
    first, second = make_tag("Alpha"), make_tag("Beta")
    post = make_post(tags=[first])
    before = cache.version()
    post.tags = [second]  # same number of tags, and the post's own row is not updated
    db.session.commit()
    after_swap = cache.version()
    assert after_swap != before
    second.name = "Betamax"
    db.session.commit()
    assert cache.version() != after_swap


def test_when_the_version_cannot_be_read_the_app_answers_by_itself(app, client, site, clock, monkeypatch):
    from sqlalchemy.exc import OperationalError

    cache = app.extensions["page_cache"]

    class Down:
        def connect(self):
            raise OperationalError("SELECT", {}, Exception("database is down"))

    monkeypatch.setattr(cache, "engine", Down())
    response = client.get("/services")
    assert response.status_code == 200 and b"Public Cloud" in response.data
    assert cache.entries == {}


# --- the content version: bumped by the writes themselves ------------------------------------------

def later_clock(monkeypatch, delta: timedelta) -> None:
    """The wall clock moves on (the monotonic one the check interval uses does not)."""
    import models.base
    import models.content
    import models.training

    later = datetime.now(timezone.utc) + delta
    for module in (models.base, models.content, models.training):
        monkeypatch.setattr(module, "utcnow", lambda: later)


CHILD = """
import sys
from pathlib import Path

from extensions import db
from models import Post
from tests.conftest import make_app

app = make_app(sys.argv[1], Path(sys.argv[2]))
with app.app_context():
    db.session.get(Post, int(sys.argv[3])).title = "Changed by another process"
    db.session.commit()
"""


def test_a_write_by_another_process_bumps_the_version(app, client, site, clock, database_url, tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    post = make_post(title="Original title")
    slug, post_id = post.slug, post.id
    cache = app.extensions["page_cache"]
    client.get(f"/blog/{slug}")
    before = cache.version()
    subprocess.run([sys.executable, "-c", CHILD, database_url, str(tmp_path / "child"), str(post_id)],
                   cwd=ROOT, check=True, timeout=120)
    db.session.remove()
    assert cache.version() == before  # not re-read within the check interval
    clock.now += 30
    assert cache.version().counter > before.counter
    assert "Changed by another process" in client.get(f"/blog/{slug}").get_data(as_text=True)


def test_retagging_a_post_elsewhere_moves_it_between_tag_pages(app, client, site, clock):
    from models import Tag
    from tests.factories import make_tag

    alpha_id, beta_id = make_tag("Alpha").id, make_tag("Beta").id
    make_post(title="Other article", tags=[db.session.get(Tag, beta_id)])
    post_id = make_post(title="Tagged article", tags=[db.session.get(Tag, alpha_id)]).id
    assert "Tagged article" in client.get("/blog/tag/alpha").get_data(as_text=True)
    assert "Tagged article" not in client.get("/blog/tag/beta").get_data(as_text=True)
    with statements() as seen:
        client.get("/blog/tag/beta")
    assert seen == []  # served from the cache
    with elsewhere(app) as other:
        other.get(Post, post_id).tags = [other.get(Tag, beta_id)]  # only the post_tags rows change
    clock.now += 30
    assert "Tagged article" in client.get("/blog/tag/beta").get_data(as_text=True)
    assert "Tagged article" not in client.get("/blog/tag/alpha").get_data(as_text=True)


def test_a_scheduled_post_appears_on_time_without_a_write_or_waiting_for_the_check(client, site, clock, monkeypatch):
    make_post(title="Right on time", published_at=datetime.now(timezone.utc) + timedelta(hours=1))
    assert "Right on time" not in client.get("/blog").get_data(as_text=True)
    with statements() as seen:
        client.get("/blog")
    assert seen == []  # cached, and the 30 s check interval is far from over
    later_clock(monkeypatch, timedelta(hours=2))
    assert "Right on time" in client.get("/blog").get_data(as_text=True)


def test_a_session_leaves_the_upcoming_lists_when_it_starts(client, site, clock, monkeypatch):
    session = make_session(starts_at=datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1))
    link = f"/training/sessions/{session.id}/book"
    assert link in client.get("/training").get_data(as_text=True)
    later_clock(monkeypatch, timedelta(hours=2))
    assert link not in client.get("/training").get_data(as_text=True)


def test_a_change_rolled_back_leaves_the_version_alone(app, site, clock):
    cache = app.extensions["page_cache"]
    post = make_post(title="Kept title")
    before = cache.version()
    post.title = "Never saved"
    db.session.flush()
    db.session.rollback()
    clock.now += 30
    assert cache.version() == before


def test_writes_no_public_page_shows_leave_cached_pages_alone(app, client, site, clock):
    from tests.factories import make_enquiry

    cache = app.extensions["page_cache"]
    client.get("/services")
    before = cache.version()
    make_enquiry()
    with statements() as seen:
        assert client.get("/services").status_code == 200
    assert seen == []  # not even the version was re-read
    clock.now += 30
    assert cache.version() == before


def test_every_table_is_declared_shown_or_not_by_public_pages():
    from models import content_version

    declared = {t.name for t in content_version.PUBLIC} | content_version.PRIVATE
    assert set(db.metadata.tables) - {content_version.ContentVersion.__tablename__} == declared, (
        "declare the new table in models/content_version.py: PUBLIC if a public page shows it, else PRIVATE")


def test_the_cache_settings_come_from_config(tmp_path, monkeypatch, another_app):
    from config import load_settings

    monkeypatch.delenv("PAGE_CACHE_SECONDS", raising=False)
    monkeypatch.delenv("PAGE_CACHE_CHECK_SECONDS", raising=False)
    assert load_settings(tmp_path, "production")["PAGE_CACHE_SECONDS"] == 60
    assert load_settings(tmp_path, "development")["PAGE_CACHE_SECONDS"] == 0
    assert load_settings(tmp_path, "production")["PAGE_CACHE_CHECK_SECONDS"] == 1
    monkeypatch.setenv("PAGE_CACHE_SECONDS", "5")
    monkeypatch.setenv("PAGE_CACHE_CHECK_SECONDS", "0.5")
    cache = another_app(APP_ENV="production", SECRET_KEY="x" * 32, SITE_URL="http://localhost").extensions["page_cache"]
    assert (cache.max_age, cache.check_every) == (5, 0.5)


def test_a_hit_and_a_render_treat_the_callers_request_id_alike(client, site, clock):
    """One rule (web.requests.request_id): a short ASCII id is echoed, anything else replaced, cached or not."""
    for incoming in ("abc123", "é1", "x" * 65, "a-b"):
        rendered = client.get("/services", headers={"X-Request-ID": incoming}, query_string={"page": "1"})
        client.get("/services")
        cached = client.get("/services", headers={"X-Request-ID": incoming})
        echoed = incoming if incoming == "abc123" else None
        for response in (rendered, cached):
            assert response.headers["X-Request-ID"].isascii()
            assert (response.headers["X-Request-ID"] == incoming) == (echoed is not None), (incoming, response.headers)
