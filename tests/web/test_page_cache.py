"""The anonymous render cache (web/page_cache.py): served without the database, never stale past a change, never for forms."""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, event, text

from cli.seeding import seed_all
from extensions import db
from tests.factories import make_post, make_session
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


@pytest.fixture
def site(app):
    seed_all()
    return app


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


def other_process_sql(app, sql: str, **params) -> None:
    """A write by another process: its own engine, so this app's commit hook does not see it."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with engine.begin() as conn:
        conn.execute(text(sql), params)
    engine.dispose()
    # In tests the app context (and its session) outlives each request; a real request starts afresh.
    db.session.remove()


def db_now(delta: timedelta = timedelta(0)) -> datetime:
    """A timestamp as raw SQL should bind it: naive UTC on SQLite (as UTCDateTime stores it), aware elsewhere."""
    now = datetime.now(timezone.utc) + delta
    return now.replace(tzinfo=None) if db.engine.dialect.name == "sqlite" else now


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
    other_process_sql(app, "UPDATE posts SET title = 'Changed elsewhere', updated_at = :now WHERE id = :id",
                      now=db_now(timedelta(seconds=1)), id=post.id)
    # within the interval this process may still serve what it rendered (bounded staleness)...
    assert "Original title" in client.get(f"/blog/{post.slug}").get_data(as_text=True)
    clock.now += 30
    # ...and after it, it sees the new version in the database
    assert "Changed elsewhere" in client.get(f"/blog/{post.slug}").get_data(as_text=True)


def test_a_deleted_post_disappears_from_the_list(app, client, site, clock):
    post = make_post(title="Soon gone")
    assert "Soon gone" in client.get("/blog").get_data(as_text=True)
    other_process_sql(app, "DELETE FROM posts WHERE id = :id", id=post.id)
    clock.now += 30
    assert "Soon gone" not in client.get("/blog").get_data(as_text=True)
    assert client.get(f"/blog/{post.slug}").status_code == 404


def test_a_booking_elsewhere_changes_the_content_version(app, site, clock):
    cache = app.extensions["page_cache"]
    session = make_session()
    before = cache.version()
    other_process_sql(
        app, "INSERT INTO bookings (session_id, name, email, company, seats, notes, status, token_hash, "
             "created_at, updated_at, ics_sequence) VALUES (:sid, 'A', 'a@example.com', '', 2, '', 'pending', "
             "'x', :now, :now, 0)",
        sid=session.id, now=db_now(),
    )
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


def test_errors_and_posts_are_not_cached(client, site, clock):
    assert client.get("/blog/no-such-post").status_code == 404
    with statements() as seen:
        assert client.get("/blog/no-such-post").status_code == 404
    assert seen


def test_the_cache_is_off_by_default_outside_production(tmp_path, database_url):
    from tests.conftest import make_app

    assert "page_cache" not in make_app(database_url, tmp_path).extensions
    assert "page_cache" in make_app(database_url, tmp_path, APP_ENV="production", SECRET_KEY="x" * 32,
                                    SITE_URL="http://localhost").extensions
    assert "page_cache" not in make_app(database_url, tmp_path, APP_ENV="production", SECRET_KEY="x" * 32,
                                        SITE_URL="http://localhost", PAGE_CACHE_SECONDS=0).extensions


def test_pages_with_forms_give_every_visitor_their_own_csrf_token(app, site, database_url, tmp_path):
    from tests.conftest import make_app

    # A second app on the same database: each of its requests gets its own app context (and `g`),
    # as in production; the fixture's long-lived context would share one CSRF token between clients.
    forms_app = make_app(database_url, tmp_path, PAGE_CACHE_SECONDS=60, WTF_CSRF_ENABLED=True)

    def token(client):
        html = client.get("/contact").get_data(as_text=True)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', html)
        assert match, "the contact form has no CSRF token"
        return match.group(1)

    first, second = forms_app.test_client(), forms_app.test_client()
    assert token(first) != token(second)
    assert token(first) != token(second)
    # cached only as fragments around the visitor's own values
    entries = forms_app.extensions["page_cache"].entries
    contact = [entry for key, entry in entries.items() if key[5] == "/contact"]
    assert contact and all(entry.form is not None for entry in contact)


# --- form pages: cached as fragments around the per-visitor values --------------------------------

def form_fields(html: str) -> dict:
    from bench.common import _FormParser

    form = _FormParser(html)
    fields = {name: form.fields[name] for name, kind in form.kinds.items() if kind == "hidden"}
    for name, options in form.options.items():
        fields[name] = next(o for o in options if o)
    return fields


def csrf_of(html: str) -> str:
    return next(v for k, v in form_fields(html).items() if k.endswith("csrf_token"))


def stamp_payload(app, html: str) -> dict:
    from itsdangerous import URLSafeSerializer

    from web import spam

    signer = URLSafeSerializer(app.secret_key, salt=spam.SALT)
    return signer.loads(next(v for k, v in form_fields(html).items() if k.endswith("form_token")))


def test_a_visitor_served_a_cached_contact_form_can_send_it_with_their_own_token_and_stamp(
        app, site, database_url, tmp_path, monkeypatch):
    from models import Enquiry
    from tests.conftest import make_app

    forms_app = make_app(database_url, tmp_path, PAGE_CACHE_SECONDS=60, WTF_CSRF_ENABLED=True, SPAM_MIN_SECONDS=3)
    first = forms_app.test_client().get("/contact").get_data(as_text=True)
    cache = forms_app.extensions["page_cache"]
    assert [e for e in cache.entries.values() if e.form is not None], "the contact form page was not cached"

    start = __import__("time").time()
    monkeypatch.setattr(page_cache.time, "time", lambda: start + 100)
    visitor = forms_app.test_client()
    page = visitor.get("/contact")
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"].startswith("private")
    assert csrf_of(html) != csrf_of(first)
    assert stamp_payload(forms_app, html)["t"] == pytest.approx(start + 100, abs=0.01)  # issued now, not at render
    # apart from the visitor's own values, the page is the one rendered for the first visitor
    assert html.replace(csrf_of(html), "").split('form_token')[0] == first.replace(csrf_of(first), "").split(
        'form_token')[0]

    data = {**form_fields(html), "name": "Ann Example", "email": "ann@example.com", "company": "",
            "message": "We would like help moving our workloads to Kubernetes.", "consent": "y", "website": ""}
    monkeypatch.setattr(page_cache.time, "time", lambda: start + 110)  # a person takes a while to type
    response = visitor.post("/contact", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    db.session.remove()
    enquiry = db.session.scalars(db.select(Enquiry).where(Enquiry.email == "ann@example.com")).one()
    assert enquiry.spam_reason is None


def test_a_visitor_served_a_cached_booking_form_can_book(app, site, database_url, tmp_path):
    from models import Booking
    from tests.conftest import make_app

    session_id = make_session(capacity=2).id
    forms_app = make_app(database_url, tmp_path, PAGE_CACHE_SECONDS=60, WTF_CSRF_ENABLED=True)
    path = f"/training/sessions/{session_id}/book"
    first = forms_app.test_client().get(path).get_data(as_text=True)
    visitor = forms_app.test_client()
    html = visitor.get(path).get_data(as_text=True)
    assert csrf_of(html) != csrf_of(first)
    assert [e for e in forms_app.extensions["page_cache"].entries.values() if e.form is not None]
    data = {**form_fields(html), "name": "Bo Example", "email": "bo@example.com", "company": "", "seats": "2",
            "notes": "", "consent": "y"}
    response = visitor.post(path, data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    db.session.remove()
    assert db.session.scalars(db.select(Booking).where(Booking.email == "bo@example.com")).one().seats == 2
    # the booking took the last seats: the next visitor does not get the cached page from before
    assert "This session is full." in forms_app.test_client().get(path).get_data(as_text=True)


def test_a_form_page_for_a_returning_visitor_is_rendered_for_them(app, site, database_url, tmp_path):
    from tests.conftest import make_app

    forms_app = make_app(database_url, tmp_path, PAGE_CACHE_SECONDS=60, WTF_CSRF_ENABLED=True)
    visitor = forms_app.test_client()
    first = visitor.get("/contact").get_data(as_text=True)
    again = visitor.get("/contact")  # has a session cookie now: rendered with its own CSRF secret
    assert csrf_of(again.get_data(as_text=True)).split(".")[0] == csrf_of(first).split(".")[0]


def test_a_visitor_served_a_cached_article_can_comment_and_sees_the_approved_comment(
        app, site, database_url, tmp_path, monkeypatch):
    from models import Comment
    from tests.conftest import make_app

    forms_app = make_app(database_url, tmp_path, PAGE_CACHE_SECONDS=60, WTF_CSRF_ENABLED=True, SPAM_MIN_SECONDS=3)
    post = make_post(title="Cached article")
    path = f"/blog/{post.slug}"
    first = forms_app.test_client().get(path).get_data(as_text=True)
    start = __import__("time").time()
    monkeypatch.setattr(page_cache.time, "time", lambda: start + 100)
    visitor = forms_app.test_client()
    html = visitor.get(path).get_data(as_text=True)
    assert csrf_of(html) != csrf_of(first)
    assert stamp_payload(forms_app, html)["t"] == pytest.approx(start + 100, abs=0.01)
    assert [e for e in forms_app.extensions["page_cache"].entries.values() if e.form is not None]

    monkeypatch.setattr(page_cache.time, "time", lambda: start + 110)
    data = {**form_fields(html), "name": "Cy Reader", "email": "cy@example.com", "consent": "y", "website": "",
            "body": "A clear explanation of namespaces and cgroups, thank you."}
    response = visitor.post(f"{path}/comments", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    db.session.remove()
    comment = db.session.scalars(db.select(Comment).where(Comment.author_email == "cy@example.com")).one()
    assert comment.spam_reason is None and comment.status == Comment.PENDING

    comment.status, comment.moderated_at = Comment.APPROVED, datetime.now(timezone.utc)
    db.session.commit()  # approved by the consultant (another process): visible within the check interval
    later = __import__("time").monotonic() + 5  # past the 1 s version check, well inside the 60 s max age
    monkeypatch.setattr(page_cache.time, "monotonic", lambda: later)
    assert "A clear explanation of namespaces" in forms_app.test_client().get(path).get_data(as_text=True)


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
