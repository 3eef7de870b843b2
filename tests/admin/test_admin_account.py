"""Account security: emailed password links, TOTP two-factor sign-in with real codes, sessions, a second admin."""
from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from blueprints.admin import account_operations as ops
from extensions import db
from mail import delivery
from models import AdminSession, AdminToken, AdminUser, AuditLog, OutboxMessage, RecoveryCode, utcnow
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.factories import make_admin

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")


def signed_in(app, client) -> bool:
    response = client.get("/admin/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    return False


def sign_in(app, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, ua=FIREFOX, addr="203.0.113.77"):
    client = app.test_client()
    # Every later request from the same browser: a session is bound to its address and user agent.
    client.environ_base.update({"REMOTE_ADDR": addr, "HTTP_USER_AGENT": ua})
    response = client.post("/admin/login", data={"email": email, "password": password})
    return client, response


@pytest.fixture
def clock(monkeypatch):
    """The codes' clock, at the start of a 30-second step; `clock.step(n)` moves it n steps."""
    state = {"now": (int(ops.clock()) // 30) * 30 + 1.0}
    monkeypatch.setattr(ops, "clock", lambda: state["now"])

    class Clock:
        @property
        def now(self):
            return state["now"]

        def step(self, n=1):
            state["now"] += 30 * n

    return Clock()


def enable_2fa(client, clock) -> tuple[str, list[str]]:
    """Through the pages, as the consultant does: start, read the secret, confirm with a real code."""
    assert client.post("/admin/account/2fa/start").status_code == 303
    page = client.get("/admin/account/2fa").get_data(as_text=True)
    secret = re.search(r'<code class="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    assert "<svg" in page and 'role="img"' in page and "otpauth" not in page  # the QR code is drawn, not linked
    response = client.post("/admin/account/2fa/confirm", data={"code": pyotp.TOTP(secret).at(clock.now)})
    assert response.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", response.get_data(as_text=True))
    return secret, codes


# --- password reset by email -----------------------------------------------------------------------

def reset_link(smtp_server) -> str:
    delivery.deliver_pending()
    [message] = [m for m in smtp_server.messages if "new password" in m["Subject"]]
    return re.search(r"(http\S+/admin/login/reset/\S+)", message.get_body(("plain",)).get_content()).group(1)


def test_a_reset_link_by_email_works_once_and_signs_out_everywhere(mail_app, smtp_server):
    make_admin(email="jörg@bücher.example", password="the old password")
    laptop, _ = sign_in(mail_app, "jörg@bücher.example", "the old password")
    assert signed_in(mail_app, laptop)
    visitor = mail_app.test_client()
    page = visitor.get("/admin/login").get_data(as_text=True)
    assert 'href="/admin/login/forgot"' in page and "Forgot your password?" in page
    response = visitor.post("/admin/login/forgot", data={"email": "JÖRG@bücher.example"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/login/forgot?sent=1")
    link = reset_link(smtp_server)
    path = link.split("127.0.0.1", 1)[-1].split(":", 1)[-1].lstrip("0123456789")
    assert visitor.get(path).status_code == 200
    assert db.session.scalar(select(AdminToken.token_hash)) not in link  # only a hash is stored
    assert link.rsplit("/", 1)[1] not in str(db.session.scalars(select(AdminToken.token_hash)).all())
    short = visitor.post(path, data={"password": "short", "confirm": "short"})
    assert short.status_code == 200 and "10 to 200 characters" in short.get_data(as_text=True)
    done = visitor.post(path, data={"password": "ein neues Passwort ✓", "confirm": "ein neues Passwort ✓"})
    assert done.status_code == 303 and "password_set=1" in done.headers["Location"]
    assert not signed_in(mail_app, laptop), "setting a new password ends the other sessions"
    again = visitor.post(path, data={"password": "yet another one!", "confirm": "yet another one!"})
    assert again.status_code == 404 and visitor.get(path).status_code == 404, "the link works once"
    _, response = sign_in(mail_app, "jörg@bücher.example", "the old password")
    assert response.status_code == 200  # the old password is refused
    client, response = sign_in(mail_app, "jörg@bücher.example", "ein neues Passwort ✓")
    assert response.status_code == 303 and signed_in(mail_app, client)
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "account.password_reset")) == 1


def test_the_answer_is_the_same_whether_or_not_the_address_exists(mail_app, smtp_server):
    make_admin(email="owner@example.com")
    answers = []
    for email in ("owner@example.com", "nobody@example.com"):
        response = mail_app.test_client().post("/admin/login/forgot", data={"email": email})
        page = mail_app.test_client().get(response.headers["Location"])
        answers.append((response.status_code, response.headers["Location"], page.get_data(as_text=True)))
    assert answers[0] == answers[1]
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1  # only the real one
    delivery.deliver_pending()
    assert [m["To"].addresses[0].addr_spec for m in smtp_server.messages] == ["owner@example.com"]


def test_a_link_expires(app, admin_user):
    token = AdminToken.issue(admin_user, AdminToken.RESET, timedelta(minutes=30), now=utcnow() - timedelta(minutes=31))
    db.session.commit()
    assert app.test_client().get(f"/admin/login/reset/{token}").status_code == 404
    assert app.test_client().get("/admin/login/reset/not-a-real-token").status_code == 404


def test_a_new_link_replaces_the_earlier_one(app, admin_user):
    first = AdminToken.issue(admin_user, AdminToken.RESET, timedelta(minutes=30))
    second = AdminToken.issue(admin_user, AdminToken.RESET, timedelta(minutes=30))
    db.session.commit()
    assert app.test_client().get(f"/admin/login/reset/{first}").status_code == 404
    assert app.test_client().get(f"/admin/login/reset/{second}").status_code == 200


def test_reset_requests_are_rate_limited(app_config, request):
    from tests.conftest import make_app

    app = make_app(request.getfixturevalue("database_url"), request.getfixturevalue("tmp_path"),
                   **{**app_config, "RATELIMIT_ENABLED": True, "ADMIN_RESET_RATE_LIMIT": "3/hour"})
    with app.app_context():
        db.create_all()
        client = app.test_client()
        statuses = [client.post("/admin/login/forgot", data={"email": f"x{n}@example.com"}).status_code
                    for n in range(4)]
        db.session.remove()
        db.engine.dispose()
    assert statuses == [303, 303, 303, 429]


# --- two-factor sign-in with real codes -----------------------------------------------------------

def test_enrolment_shows_a_qr_code_and_recovery_codes_once(app, admin_client, admin_user, clock):
    secret, codes = enable_2fa(admin_client, clock)
    assert len(codes) == 10 and len(set(codes)) == 10
    user = db.session.get(AdminUser, admin_user.id)
    db.session.refresh(user)
    assert user.two_factor_enabled and user.totp_secret == secret and user.totp_pending_secret is None
    stored = db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
    assert len(stored) == 10 and not any(c.replace("-", "") in stored for c in codes)  # hashes only
    page = admin_client.get("/admin/account/2fa").get_data(as_text=True)
    assert not any(c in page for c in codes) and secret not in page, "shown once"
    assert "10 recovery codes left" in admin_client.get("/admin/account").get_data(as_text=True)


def test_a_wrong_code_does_not_turn_it_on(app, admin_client, admin_user, clock):
    admin_client.post("/admin/account/2fa/start")
    response = admin_client.post("/admin/account/2fa/confirm", data={"code": "000000"})
    assert response.status_code == 422 and "not right" in response.get_data(as_text=True)
    db.session.refresh(admin_user)
    assert not admin_user.two_factor_enabled


def test_sign_in_asks_for_a_code_and_a_reused_code_is_refused(app, admin_client, admin_user, clock):
    secret, _ = enable_2fa(admin_client, clock)
    totp = pyotp.TOTP(secret)
    clock.step()
    client, response = sign_in(app)
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/login/code")
    assert not signed_in(app, client), "a right password alone is not signed in"
    client.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    code = totp.at(clock.now)
    response = client.post("/admin/login/code", data={"code": code})
    assert response.status_code == 303 and signed_in(app, client)
    # The same code again (same 30-second step), from another browser that knows the password: refused.
    thief, _ = sign_in(app)
    response = thief.post("/admin/login/code", data={"code": code})
    assert response.status_code == 200 and "already used" in response.get_data(as_text=True)
    assert not signed_in(app, thief)
    clock.step()
    thief.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert thief.post("/admin/login/code", data={"code": totp.at(clock.now)}).status_code == 303
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "admin.login")
                               .order_by(AuditLog.id.desc())).first()
    assert entry.detail == {"second_factor": "totp"}


def test_the_previous_steps_code_is_accepted_once_but_not_older_ones(app, admin_client, clock):
    secret, _ = enable_2fa(admin_client, clock)
    totp = pyotp.TOTP(secret)
    clock.step(3)
    client, _ = sign_in(app)
    two_back = totp.at(clock.now - 60)
    assert client.post("/admin/login/code", data={"code": two_back}).status_code == 200
    previous = totp.at(clock.now - 30)  # typed as it rolled over: allowed, once
    assert client.post("/admin/login/code", data={"code": previous}).status_code == 303
    other, _ = sign_in(app)
    assert other.post("/admin/login/code", data={"code": previous}).status_code == 200
    # The current step is later than the one used: it works.
    assert other.post("/admin/login/code", data={"code": totp.at(clock.now)}).status_code == 303


def test_two_requests_with_one_code_let_only_one_in(app, admin_client, admin_user, clock):
    secret, _ = enable_2fa(admin_client, clock)
    clock.step()
    user = db.session.get(AdminUser, admin_user.id)
    db.session.refresh(user)
    code = pyotp.TOTP(secret).at(clock.now)
    assert ops.use_totp(user, code) is True
    stale = AdminUser(id=user.id, totp_secret=user.totp_secret, totp_enabled_at=user.totp_enabled_at,
                      totp_last_step=None)  # a second request that read the row before the first wrote it
    assert ops.use_totp(stale, code) is False
    db.session.rollback()


def test_a_recovery_code_signs_in_once(app, admin_client, clock):
    _, codes = enable_2fa(admin_client, clock)
    client, _ = sign_in(app)
    response = client.post("/admin/login/code", data={"code": codes[3].upper()})
    assert response.status_code == 303
    assert "9 left" in client.get("/admin/").get_data(as_text=True)  # signed in, and told how many are left
    other, _ = sign_in(app)
    assert other.post("/admin/login/code", data={"code": codes[3]}).status_code == 200
    assert not signed_in(app, other)


def test_five_wrong_codes_start_the_sign_in_again(app, admin_client, clock):
    enable_2fa(admin_client, clock)
    client, _ = sign_in(app)
    for _ in range(4):
        assert client.post("/admin/login/code", data={"code": "123456"}).status_code == 200
    response = client.post("/admin/login/code", data={"code": "123456"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/login")
    assert client.get("/admin/login/code").status_code == 303


def test_new_recovery_codes_replace_the_old_ones(app, admin_client, clock):
    _, old = enable_2fa(admin_client, clock)
    assert admin_client.post("/admin/account/2fa/recovery-codes",
                             data={"codes-password": "wrong"}).status_code == 422
    response = admin_client.post("/admin/account/2fa/recovery-codes", data={"codes-password": ADMIN_PASSWORD})
    new = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", response.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    client, _ = sign_in(app)
    assert client.post("/admin/login/code", data={"code": old[0]}).status_code == 200
    assert client.post("/admin/login/code", data={"code": new[0]}).status_code == 303


def test_turning_it_off_needs_the_password_and_a_code(app, admin_client, admin_user, clock):
    secret, _ = enable_2fa(admin_client, clock)
    clock.step()
    code = pyotp.TOTP(secret).at(clock.now)
    assert admin_client.post("/admin/account/2fa/disable",
                             data={"disable-password": "wrong", "disable-code": code}).status_code == 422
    assert admin_client.post("/admin/account/2fa/disable",
                             data={"disable-password": ADMIN_PASSWORD, "disable-code": "999999"}).status_code == 422
    response = admin_client.post("/admin/account/2fa/disable",
                                 data={"disable-password": ADMIN_PASSWORD, "disable-code": code})
    assert response.status_code == 303
    db.session.refresh(admin_user)
    assert not admin_user.two_factor_enabled
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 0
    _, response = sign_in(app)
    assert response.headers["Location"].endswith("/admin/")


def test_moving_to_a_new_app_keeps_the_old_one_until_the_new_one_is_confirmed(app, admin_client, clock):
    old_secret, _ = enable_2fa(admin_client, clock)
    admin_client.post("/admin/account/2fa/start")
    page = admin_client.get("/admin/account/2fa").get_data(as_text=True)
    new_secret = re.search(r'<code class="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    assert new_secret != old_secret
    clock.step()
    client, _ = sign_in(app)
    assert client.post("/admin/login/code", data={"code": pyotp.TOTP(old_secret).at(clock.now)}).status_code == 303
    clock.step()
    assert admin_client.post("/admin/account/2fa/confirm",
                             data={"code": pyotp.TOTP(new_secret).at(clock.now)}).status_code == 303
    clock.step()
    other, _ = sign_in(app)
    assert other.post("/admin/login/code", data={"code": pyotp.TOTP(old_secret).at(clock.now)}).status_code == 200
    assert other.post("/admin/login/code", data={"code": pyotp.TOTP(new_secret).at(clock.now)}).status_code == 303


def test_cli_reset_2fa_for_a_locked_out_owner(app, runner, admin_client, admin_user, clock):
    enable_2fa(admin_client, clock)
    result = runner.invoke(args=["admin", "reset-2fa", ADMIN_EMAIL.upper()])
    assert result.exit_code == 0, result.output
    assert "turned off" in result.output
    assert not signed_in(app, admin_client), "every session of the account ends"
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "account.2fa_reset"))
    assert entry is not None and entry.detail["email"] == ADMIN_EMAIL and entry.who == "system"
    _, response = sign_in(app)
    assert response.headers["Location"].endswith("/admin/")
    assert runner.invoke(args=["admin", "reset-2fa", "nobody@example.com"]).exit_code != 0


# --- sessions ---------------------------------------------------------------------------------------

def test_the_account_page_lists_sessions_and_signs_out_everywhere_else(app, admin_user):
    laptop, _ = sign_in(app, ua=FIREFOX, addr="203.0.113.77")
    phone, _ = sign_in(app, ua=IPHONE, addr="2001:db8:1234:5678::9")
    page = laptop.get("/admin/account").get_data(as_text=True)
    assert "Firefox on Linux" in page and "Safari on iPhone" in page
    assert "203.0.113.0/24" in page and "2001:db8:1234::/48" in page
    assert "203.0.113.77" not in page, "addresses are shown truncated"
    assert re.search(r"Firefox on Linux <strong>\(this one\)</strong>", page)
    assert 'href="/admin/account"' in page and "Sign out" in page
    response = laptop.post("/admin/account/sessions/end-others")
    assert response.status_code == 303
    assert not signed_in(app, phone), "the other session is signed out at its next request"
    assert signed_in(app, laptop)
    assert "Safari on iPhone" not in laptop.get("/admin/account").get_data(as_text=True)
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "account.sessions_end"))
    assert entry.detail == {"ended": 1} and entry.actor_email == ADMIN_EMAIL


def test_each_sign_in_has_its_own_row_and_sign_out_ends_them(app, admin_user):
    first, _ = sign_in(app)
    second, _ = sign_in(app)
    assert db.session.scalar(select(func.count()).select_from(AdminSession)
                             .where(AdminSession.ended_at.is_(None))) == 2
    first.post("/admin/logout")
    assert db.session.scalar(select(func.count()).select_from(AdminSession)
                             .where(AdminSession.ended_at.is_(None))) == 0
    assert not signed_in(app, second)


def test_a_session_without_its_row_is_signed_out(app, admin_client):
    with admin_client.session_transaction() as session:
        session["admin_session"] = "forged"
    assert not signed_in(app, admin_client)


# --- a second admin ---------------------------------------------------------------------------------

def test_inviting_a_second_admin_who_acts_under_their_own_name(mail_app, smtp_server):
    make_admin(email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
    owner, _ = sign_in(mail_app)
    response = owner.post("/admin/account/admins/invite", data={"email": "Фёдор@пример.рф"})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert owner.post("/admin/account/admins/invite", data={"email": "фёдор@пример.рф"}).status_code == 422
    delivery.deliver_pending()
    [message] = [m for m in smtp_server.messages if "invited" in m["Subject"]]
    link = re.search(r"(http\S+/admin/login/reset/\S+)", message.get_body(("plain",)).get_content()).group(1)
    path = "/admin/login/reset/" + link.rsplit("/", 1)[1]
    visitor = mail_app.test_client()
    assert "Choose your password" in visitor.get(path).get_data(as_text=True)
    assert visitor.post(path, data={"password": "пароль достаточно длинный",
                                    "confirm": "пароль достаточно длинный"}).status_code == 303
    second, response = sign_in(mail_app, "фёдор@пример.рф", "пароль достаточно длинный")
    assert response.status_code == 303
    second.post("/admin/account/sessions/end-others")
    audit = owner.get("/admin/audit").get_data(as_text=True)
    assert "фёдор@пример.рф" in audit and ADMIN_EMAIL in audit
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "account.sessions_end"))
    assert entry.actor_email == "фёдор@пример.рф"
    invite = db.session.scalar(select(AuditLog).where(AuditLog.action == "account.admin_invite"))
    assert invite.actor_email == ADMIN_EMAIL


