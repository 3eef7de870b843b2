"""Every route in the URL map answers with the security headers (anonymous and signed in, http and https)."""
from __future__ import annotations

import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.hardening import populate, rules_with, urls_for_rule

HTTPS_SITE = "https://portico.example"


def csp_directives(value: str) -> dict[str, list[str]]:
    directives = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def check_headers(response, *, https: bool, where: str) -> None:
    h = response.headers
    csp = h.get("Content-Security-Policy")
    assert csp, f"{where}: no Content-Security-Policy"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, f"{where}: CSP allows inline/eval: {csp}"
    d = csp_directives(csp)
    assert d.get("default-src") in (["'self'"], ["'none'"]), f"{where}: default-src {d.get('default-src')}"
    assert d.get("object-src") == ["'none'"], where
    assert d.get("base-uri") in (["'none'"], ["'self'"]), where
    assert d.get("frame-ancestors") == ["'none'"], where
    # The pay-by-card page's button goes on to Stripe's own Checkout page (STRIPE_CHECKOUT_ORIGIN), and only it.
    allowed = (["'self'"], ["'self'", "https://checkout.stripe.com"]) if "(training.booking_pay)" in where else (["'self'"],)
    assert d.get("form-action") in allowed, where
    for directive in ("script-src", "style-src"):
        assert set(d.get(directive, ["'self'"])) <= {"'self'", "'none'"}, f"{where}: {directive} {d.get(directive)}"
    assert "*" not in csp.split(), where
    assert h.get("X-Content-Type-Options") == "nosniff", where
    allowed = {"strict-origin-when-cross-origin"}
    if response.request.path.startswith(("/bookings/", "/training/proposals/", "/training/private/", "/interest/")):
        allowed.add("same-origin")  # a secret in the address: stricter, still sends the Referer CSRF needs
    assert h.get("Referrer-Policy") in allowed, f"{where}: Referrer-Policy {h.get('Referrer-Policy')}"
    permissions = h.get("Permissions-Policy", "")
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in permissions, f"{where}: Permissions-Policy does not deny {feature}"
    assert "interest-cohort" not in permissions, "unknown feature names make Chromium log console errors"
    assert h.get("Cross-Origin-Opener-Policy") == "same-origin", where
    assert h.get("X-Frame-Options") == "DENY", where
    hsts = h.get("Strict-Transport-Security")
    if https:
        assert hsts and "includeSubDomains" in hsts, f"{where}: no HSTS over https"
        max_age = int(hsts.split("max-age=")[1].split(";")[0])
        assert max_age >= 15768000, f"{where}: HSTS max-age below six months"
    else:
        assert hsts is None, f"{where}: HSTS sent over plain http"
    assert h.get("X-Request-ID"), where
    for cookie in h.getlist("Set-Cookie"):
        check_cookie(cookie, https=https, where=where)
    if response.request.path.startswith("/admin"):
        assert "no-store" in h.get("Cache-Control", ""), f"{where}: admin page may be cached"
        assert "noindex" in h.get("X-Robots-Tag", ""), where
    if response.mimetype == "text/html":
        body = response.get_data(as_text=True)
        assert "<script>" not in body and " style=" not in body, f"{where}: inline script/style the CSP would block"


