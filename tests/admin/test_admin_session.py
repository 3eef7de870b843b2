"""The admin session: new at sign-in, ends after inactivity, and really ends at sign-out."""
from __future__ import annotations

import time

import pytest
from itsdangerous.timed import TimestampSigner

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD


def session_cookie(client, app) -> str | None:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return cookie.value if cookie else None


def opens_admin(app, cookie_value: str) -> bool:
    """Does a fresh browser holding only this cookie get into the admin?"""
    other = app.test_client()
    other.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie_value)
    response = other.get("/admin/")
    if response.status_code == 200:
        return True
    assert response.status_code in (302, 303) and response.headers["Location"].startswith("/admin/login")
    return False


def sign_in(client):
    return client.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})


def test_the_session_changes_at_sign_in(app, client, admin_user):
    with client.session_transaction() as visitor:  # a visitor's session, e.g. a CSRF token from a form
        visitor["csrf_token"] = "from before sign-in"
    before = session_cookie(client, app)
    assert before and not opens_admin(app, before)
    response = sign_in(client)
    assert response.status_code == 303
    after = session_cookie(client, app)
    assert after and after != before
    assert opens_admin(app, after)
    assert not opens_admin(app, before), "the pre-login cookie must stay anonymous"
    assert "remember_token" not in (response.headers.get("Set-Cookie") or ""), "no long-lived login cookie"


def test_a_planted_session_is_discarded_at_sign_in(app, client, admin_user):
    with client.session_transaction() as planted:
        planted["attacker"] = "knows this session"
    sign_in(client)
    with client.session_transaction() as session:
        assert "attacker" not in session
        assert session.permanent


@pytest.fixture
def clock(monkeypatch):
    """Moves the clock the session signature sees (and only it)."""
    offset = {"seconds": 0}
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) + offset["seconds"])

    def advance(minutes: float) -> None:
        offset["seconds"] += int(minutes * 60)

    return advance


def test_the_session_ends_after_inactivity_but_not_while_in_use(app, admin_client, clock):
    idle = app.config["PERMANENT_SESSION_LIFETIME"]
    idle_minutes = (idle.total_seconds() if hasattr(idle, "total_seconds") else idle) / 60
    assert 5 <= idle_minutes <= 8 * 60
    stolen = session_cookie(admin_client, app)
    # Working steadily for longer than the idle limit keeps the session alive (the cookie is re-signed).
    for _ in range(3):
        clock(idle_minutes * 0.6)
        assert admin_client.get("/admin/").status_code == 200
    # A copy taken at the start, never refreshed, has expired server-side.
    assert not opens_admin(app, stolen)
    # And after a real break, the live session has too.
    clock(idle_minutes + 1)
    response = admin_client.get("/admin/")
    assert response.status_code in (302, 303) and response.headers["Location"].startswith("/admin/login")


def test_a_cookie_copied_before_sign_out_no_longer_opens_the_admin(app, admin_client):
    copy = session_cookie(admin_client, app)
    assert opens_admin(app, copy)
    response = admin_client.post("/admin/logout")
    assert response.status_code == 303
    assert admin_client.get("/admin/").status_code in (302, 303)
    assert not opens_admin(app, copy), "a copied cookie outlived sign-out"


def test_sign_out_ends_every_session_of_that_account(app, admin_client, admin_user):
    elsewhere = app.test_client()
    sign_in(elsewhere)
    other_copy = session_cookie(elsewhere, app)
    assert opens_admin(app, other_copy)
    admin_client.post("/admin/logout")
    assert not opens_admin(app, other_copy)


def test_sign_out_needs_a_post_with_a_csrf_token(app, admin_user):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    client.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token})
    assert client.get("/admin/logout").status_code == 405
    assert client.post("/admin/logout").status_code == 400  # no token: CSRF refusal
    assert client.get("/admin/").status_code == 200  # still signed in


def test_a_tampered_or_foreign_cookie_is_anonymous(app, admin_client):
    from itsdangerous import URLSafeTimedSerializer

    value = session_cookie(admin_client, app)
    assert not opens_admin(app, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    forged = URLSafeTimedSerializer("not-the-secret-key", salt="cookie-session").dumps({"_user_id": "1:x", "_fresh": True})
    assert not opens_admin(app, forged)


def test_a_busy_session_still_ends_at_its_absolute_lifetime(app, admin_client):
    """Kept warm by requests, the idle expiry never comes; ADMIN_SESSION_MAX_HOURS after sign-in it ends anyway."""
    max_hours = app.config["ADMIN_SESSION_MAX_HOURS"]
    assert 1 <= max_hours <= 24
    with admin_client.session_transaction() as session:
        signed_in_at = session["signed_in_at"]
        assert abs(signed_in_at - time.time()) < 60
        session["signed_in_at"] = signed_in_at - int(max_hours * 3600) + 120  # two minutes left
    assert admin_client.get("/admin/").status_code == 200
    with admin_client.session_transaction() as session:
        session["signed_in_at"] = signed_in_at - int(max_hours * 3600) - 1  # one second over
    response = admin_client.get("/admin/")
    assert response.status_code in (302, 303) and response.headers["Location"].startswith("/admin/login")
    assert admin_client.get("/admin/enquiries").status_code in (302, 303), "the expired session was not ended"


def test_a_session_without_a_sign_in_time_is_signed_out(app, admin_client):
    with admin_client.session_transaction() as session:
        del session["signed_in_at"]
    assert admin_client.get("/admin/").status_code in (302, 303)


def test_the_absolute_lifetime_follows_its_setting(tmp_path, database_url, monkeypatch):
    from tests.conftest import make_app

    monkeypatch.setenv("ADMIN_SESSION_MAX_HOURS", "3")
    assert make_app(database_url, tmp_path).config["ADMIN_SESSION_MAX_HOURS"] == 3


def test_sign_out_tells_the_browser_to_forget_the_site(app, admin_client):
    response = admin_client.post("/admin/logout")
    assert response.status_code == 303
    assert response.headers["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    # The notice survives the cleared cookies: it is in the URL, not in a flash.
    page = admin_client.get(response.headers["Location"])
    assert page.status_code == 200 and "You are signed out." in page.text


def test_the_login_limit_is_five_a_minute(app):
    assert app.config["ADMIN_LOGIN_RATE_LIMIT"] == "5/minute"
