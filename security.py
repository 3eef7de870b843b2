"""Response headers and host checks applied to every request."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, request

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), fullscreen=(), geolocation=(), "
    "gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), usb=(), interest-cohort=()"
)
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]"}


def allowed_hosts(app: Flask) -> set[str]:
    hosts = set(app.config["ALLOWED_HOSTS"])
    site_host = urlsplit(app.config["SITE_URL"]).hostname
    if site_host:
        hosts.add(site_host)
    if app.config["APP_ENV"] != "production":
        hosts |= LOOPBACK_HOSTS
    return hosts


def check_host(app: Flask) -> None:
    """Refuse requests for hosts the site does not serve (Host header attacks, stray DNS)."""
    if request.path == "/healthz":  # load balancers and container health checks use an internal name
        return
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    if "*" in app.config["ALLOWED_HOSTS"]:
        return
    if host.lower() not in allowed_hosts(app):
        abort(400)


def apply_security_headers(app: Flask, response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if app.config["SITE_URL"].startswith("https://"):
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if request.path.startswith("/admin"):
        headers["Cache-Control"] = "no-store"
        headers["X-Robots-Tag"] = "noindex, nofollow"
    return response
