"""Admin sign-in: lockout, open redirects, session handling, the guard on every /admin route."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select
from werkzeug.routing import FloatConverter, IntegerConverter

from models import AdminUser, AuditLog, LoginFailure, utcnow
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.factories import make_admin

GENERIC = "That email and password do not match an account"


def login(client, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, **extra):
    return client.post("/admin/login", data={"email": email, "password": password, **extra})


def test_login_page_renders_with_labels(client):
    response = client.get("/admin/login")
    assert response.status_code == 200
    assert '<label for="email">' in response.text and '<label for="password">' in response.text


def test_admin_pages_are_not_cached_or_indexed(admin_client, client):
    for c, path in ((client, "/admin/login"), (admin_client, "/admin/"), (admin_client, "/admin/enquiries")):
        response = c.get(path)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert "noindex" in response.headers["X-Robots-Tag"]


def test_login_succeeds_and_is_recorded(client, admin_user, db_session):
    response = login(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    db_session.expire_all()
    assert admin_user.last_login_at is not None
    assert db_session.scalar(select(AuditLog).where(AuditLog.action == "admin.login")).actor_id == admin_user.id


def test_wrong_email_and_wrong_password_get_the_same_answer(client, admin_user):
    wrong_password = login(client, password="not the password")
    wrong_email = login(client, email="nobody@example.com")
    assert wrong_password.status_code == wrong_email.status_code == 200
    assert GENERIC in wrong_password.text and GENERIC in wrong_email.text
    strip = lambda html: re.sub(r'name="csrf_token"[^>]*>', "", html).replace("nobody@example.com", ADMIN_EMAIL)  # noqa: E731
    assert strip(wrong_password.text) == strip(wrong_email.text)
    assert client.get("/admin/").status_code == 302


ATTACKER, CONSULTANT = "203.0.113.7", "198.51.100.20"


def login_from(client, address, email=ADMIN_EMAIL, password=ADMIN_PASSWORD):
    return client.post("/admin/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def failure_rows(db_session):
    db_session.expire_all()
    return {row.network: row for row in db_session.scalars(select(LoginFailure))}


def test_an_attacker_hammering_the_login_does_not_lock_the_consultant_out(app, admin_user, db_session):
    attacker, consultant = app.test_client(), app.test_client()
    for _ in range(20):
        response = login_from(attacker, ATTACKER, password="guess")
        assert response.status_code == 200 and GENERIC in response.text
    # The attacker's network now waits: even the right password is refused there, with the same answer.
    response = login_from(attacker, ATTACKER)
    assert response.status_code == 200 and GENERIC in response.text
    assert attacker.get("/admin/").status_code == 302
    # The consultant, elsewhere, signs in at once.
    assert login_from(consultant, CONSULTANT).status_code == 303
    assert consultant.get("/admin/", environ_base={"REMOTE_ADDR": CONSULTANT}).status_code == 200
    rows = failure_rows(db_session)
    # Tries while the network waits are refused unchecked, so they do not stretch the wait either.
    assert set(rows) == {ATTACKER} and rows[ATTACKER].failures == 5


@pytest.mark.parametrize("attacker, same_network, other_network", [
    ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:3::1"),
    ("::ffff:203.0.113.7", "203.0.113.7", "203.0.113.8"),
])
def test_the_client_network_is_the_address_or_its_ipv6_64(app, admin_user, db_session, attacker, same_network,
                                                           other_network):
    client = app.test_client()
    for _ in range(5):
        login_from(client, attacker, password="guess")
    assert login_from(client, same_network).status_code == 200, "a new address in the same /64 walked round the lock"
    assert login_from(client, other_network).status_code == 303


def test_the_wait_grows_with_each_failure_past_five_up_to_fifteen_minutes(client, admin_user, db_session):
    waits = []
    for n in range(1, 11):
        before = utcnow()
        login(client, password="wrong password")
        row = failure_rows(db_session)["127.0.0.1"]
        assert row.failures == n
        if n < 5:
            assert row.locked_until is None, "locked before the fifth failure"
            continue
        waits.append(round((row.locked_until - before).total_seconds() / 60))
        row.locked_until = utcnow() - timedelta(seconds=1)  # time passes (moved rather than waited for)
        db_session.commit()
    assert waits == [1, 2, 4, 8, 15, 15]


def test_a_lock_lifts_and_the_right_password_clears_the_count(client, admin_user, db_session):
    for _ in range(5):
        login(client, password="wrong password")
    assert login(client).status_code == 200
    row = failure_rows(db_session)["127.0.0.1"]
    row.locked_until = utcnow() - timedelta(seconds=1)
    db_session.commit()
    assert login(client).status_code == 303
    assert failure_rows(db_session) == {}


def test_failures_a_day_old_start_a_fresh_count(client, admin_user, db_session):
    for _ in range(4):
        login(client, password="wrong password")
    row = failure_rows(db_session)["127.0.0.1"]
    row.last_at = utcnow() - timedelta(hours=25)
    db_session.commit()
    login(client, password="wrong password")
    row = failure_rows(db_session)["127.0.0.1"]
    assert row.failures == 1 and row.locked_until is None


def test_a_waiting_network_costs_the_same_hashing_as_any_attempt(client, admin_user, monkeypatch):
    import models.users
    from blueprints.admin import operations

    calls = []
    for module in (models.users, operations):
        real = module.check_password_hash
        monkeypatch.setattr(module, "check_password_hash", lambda h, p, real=real: calls.append(1) or real(h, p))
    for _ in range(5):
        login(client, password="wrong password")
    for email in (ADMIN_EMAIL, "nobody@example.com"):  # waiting, and unknown: one hash each
        calls.clear()
        assert GENERIC in login(client, email=email).text
        assert calls == [1], email


def test_failures_for_one_account_do_not_lock_another(client, admin_user, db_session):
    other = make_admin(email="other@example.com", password="another long password")
    for _ in range(6):
        login(client, password="wrong password")
    assert login(client, email="other@example.com", password="another long password").status_code == 303
    db_session.expire_all()
    assert not db_session.scalar(select(LoginFailure).where(LoginFailure.user_id == other.id))


def test_the_dashboard_shows_failed_sign_ins(app, admin_client, admin_user):
    attacker = app.test_client()
    for _ in range(3):
        login_from(attacker, "2001:db8:abcd:12::7", password="guess")
    for _ in range(2):
        login_from(attacker, ATTACKER, password="guess")
    page = admin_client.get("/admin/").text
    assert "Failed sign-ins" in page
    assert "5 wrong passwords from 2 networks" in page
    assert "2001:db8:abcd:12::/64" in page and ATTACKER in page


@pytest.mark.parametrize("target", [
    "//evil.example", "/\\evil.example", "\\\\evil.example", "http://evil.example/admin", "https://evil.example",
    "javascript:alert(1)", "evil.example", "/\t/evil.example", " //evil.example", "///evil.example",
])
def test_open_redirects_are_refused(client, admin_user, target):
    response = login(client, next=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/"


def test_local_next_is_followed(client, admin_user):
    response = client.get("/admin/enquiries?status=new")
    assert response.status_code == 302
    assert "/admin/login" in response.headers["Location"]
    form = client.get(response.headers["Location"]).text
    assert 'value="/admin/enquiries?status=new"' in form
    response = login(client, next="/admin/enquiries?status=new")
    assert response.headers["Location"] == "/admin/enquiries?status=new"


def test_login_starts_a_new_session(client, admin_user):
    with client.session_transaction() as session:
        session["planted"] = "attacker value"
    login(client)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.permanent


def test_logout_is_post_only_and_ends_copied_sessions(app, admin_client, admin_user, db_session):
    assert admin_client.get("/admin/logout").status_code == 405
    cookie = admin_client.get_cookie("session").value
    token = admin_user.session_token
    response = admin_client.post("/admin/logout")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/login?signed_out=1"
    db_session.expire_all()
    assert admin_user.session_token != token
    assert admin_client.get("/admin/").status_code == 302
    # Someone who copied the cookie before logout gets nothing either.
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    response = thief.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_session_expires_after_idle_time_and_refreshes_on_use(app, admin_client, monkeypatch):
    idle = app.permanent_session_lifetime
    real = TimestampSigner.get_timestamp
    offset = {"seconds": 0}
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: real(self) + offset["seconds"])
    offset["seconds"] = int(idle.total_seconds() * 0.8)
    assert admin_client.get("/admin/").status_code == 200  # activity refreshes the session
    offset["seconds"] = int(idle.total_seconds() * 1.6)
    assert admin_client.get("/admin/").status_code == 200  # 0.8 idle since the last request
    offset["seconds"] = int(idle.total_seconds() * 2.7)
    response = admin_client.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_session_lifetime_follows_setting(tmp_path, database_url, monkeypatch):
    from tests.conftest import make_app

    monkeypatch.setenv("SESSION_IDLE_MINUTES", "20")
    app = make_app(database_url, tmp_path)
    assert app.permanent_session_lifetime == timedelta(minutes=20)


def dummy_path(rule) -> str:
    values = {}
    for name, converter in rule._converters.items():
        if hasattr(converter, "items"):  # any(...)
            values[name] = sorted(converter.items)[0]
        else:
            values[name] = 1 if isinstance(converter, (IntegerConverter, FloatConverter)) else "x"
    return rule.build(values, append_unknown=False)[1]


def admin_rules(app):
    from blueprints.admin import PUBLIC_ENDPOINTS  # signing in, its code step, password links

    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin") and r.endpoint not in PUBLIC_ENDPOINTS]


def test_every_admin_route_refuses_anonymous_clients(app, client):
    rules = admin_rules(app)
    assert len(rules) >= 8
    for rule in rules:
        path = dummy_path(rule)
        for method in ("GET", "POST"):
            response = client.open(path, method=method, data={"status": "won", "body": "x"})
            if method not in rule.methods and response.status_code == 405:
                continue
            assert response.status_code == 302, f"{method} {path} gave {response.status_code}"
            assert "/admin/login" in response.headers["Location"], f"{method} {path}"
            assert b"@" not in response.data


def test_post_without_csrf_token_is_refused(app_config, app, admin_user):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    assert login(client).status_code == 400
    page = client.get("/admin/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    assert login(client, csrf_token=token).status_code == 303
    assert client.post("/admin/logout").status_code == 400
    assert client.get("/admin/").status_code == 200


def test_login_is_rate_limited_per_address(app_config, request):
    app_config.update(RATELIMIT_ENABLED=True, ADMIN_LOGIN_RATE_LIMIT="3/minute")
    app = request.getfixturevalue("app")
    with app.app_context():
        request.getfixturevalue("admin_user")
    client = app.test_client()
    for _ in range(3):
        assert login(client, password="wrong").status_code == 200
    refused = login(client)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert client.get("/admin/").status_code == 302  # the right password did not get through
    # GET of the form is not limited, and another address still gets to try.
    assert client.get("/admin/login").status_code == 200
    other = app.test_client()
    response = other.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
                          environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert response.status_code == 303


def test_cli_creates_an_admin_who_can_sign_in(runner, client, db_session):
    result = runner.invoke(args=["admin", "create", "New@Example.com", "--password", "a very long password"])
    assert result.exit_code == 0, result.output
    user = db_session.scalar(select(AdminUser).where(AdminUser.email == "new@example.com"))
    assert user is not None and user.check_password("a very long password")
    assert login(client, email="new@example.com", password="a very long password").status_code == 303
    short = runner.invoke(args=["admin", "create", "x@example.com", "--password", "short"])
    assert short.exit_code != 0
    assert db_session.scalar(select(AdminUser).where(AdminUser.email == "x@example.com")) is None


def test_cli_password_reset_ends_existing_sessions(runner, admin_client):
    result = runner.invoke(args=["admin", "create", ADMIN_EMAIL, "--password", "a brand new password"])
    assert result.exit_code == 0 and "Updated" in result.output
    assert admin_client.get("/admin/").status_code == 302
