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
