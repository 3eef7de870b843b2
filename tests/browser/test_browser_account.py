"""Account security in Chromium at 390 and 1280 px: two-factor set-up with its QR code, signing in with a code,
the sessions list; axe and the HTML checker clean. Each test has an admin of its own (the shared one keeps
signing in with a password only). Screenshots: reports/screenshots/account-<page>-<width>.png.
"""
from __future__ import annotations

import re
import uuid

import pyotp
import pytest

from tests.browser.helpers import WIDTHS, audit_page, new_context

pytestmark = pytest.mark.browser

SLICE = "account"
PASSWORD = "ein sehr langes Passwort"


@pytest.fixture(params=list(WIDTHS))
def width(request):
    return request.param


@pytest.fixture
def owner(live_server):
    from tests.factories import make_admin

    email = f"zoë-{uuid.uuid4().hex[:6]}@exämple.com"
    with live_server.app.app_context():
        make_admin(email=email, password=PASSWORD)
        from extensions import db

        db.session.remove()
    return email


@pytest.fixture
def clock(monkeypatch):
    """The codes' clock of the live server (same process): moved a step on so a code is never a reused one."""
    from blueprints.admin import account_operations as ops

    state = {"now": ops.clock()}
    monkeypatch.setattr(ops, "clock", lambda: state["now"])
    return state


def check_page(page, axe, vnu, name: str, width: str) -> None:
    audit_page(page, axe, vnu, name, width, SLICE)


def password_step(page, email: str) -> None:
    page.goto("/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_two_factor_set_up_with_a_qr_code_then_sign_in_with_a_code(browser, live_server, owner, clock, axe, vnu,
                                                                    width):
    context = new_context(browser, live_server, width)
    page = context.new_page()
    password_step(page, owner)
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Account").click()
    assert page.get_by_role("heading", name="Account", level=1).is_visible()
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    qr = page.get_by_role("img", name="QR code of the authenticator setup key")
    assert qr.is_visible() and qr.bounding_box()["width"] >= 150
    check_page(page, axe, vnu, "2fa-setup", width)
    secret = page.locator("code.totp-secret").inner_text()
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).at(clock["now"]))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    assert page.get_by_role("heading", name="Your recovery codes").is_visible()
    assert page.locator(".recovery-codes li").count() == 10
    check_page(page, axe, vnu, "recovery-codes", width)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()

    password_step(page, owner)
    assert page.url.endswith("/admin/login/code")
    check_page(page, axe, vnu, "login-code", width)
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(clock["now"]))  # the one used to confirm: refused
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_text("already used").is_visible()
    check_page(page, axe, vnu, "login-code-refused", width)
    clock["now"] += 30
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(clock["now"]))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.url.endswith("/admin/"), page.url
    context.close()


def test_the_sessions_list_and_signing_out_everywhere_else(browser, live_server, owner, axe, vnu, width):
    phone = new_context(browser, live_server, "phone")
    phone_page = phone.new_page()
    password_step(phone_page, owner)
    context = new_context(browser, live_server, width)
    page = context.new_page()
    password_step(page, owner)
    page.goto("/admin/account")
    rows = page.get_by_role("region", name="Where you are signed in").locator("tbody tr")
    assert rows.count() == 2
    assert "(this one)" in rows.first.inner_text() + rows.last.inner_text()
    assert re.search(r"127\.0\.0\.0/24", rows.first.inner_text())
    check_page(page, axe, vnu, "account", width)
    page.get_by_role("button", name="Sign out everywhere else").click()
    assert page.get_by_text("Signed out everywhere else (1 session)").is_visible()
    assert rows.count() == 1
    phone_page.goto("/admin/")
    assert "/admin/login" in phone_page.url, "the other browser is signed out at its next request"
    check_page(page, axe, vnu, "account-after", width)
    phone.close()
    context.close()


def test_forgot_password_page(browser, live_server, axe, vnu, width):
    context = new_context(browser, live_server, width)
    page = context.new_page()
    page.goto("/admin/login")
    page.get_by_role("link", name="Forgot your password?").click()
    check_page(page, axe, vnu, "forgot", width)
    page.get_by_label("Email").fill("niemand@exämple.com")
    page.get_by_role("button", name="Email me a link").click()
    assert page.get_by_text("If that address belongs to an admin account").is_visible()
    check_page(page, axe, vnu, "forgot-sent", width)
    context.close()