def test_removing_an_admin_asks_first_and_never_yourself_or_the_last(app, admin_client, admin_user):
    other = make_admin(email="zweite@example.com")
    other_id = other.id
    page = admin_client.get("/admin/account").get_data(as_text=True)
    assert f"/admin/account/admins/{other.id}/remove" in page
    assert f"/admin/account/admins/{admin_user.id}/remove" not in page
    ask = admin_client.get(f"/admin/account/admins/{other.id}/remove")
    assert ask.status_code == 200 and "Remove the admin zweite@example.com?" in ask.get_data(as_text=True)
    assert admin_client.post(f"/admin/account/admins/{other.id}/remove").status_code == 200  # no confirm=1 yet
    response = admin_client.post(f"/admin/account/admins/{other.id}/remove", data={"confirm": "1"})
    assert response.status_code == 303
    db.session.expunge_all()
    assert db.session.get(AdminUser, other_id) is None
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "account.admin_remove")).detail == {
        "email": "zweite@example.com"}
    me = db.session.scalar(select(AdminUser).where(AdminUser.email == ADMIN_EMAIL))
    response = admin_client.post(f"/admin/account/admins/{me.id}/remove", data={"confirm": "1"})
    assert response.status_code == 303 and db.session.get(AdminUser, me.id) is not None
    assert ops.can_remove(AdminUser(id=999, email="x@example.com"), me) == "The last admin account cannot be removed."


def test_a_removed_admin_is_signed_out(app, admin_client, admin_user):
    make_admin(email="leaving@example.com", password="a long test password")
    leaving, _ = sign_in(app, "leaving@example.com", "a long test password")
    assert signed_in(app, leaving)
    user_id = db.session.scalar(select(AdminUser.id).where(AdminUser.email == "leaving@example.com"))
    admin_client.post(f"/admin/account/admins/{user_id}/remove", data={"confirm": "1"})
    assert not signed_in(app, leaving)
