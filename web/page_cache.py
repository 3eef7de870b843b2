"""A render cache for anonymous visitors: each public page is rendered once per process per content version.

How it stays correct with many processes: an entry is served only while the
*content version* it was rendered under is still current, and that version is
read from the database, which every process shares: one small statement over
the tables the public pages show (row counts, latest `updated_at`, the next
scheduled publication or session start). A process re-reads it at most every
PAGE_CACHE_CHECK_SECONDS (default 1 s), and at once after it commits a change
itself, so a change made anywhere shows everywhere within that second. Entries
also expire after PAGE_CACHE_SECONDS (default 60 s in production; 0 turns the
cache off, the default in development and tests): the safety net for anything
time-dependent the version does not capture. A table added to the public pages
must be added to `version_query`.

What is cached: the final response (after every after_request hook: ETag and
gzip from http_caching, security headers) to a GET, without a session or
remember-me cookie, of an endpoint in CACHEABLE, with no query string but
`?page=`, answered 200 without setting a cookie or rendering a CSRF token (so
pages with forms never are: every visitor gets their own token), kept per
gzip/identity variant. A hit is answered here, in front of Flask, with a fresh
request id and Date, or 304 when the visitor's ETag still matches. Everyone
else (cookies: flash messages, signed-in users, form sessions) gets a normal
render.

Pages with a form (FORM_PAGES) are cached as fragments around the three values
that differ per visitor, all made afresh on each hit exactly as the app makes
them: the session cookie holding a new CSRF secret, the signed CSRF token in
the form, and the spam-trap timestamp. Only a page whose render for a
cookie-less visitor set nothing else is kept (checked when it is stored).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from http.cookies import SimpleCookie
from threading import Lock

from flask import Flask, g, request, session
from flask_wtf.csrf import ValidationError, validate_csrf
from itsdangerous import BadData, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import BigInteger, cast, event, func, select
from werkzeug.http import http_date, is_resource_modified, parse_accept_header

from extensions import db
from web import spam
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
FORM_VALUES = "portico.page_cache.form"  # environ: (CSRF token, spam stamps) rendered into a form page
CANDIDATE_TOKEN = re.compile(rb'value="([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-.]+)"')
PER_REQUEST_HEADERS = {"x-request-id", "date", "set-cookie"}
NOT_IN_304 = {"content-length", "content-encoding", "content-type"}


@dataclass(frozen=True)
class FormParts:
    """Where a cached form page holds its per-visitor values."""

    csrf_token: bytes
    stamps: tuple  # ((token as rendered, its payload), ...)
    session: dict  # what else the app put in a first visitor's session (Flask-Login's "_remember")
    cookie_prefix: str  # "session="
    cookie_suffix: str  # "; HttpOnly; Path=/; SameSite=Lax"


@dataclass(frozen=True)
class Entry:
    version: tuple
    created: float
    status: str
    headers: list
    body: bytes
    etag: str | None
    form: FormParts | None = None


class Signers:
    """The app's own serializers: session cookie, CSRF token (Flask-WTF's scheme) and spam stamps."""

    def __init__(self, app: Flask) -> None:
        self.session = app.session_interface.get_signing_serializer(app)
        self.csrf_field = app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        self.csrf = URLSafeTimedSerializer(app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key,
                                           salt="wtf-csrf-token")
        self.stamp = URLSafeSerializer(app.secret_key, salt=spam.SALT)

    def new_visitor(self, session: dict) -> tuple[str, str]:
        """(session cookie value, CSRF form token) for a new visitor, as Flask and Flask-WTF make them."""
        raw = hashlib.sha1(os.urandom(64)).hexdigest()  # noqa: S324 (Flask-WTF's own recipe for the secret)
        return self.session.dumps({**session, self.csrf_field: raw}), self.csrf.dumps(raw)

    def stamps_in(self, body: bytes) -> tuple:
        found = []
        for match in CANDIDATE_TOKEN.finditer(body):
            try:
                payload = self.stamp.loads(match.group(1).decode())
            except BadData:
                continue
            if isinstance(payload, dict) and isinstance(payload.get("t"), int | float) and abs(time.time() - payload["t"]) < 60:
                found.append((match.group(1), payload))
        return tuple(found)

    def fresh_stamp(self, payload: dict) -> bytes:
        return self.stamp.dumps({**payload, "t": round(time.time(), 3)}).encode()


def version_query():
    """One statement: what public pages show changes whenever any of these values does."""
    from models import Booking, Comment, Course, Post, Service, Tag, TrainingSession, post_tags
    from models.base import utcnow

    now = utcnow()

    def one(column, *where):
        return select(column).where(*where).scalar_subquery()

    return select(
        one(func.count(Post.id)), one(func.max(Post.updated_at)), one(func.min(Post.published_at), Post.published_at > now),
        # tags carry no updated_at, and re-tagging a post does not touch the post's row: cheap checksums
        one(func.count(Tag.id)), one(func.max(Tag.id)), one(func.sum(func.length(Tag.name) * 7919 + Tag.id)),
        select(func.count()).select_from(post_tags).scalar_subquery(),
        select(func.sum(cast(post_tags.c.post_id, BigInteger) * 1000003 + post_tags.c.tag_id)).scalar_subquery(),
        one(func.count(Service.id)), one(func.max(Service.updated_at)),
        one(func.count(Course.id)), one(func.max(Course.updated_at)),
        one(func.count(TrainingSession.id)), one(func.max(TrainingSession.updated_at)),
        one(func.min(TrainingSession.starts_at), TrainingSession.starts_at > now),
        one(func.count(Booking.id)), one(func.max(Booking.updated_at)),
        one(func.count(Comment.id)), one(func.max(Comment.moderated_at)),
    )


class PageCache:
    """WSGI middleware in front of the app, plus the content version it checks entries against."""

    def __init__(self, wsgi_app, engine, *, max_age: float, check_every: float, private_cookies: set[str],
                 signers: Signers | None = None, session_cookie: str = "session",
                 request_id_header: str = "HTTP_X_REQUEST_ID") -> None:
        self.wsgi_app = wsgi_app
        self.session_cookie = session_cookie
        self.signers = signers
        self.engine = engine
        self.max_age = max_age
        self.check_every = check_every
        self.private_cookies = private_cookies
        self.request_id_header = request_id_header
        self.entries: OrderedDict[tuple, Entry] = OrderedDict()
        self.lock = Lock()
        self._version: tuple | None = None
        self._checked = 0.0
        self._stale = True

    # -- the content version ---------------------------------------------------------------

    def invalidate(self) -> None:
        """This process changed something: read the version again before serving from the cache."""
        self._stale = True

    def version(self) -> tuple:
        now = time.monotonic()
        if self._stale or self._version is None or now - self._checked >= self.check_every:
            self._stale = False  # before the read: a commit during it marks it stale again
            with self.engine.connect() as conn:
                self._version = tuple(conn.execute(version_query()).one())
            self._checked = now
        return self._version

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
        self.invalidate()

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
            body, headers = self.fill_form(entry)
        start_response(entry.status, headers + extra)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    def fill_form(self, entry: Entry) -> tuple[bytes, list]:
        """A form page for a new visitor: their own session, CSRF token and spam stamp."""
        parts = entry.form
        cookie, token = self.signers.new_visitor(parts.session)
        body = entry.body.replace(parts.csrf_token, token.encode())
        for rendered, payload in parts.stamps:
            body = body.replace(rendered, self.signers.fresh_stamp(payload))
        headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in entry.headers]
        headers.append(("Set-Cookie", f"{parts.cookie_prefix}{cookie}{parts.cookie_suffix}"))
        return body, headers

    def render(self, key: tuple, version: tuple, environ, start_response):
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
        # Cookies being set (not deleted) are per visitor: only a form page's new session may be, as a template.
        set_cookies = [v for k, v in headers if k.lower() == "set-cookie" and "max-age=0" not in v.lower()]
        form = None
        if environ.get(FORM_VALUES) and len(set_cookies) == 1:
            form = self.form_parts(environ[FORM_VALUES], set_cookies[0], body)
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

    def form_parts(self, values: tuple, set_cookie: str, body: bytes) -> FormParts | None:
        token, stamps, session = values
        name = set_cookie.split("=", 1)[0]
        _value, sep, suffix = set_cookie[len(name) + 1:].partition(";")
        if name != self.session_cookie or "expires=" in suffix.lower() or token.encode() not in body:
            return None
        return FormParts(token.encode(), stamps, session, f"{name}=", sep + suffix)


def storable(response) -> bool:
    """Inside the app: may this response be kept for every anonymous visitor?"""
    if request.method != "GET" or response.status_code != 200 or request.endpoint not in CACHEABLE:
        return False
    if response.direct_passthrough or response.is_streamed or "Set-Cookie" in response.headers:
        return False
    # a form rendered a CSRF token for this visitor; the session changed; a user or a flash is in it
    if "csrf_token" in g or session.modified or "_user_id" in session or "_flashes" in session:
        return False
    return True


def form_values(response, signers: Signers) -> tuple | None:
    """Inside the app: the per-visitor values of a form page that can be cached as fragments, else None.

    Only a first visit qualifies: no cookie came in, and the session holds nothing but the new
    CSRF secret. The token this module would make for that secret must pass Flask-WTF's own check.
    """
    if request.method != "GET" or response.status_code != 200 or request.endpoint not in FORM_PAGES:
        return None
    if response.direct_passthrough or response.is_streamed or request.cookies:
        return None
    field = signers.csrf_field
    others = {k: v for k, v in session.items() if k != field}
    # Flask-Login's strong session protection marks a new non-empty session "_remember: clear".
    if field not in g or field not in session or others not in ({}, {"_remember": "clear"}):
        return None
    try:
        validate_csrf(signers.csrf.dumps(session[field]))
    except ValidationError:
        return None
    return g.get(field), signers.stamps_in(response.get_data()), others


def setting(app: Flask, name: str, default: float) -> float:
    value = app.config.get(name)
    if value is None:
        value = os.environ.get(name) or default
    return float(value)


def init_app(app: Flask) -> PageCache | None:
    """Wrap the app (call it after every other WSGI middleware is in place)."""
    production = app.config.get("APP_ENV") == "production"
    max_age = setting(app, "PAGE_CACHE_SECONDS", 60 if production else 0)
    if max_age <= 0:
        return None
    with app.app_context():
        engine = db.engine
    private = {app.config.get("SESSION_COOKIE_NAME", "session"), app.config.get("REMEMBER_COOKIE_NAME", "remember_token")}
    signers = Signers(app)
    cache = PageCache(app.wsgi_app, engine, max_age=max_age, check_every=setting(app, "PAGE_CACHE_CHECK_SECONDS", 1),
                      private_cookies=private, signers=signers,
                      session_cookie=app.config.get("SESSION_COOKIE_NAME", "session"))
    app.wsgi_app = cache
    app.extensions["page_cache"] = cache
    event.listen(engine, "commit", lambda _conn: cache.invalidate())

    @app.after_request
    def mark_storable(response):
        if storable(response):
            request.environ[STORABLE] = True
        elif (values := form_values(response, signers)) is not None:
            request.environ[STORABLE] = True
            request.environ[FORM_VALUES] = values
        return response

    return cache
