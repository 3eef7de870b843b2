"""Response headers and host checks applied to every request.

Held to the Mozilla HTTP Observatory's rules: a CSP with no unsafe-inline or
unsafe-eval that forbids framing, plugins and <base>, nosniff, a referrer
policy, HSTS over HTTPS, and cookies that are HttpOnly, SameSite and Secure.
"""
from __future__ import annotations

from urllib.parse import unquote_to_bytes, urlsplit

from flask import Flask, abort, current_app, redirect, request

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# Only features browsers recognise: an unknown name makes Chromium log a console error.
PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), browsing-topics=(), camera=(), display-capture=(), fullscreen=(), "
    "geolocation=(), gyroscope=(), hid=(), magnetometer=(), microphone=(), midi=(), payment=(), "
    "publickey-credentials-get=(), screen-wake-lock=(), serial=(), usb=(), xr-spatial-tracking=()"
)
HSTS = "max-age=63072000; includeSubDomains"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}
# Pages that show one person's data: never cached, never indexed.
PRIVATE_PREFIXES = ("/admin", "/bookings/")


def allowed_hosts() -> set[str]:
    """ALLOWED_HOSTS, the host of SITE_URL, and loopback outside production."""
    config = current_app.config
    hosts = {h.lower() for h in config["ALLOWED_HOSTS"]} | {config["SITE_HOST"]}
    if config["APP_ENV"] != "production":
        hosts |= LOOPBACK_HOSTS
    return hosts


def host_name(host: str) -> str:
    """The host without its port: `example.com:8000` -> `example.com`, `[::1]:5000` -> `[::1]`."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0]


def check_host(app: Flask) -> None:
    """Refuse requests for hosts the site does not serve (Host header attacks, stray DNS)."""
    if request.path == "/healthz":  # load balancers and container health checks use an internal name
        return
    if "*" in app.config["ALLOWED_HOSTS"]:
        return
    if host_name(request.host).lower() not in allowed_hosts():
        abort(400)


def redirect_to_https(app: Flask):
    """An https site reached over plain http (no proxy in front that redirects) sends the visitor to https itself.

    301 for GET and HEAD; 308 for anything else, so a form POST is repeated as a POST, not turned into a GET.
    /healthz answers over http: health checks call the process directly. The target is SITE_URL's origin.
    """
    if request.scheme != "http" or not app.config["SITE_URL"].startswith("https://") or request.path == "/healthz":
        return None
    target = urlsplit(request.url)._replace(scheme="https", netloc=urlsplit(app.config["SITE_URL"]).netloc)
    return redirect(target.geturl(), 301 if request.method in ("GET", "HEAD") else 308)


def security_headers(https: bool) -> dict[str, str]:
    """The headers every response carries: pages and errors here, static files in web/static_build.py."""
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Permissions-Policy": PERMISSIONS_POLICY,
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }
    if https:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def apply_security_headers(app: Flask, response):
    """Every response, errors included."""
    headers = response.headers
    for name, value in security_headers(app.config["SITE_URL"].startswith("https://")).items():
        headers.setdefault(name, value)
    if request.path.startswith(PRIVATE_PREFIXES):
        headers["Cache-Control"] = "no-store"
        headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --- form bodies ------------------------------------------------------------------------------

FORM_MIMETYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}
# Endpoints whose forms take file uploads: the editors' image upload (blueprints/admin/images.py), whose request
# may also be as large as IMAGE_MAX_BYTES allows (web/requests.py). Anywhere else a file part is a crafted
# request (400), and a file a view never reads would still be spooled to disk.
UPLOAD_ENDPOINTS: frozenset[str] = frozenset(
    {"admin.post_image", "admin.service_image", "admin.course_image", "admin.case_study_image"})
# Endpoints that take a JSON body from a machine, not a form: Stripe's signed webhook (the view verifies it).
JSON_ENDPOINTS: frozenset[str] = frozenset({"payments.stripe_webhook"})


def check_form_body() -> None:
    """Every POST with a body must be a form in UTF-8 text, else 400 (never a 500 further down).

    Werkzeug quietly drops an urlencoded body that is not UTF-8 and keeps `%FF` as text;
    PostgreSQL refuses NUL characters in text. So the raw body is checked here, in one place,
    before anything (the CSRF check first of all) parses the form. The body stays cached for it.
    """
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    if not request.content_length and not request.headers.get("Transfer-Encoding"):
        return
    if request.endpoint in JSON_ENDPOINTS and request.mimetype == "application/json":
        try:
            request.get_data(cache=True).decode("utf-8")
        except UnicodeDecodeError:
            abort(400)
        return
    if request.mimetype not in FORM_MIMETYPES:
        abort(400)
    if request.mimetype == "application/x-www-form-urlencoded":
        values = []
        for pair in request.get_data(cache=True).split(b"&"):
            for part in pair.split(b"=", 1):
                try:
                    values.append(unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8"))
                except UnicodeDecodeError:
                    abort(400)
    else:  # multipart: Werkzeug decodes each part with errors="replace"
        values = [text for item in request.form.items(multi=True) for text in item]
        if request.files and request.endpoint not in UPLOAD_ENDPOINTS:
            abort(400)
    if any("\x00" in value or "\ufffd" in value for value in values):
        abort(400)


def register_form_checks(app: Flask) -> None:
    """Run check_form_body before the CSRF check, the first thing that parses a form."""
    funcs = app.before_request_funcs.setdefault(None, [])
    index = next((i for i, f in enumerate(funcs) if f.__name__ == "csrf_protect"), len(funcs))
    funcs.insert(index, check_form_body)


# Every POST in a blueprint gets one of these unless its view declares its own (stricter) limit:
# a route added later is never unlimited. Signed-in actions get more room.
DEFAULT_POST_LIMIT = "30 per minute"
ADMIN_POST_LIMIT = "120 per minute"


def register_rate_limits(app: Flask) -> None:
    """Blueprint-wide POST limits; tests/web/test_security_limits.py checks every POST route has a limit."""
    from extensions import limiter

    for name, blueprint in app.blueprints.items():
        limit = ADMIN_POST_LIMIT if name == "admin" else DEFAULT_POST_LIMIT
        limiter.limit(limit, methods=["POST"])(blueprint)


def init_app(app: Flask) -> None:
    app.after_request(lambda response: apply_security_headers(app, response))
    register_form_checks(app)
    register_rate_limits(app)
