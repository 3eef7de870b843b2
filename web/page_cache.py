"""A render cache for anonymous visitors: each public page is rendered once per process per content version.

How it stays correct with many processes: an entry is served only while the content version it
was rendered under is still current (models/content_version.py). Every transaction that writes
what public pages show bumps that version in the database, which every process shares; it also
carries the next scheduled instant (a post's publication, a session's start). A process re-reads
it at most every PAGE_CACHE_CHECK_SECONDS, at once after it commits a change itself, and at once
when the scheduled instant it last saw has come, so a change made anywhere shows everywhere within
that interval and a scheduled post appears on time. Entries also expire after PAGE_CACHE_SECONDS
(0 turns the cache off): the safety net for writes made outside the app. Both are set in config.py.

What is cached: the final response (after every after_request hook: ETag and gzip from
http_caching, security headers) to a GET, without a session or remember-me cookie, of an endpoint
in CACHEABLE, with no query string but `?page=`, that `http_caching.sharing` finds the same for
every visitor, kept per gzip/identity variant. A hit is answered here, in front of Flask, with a
fresh request id (web.requests.request_id) and Date, or 304 when the visitor's ETag still
matches. Everyone else (cookies: flash messages, signed-in users, form sessions) gets a normal
render. Pages with a form (FORM_PAGES) are kept as fragments around the values that differ per
visitor (web/page_cache_forms.py).
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from http.cookies import SimpleCookie
from threading import Lock

from flask import Flask, request
from werkzeug.http import http_date, is_resource_modified, parse_accept_header

from extensions import db
from models import content_version
from models.content_version import Version
from web import page_cache_forms
from web.http_caching import FIRST_FORM, PUBLIC, sharing
from web.page_cache_forms import FormParts
from web.requests import request_id

log = logging.getLogger("portico.page_cache")

CACHEABLE = frozenset({
    "site.home", "site.services", "site.service", "site.privacy", "site.robots", "site.sitemap",
    "blog.index", "blog.tag", "blog.post", "blog.feed",
    "training.index", "training.course", "training.calendar",
})
# Pages with a form: cached as fragments (see the module docstring); the pages themselves are checked by tests.
FORM_PAGES = frozenset({"blog.post", "training.course", "training.book", "enquiries.form"})
MAX_ENTRIES = 512
STORABLE = "portico.page_cache.storable"  # environ: set by the app when the response may be cached
FORM_VALUES = "portico.page_cache.form"  # environ: the per-visitor values rendered into a form page
PER_REQUEST_HEADERS = {"x-request-id", "date", "set-cookie"}
NOT_IN_304 = {"content-length", "content-encoding", "content-type"}


@dataclass(frozen=True)
class Entry:
    version: Version
    created: float
    status: str
    headers: list
    body: bytes
    etag: str | None
    form: FormParts | None = None


class PageCache:
    """WSGI middleware in front of the app, plus the content version it checks entries against."""

    def __init__(self, app: Flask, engine, *, max_age: float, check_every: float,
                 request_id_header: str = "HTTP_X_REQUEST_ID") -> None:
        self.app = app
        self.wsgi_app = app.wsgi_app
        self.engine = engine
        self.max_age = max_age
        self.check_every = check_every
        self.session_cookie = app.config["SESSION_COOKIE_NAME"]
        self.private_cookies = {self.session_cookie, app.config.get("REMEMBER_COOKIE_NAME", "remember_token")}
        self.request_id_header = request_id_header
        self.entries: OrderedDict[tuple, Entry] = OrderedDict()
        self.lock = Lock()
        self._version: Version | None = None
        self._checked = 0.0
        self._stale = True

    # -- the content version ---------------------------------------------------------------

    def invalidate(self) -> None:
        """This process committed a change: read the version again before serving from the cache."""
        self._stale = True

    @property
    def seen(self) -> Version | None:
        """The version last read, without reading (models/site_settings.py keeps up with it)."""
        return self._version

    def version(self) -> Version:
        now = time.monotonic()
        current = self._version
        if self._stale or current is None or now - self._checked >= self.check_every or current.passed():
            self._stale = False  # before the read: a commit during it marks it stale again
            with self.engine.connect() as conn:
                self._version = content_version.read(conn)
            self._checked = now
        return self._version

    # -- WSGI ----------------------------------------------------------------------------------

    def key(self, environ) -> tuple | None:
        """The cache key of an anonymous GET/HEAD, or None when this request must be rendered."""
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            return None
        query = environ.get("QUERY_STRING", "")
        if query and not query.startswith("page=") or "&" in query:
            return None
        cookie = environ.get("HTTP_COOKIE")
        if cookie and self.private_cookies & SimpleCookie(cookie).keys():
            return None
        accept = environ.get("HTTP_ACCEPT_ENCODING")
        encoding = "gzip" if accept and parse_accept_header(accept)["gzip"] > 0 else ""
        return (environ.get("HTTP_HOST"), environ["wsgi.url_scheme"], environ.get("HTTP_X_FORWARDED_HOST"),
                environ.get("HTTP_X_FORWARDED_PROTO"), environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO"),
                query, encoding)

    def __call__(self, environ, start_response):
        key = self.key(environ)
        if key is None:
            return self.wsgi_app(environ, start_response)
        try:
            version = self.version()
        except Exception:  # noqa: BLE001  (the database is down: let the app answer, with its own error page)
            log.warning("page cache: could not read the content version; rendering without the cache")
            self._version = None
            return self.wsgi_app(environ, start_response)
        entry = self.entries.get(key)
        if entry is not None:
            if entry.version == version and time.monotonic() - entry.created < self.max_age:
                return self.answer(entry, environ, start_response)
            with self.lock:
                self.entries.pop(key, None)
        return self.render(key, version, environ, start_response)

    def answer(self, entry: Entry, environ, start_response):
        extra = [("X-Request-ID", request_id(environ.get(self.request_id_header))), ("Date", http_date())]
        if entry.etag and not is_resource_modified(environ, entry.etag):
            start_response("304 Not Modified", [h for h in entry.headers if h[0].lower() not in NOT_IN_304] + extra)
            return []
        body, headers = entry.body, entry.headers
        if entry.form is not None:
            body, headers = page_cache_forms.fill(self.app, entry.form, body, headers, environ)
        start_response(entry.status, headers + extra)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    def render(self, key: tuple, version: Version, environ, start_response):
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        iterable = self.wsgi_app(environ, capture)
        if not environ.get(STORABLE) or environ["REQUEST_METHOD"] != "GET":
            return iterable
        try:
            body = b"".join(iterable)
        finally:
            if hasattr(iterable, "close"):
                iterable.close()
        headers = captured.get("headers", [])
        # Cookies being set (not deleted) are per visitor: only a form page's new session may be, made afresh per hit.
        set_cookies = [v for k, v in headers if k.lower() == "set-cookie" and "max-age=0" not in v.lower()]
        form = None
        if environ.get(FORM_VALUES) and len(set_cookies) == 1:
            form = page_cache_forms.parts(environ[FORM_VALUES], set_cookies[0], self.session_cookie, body)
            if form is None:
                return [body]
        elif set_cookies:
            return [body]
        if captured.get("status", "").startswith("200"):
            # kept: everything but the per-request headers and the session cookie (deletions stay)
            kept = [(k, v) for k, v in headers if k.lower() not in PER_REQUEST_HEADERS
                    or (k.lower() == "set-cookie" and v not in set_cookies)]
            etag = next((v for k, v in headers if k.lower() == "etag"), None)
            with self.lock:
                self.entries[key] = Entry(version, time.monotonic(), captured["status"], kept, body, etag, form)
                self.entries.move_to_end(key)
                while len(self.entries) > MAX_ENTRIES:
                    self.entries.popitem(last=False)
        return [body]


def mark_storable(response):
    """Inside the app: tell the cache in front that this response may be kept for every anonymous visitor."""
    if request.method != "GET":
        return response
    kind = sharing(response)
    if kind == PUBLIC and request.endpoint in CACHEABLE:
        request.environ[STORABLE] = True
    elif kind == FIRST_FORM and request.endpoint in FORM_PAGES:
        request.environ[STORABLE] = True
        request.environ[FORM_VALUES] = page_cache_forms.rendered_values(response)
    return response


def init_app(app: Flask) -> PageCache | None:
    """Wrap the app (call it after every other WSGI middleware is in place)."""
    max_age = float(app.config["PAGE_CACHE_SECONDS"])
    if max_age <= 0:
        return None
    with app.app_context():
        engine = db.engine
    cache = PageCache(app, engine, max_age=max_age, check_every=float(app.config["PAGE_CACHE_CHECK_SECONDS"]))
    app.wsgi_app = cache
    app.extensions["page_cache"] = cache
    content_version.after_each_bump(engine, cache.invalidate)
    app.after_request(mark_storable)
    return cache
