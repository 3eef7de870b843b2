"""ETag, 304 and gzip for public pages; never for forms, signed-in users or /admin."""
from __future__ import annotations

import gzip

from flask import flash, render_template_string

from tests.factories import make_service


def test_unchanged_page_gets_304(client):
    first = client.get("/")
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, no-cache"
    assert "Accept-Encoding" in first.headers["Vary"]
    again = client.get("/", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag


def test_etag_changes_with_the_content(client):
    before = client.get("/services")
    make_service(title="Observability", slug="observability")
    after = client.get("/services", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    assert "Observability" in after.get_data(as_text=True)


def test_head_has_the_same_validator(client):
    assert client.head("/").headers["ETag"] == client.get("/").headers["ETag"]
    assert client.head("/", headers={"If-None-Match": client.get("/").headers["ETag"]}).status_code == 304


def test_html_is_gzipped_when_accepted(client):
    plain = client.get("/")
    packed = client.get("/", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 2
    assert int(packed.headers["Content-Length"]) == len(packed.data)
    assert packed.headers["ETag"] != plain.headers["ETag"]  # another representation, another validator
    again = client.get("/", headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304
    assert "Content-Encoding" not in plain.headers


def test_gzip_refused_gives_identity(client):
    response = client.get("/", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in response.headers


def test_page_with_a_csrf_token_is_private(app, client):
    app.config["WTF_CSRF_ENABLED"] = True

    @app.get("/test-form")
    def test_form():
        return render_template_string('<form method="post"><input name="csrf_token" value="{{ csrf_token() }}"></form>' * 40)

    first = client.get("/test-form", headers={"Accept-Encoding": "gzip"})
    second = client.get("/test-form", headers={"Accept-Encoding": "gzip"})
    for response in (first, second):  # first visit sets the session cookie, the second reuses it
        assert "ETag" not in response.headers
        assert response.headers["Cache-Control"] == "private, no-cache"
        assert "Content-Encoding" not in response.headers  # no compression next to a secret (BREACH)
        assert b"csrf_token" in response.data


def test_flash_message_page_is_private(app, client):
    @app.get("/test-flash")
    def test_flash():
        flash("Saved.")
        return "<p>flashed</p>"

    client.get("/test-flash")
    response = client.get("/")
    assert "Saved." in response.get_data(as_text=True)
    assert "ETag" not in response.headers
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_signed_in_admin_gets_no_shared_caching(client, admin_user):
    with client.session_transaction() as session:  # what Flask-Login keeps after the login form
        session["_user_id"] = "1"
        session["_fresh"] = True
    response = client.get("/")
    assert response.status_code == 200
    assert "ETag" not in response.headers
    assert "public" not in response.headers["Cache-Control"]


def test_admin_pages_are_never_cached(client):
    response = client.get("/admin/login", headers={"Accept-Encoding": "gzip"})
    assert "ETag" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    assert "Content-Encoding" not in response.headers


def test_errors_and_posts_are_not_validated(client):
    assert "ETag" not in client.get("/no-such-page").headers
    assert "ETag" not in client.post("/").headers


def test_health_check_is_not_cached_by_proxies(client):
    response = client.get("/healthz", headers={"If-None-Match": client.get("/healthz").headers.get("ETag", "x")})
    assert response.status_code in (200, 304)