def check_cookie(cookie: str, *, https: bool, where: str) -> None:
    name = cookie.split("=", 1)[0]
    attributes = {part.strip().split("=", 1)[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    if attributes.get("max-age") == "Max-Age=0":
        return  # a deletion: no value to protect
    assert "httponly" in attributes, f"{where}: cookie {name} is not HttpOnly"
    assert attributes.get("samesite", "").lower() in ("samesite=lax", "samesite=strict"), f"{where}: cookie {name} SameSite"
    if https:
        assert "secure" in attributes, f"{where}: cookie {name} not Secure over https"
        assert name.startswith("__Host-") or "domain" not in attributes, where


@pytest.fixture
def world(app):
    return populate()


def sign_in(client) -> None:
    response = client.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code in (302, 303), f"admin login answered {response.status_code}"


def walk(client, app, known, *, https: bool, methods=("GET",), base_url: str | None = None) -> dict[int, int]:
    statuses: dict[int, int] = {}
    for method in methods:
        for rule in rules_with(app, method):
            for url in urls_for_rule(rule, known):
                response = client.open(url, method=method, base_url=base_url)
                where = f"{method} {url} ({rule.endpoint}) -> {response.status_code}"
                assert response.status_code < 500, where
                check_headers(response, https=https, where=where)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                response.close()
    return statuses


def test_every_get_route_sends_the_headers_anonymously(app, client, world):
    statuses = walk(client, app, world, https=False)
    assert statuses.get(200, 0) >= 15, statuses  # the walk reached real pages


def test_every_route_sends_the_headers_to_a_signed_in_admin(app, admin_client, world):
    statuses = walk(admin_client, app, world, https=False)
    admin_rules = [r for r in rules_with(app, "GET") if r.rule.startswith("/admin")]
    assert len(admin_rules) >= 5
    assert statuses.get(200, 0) >= 25, statuses  # public pages and the admin's own


def test_every_admin_route_sends_the_headers_to_anonymous_visitors(app, client, world):
    from blueprints.admin import PUBLIC_ENDPOINTS  # signing in, its code step, the password links: open to all

    for method in ("GET", "POST"):
        for rule in rules_with(app, method):
            if not rule.rule.startswith("/admin"):
                continue
            for url in urls_for_rule(rule, world):
                response = client.open(url, method=method)
                where = f"anonymous {method} {url}"
                check_headers(response, https=False, where=where)
                if rule.endpoint not in PUBLIC_ENDPOINTS:
                    assert response.status_code in (302, 303, 404, 405), where
                    if response.status_code in (302, 303):
                        assert response.headers["Location"].startswith("/admin/login"), where


def test_every_post_route_sends_the_headers(app, client, world):
    """POSTs with an empty body: rejected or handled, never a 500, always the headers."""
    walk(client, app, world, https=False, methods=("POST",))


@pytest.fixture
def https_app(database_url, tmp_path, postgres):
    from tests.conftest import running_app

    yield from running_app(database_url, tmp_path, {"SITE_URL": HTTPS_SITE, "SESSION_COOKIE_SECURE": True,
                                                   "SESSION_COOKIE_NAME": "__Host-session",
                                                   "REMEMBER_COOKIE_SECURE": True}, postgres)


def test_https_site_adds_hsts_and_secure_cookies(https_app):
    client = https_app.test_client()
    known = {"token": ["nope"], "slug": ["docker"]}
    walk(client, https_app, known, https=True, base_url=HTTPS_SITE)
    with https_app.test_request_context(base_url=HTTPS_SITE):
        from flask import session

        session["probe"] = 1
        response = https_app.make_response("ok")
        https_app.session_interface.save_session(https_app, session, response)
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies and cookies[0].startswith("__Host-session=")
    check_cookie(cookies[0], https=True, where="session cookie over https")


def test_production_settings_make_cookies_secure_over_https(monkeypatch, tmp_path):
    from config import load_settings

    monkeypatch.setenv("SITE_URL", HTTPS_SITE)
    settings = load_settings(tmp_path, "production")
    assert settings["SESSION_COOKIE_SECURE"] and settings["REMEMBER_COOKIE_SECURE"]
    assert settings["SESSION_COOKIE_NAME"] == "__Host-session"
    assert settings["SESSION_COOKIE_HTTPONLY"] and settings["REMEMBER_COOKIE_HTTPONLY"]
    assert settings["SESSION_COOKIE_SAMESITE"] == "Lax" and settings["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    monkeypatch.setenv("SITE_URL", "http://127.0.0.1:5000")
    assert load_settings(tmp_path, "production")["SESSION_COOKIE_SECURE"] is False


def test_flash_cookie_on_plain_http_is_httponly_and_lax(app, client):
    """Any cookie the site sets (here: a login attempt's flash) has the flags."""
    response = client.post("/admin/login", data={"email": "nobody@example.com", "password": "wrong"})
    for cookie in response.headers.getlist("Set-Cookie"):
        check_cookie(cookie, https=False, where="failed login")


@pytest.mark.parametrize("status", [400, 404, 405, 413])
def test_error_responses_carry_the_headers(app, client, status):
    if status == 400:
        response = client.get("/", headers={"Host": "evil.example"})
    elif status == 404:
        response = client.get("/no/such/page")
    elif status == 405:
        response = client.delete("/")
    else:
        response = client.post("/contact", data={"message": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)})
    assert response.status_code == status
    check_headers(response, https=False, where=f"error {status}")


def test_static_files_carry_the_headers(app, client):
    for url in ("/static/css/site.css", "/favicon.ico", "/static/no-such.css"):
        response = client.get(url)
        assert response.status_code in (200, 404)
        check_headers(response, https=False, where=url)
        response.close()


def test_an_https_site_reached_over_http_redirects_to_https(https_app):
    client = https_app.test_client()
    page = client.get("/blog/?page=2&q=z%C3%B6e", base_url="http://portico.example")
    assert page.status_code == 301
    assert page.headers["Location"] == "https://portico.example/blog/?page=2&q=z%C3%B6e"
    form = client.post("/contact", data={"name": "Zoë"}, base_url="http://portico.example")
    assert form.status_code == 308  # the browser repeats the POST over https, body and all
    assert form.headers["Location"] == "https://portico.example/contact"
    assert client.get("/healthz", base_url="http://portico.example").status_code == 200  # health checks speak http
    assert client.get("/privacy", base_url=HTTPS_SITE).status_code == 200


def test_a_plain_http_site_does_not_redirect(app, client):
    assert client.get("/privacy").status_code == 200
