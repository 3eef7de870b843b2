"""ETag, conditional GET (304) and gzip for public pages that are the same for every visitor.

Whether a response is shared is decided once, by `sharing` (the page cache asks it too): only
when it cannot carry anything personal: a GET or HEAD, a 200, outside /admin, no signed-in user,
no CSRF token rendered, no flash message, and no session cookie being set. Pages with forms
therefore get no ETag, are marked `private, no-cache`, and are not compressed (compressing a
secret next to reflected input is the BREACH attack).

The ETag is a digest of the body, so it is correct by construction: it changes
whenever the page does, in whatever process rendered it. `Cache-Control: no-cache`
lets browsers and proxies keep the page but ask every time; the answer to an
unchanged page is a 304 without a body.
"""
from __future__ import annotations

import gzip
import hashlib
from collections import OrderedDict
from threading import Lock

from flask import Flask, Response, current_app, g, request, session

CACHEABLE_TYPES = ("text/html", "application/xml", "application/atom+xml", "text/xml", "text/plain",
                   "text/calendar", "application/json")
MIN_COMPRESS_SIZE = 512
GZIP_LEVEL = 6


class CompressedBodies:
    """The last few gzip-compressed bodies by ETag, so a popular page is compressed once per process."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.items: OrderedDict[str, bytes] = OrderedDict()
        self.lock = Lock()

    def get(self, etag: str, body: bytes) -> bytes:
        with self.lock:
            if etag in self.items:
                self.items.move_to_end(etag)
                return self.items[etag]
        compressed = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
        with self.lock:
            self.items[etag] = compressed
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return compressed


PUBLIC = "public"  # the same for every visitor
FIRST_FORM = "first-form"  # the same for every first-time visitor but for the CSRF secret and token made for them
# A new visitor's session besides the CSRF secret (Flask-Login's strong protection marks it "_remember: clear").
FIRST_VISIT_SESSIONS = ({}, {"_remember": "clear"})


def sharing(response: Response) -> str | None:
    """PUBLIC, FIRST_FORM or None (personal): the one rule for this module and the page cache."""
    if request.method not in ("GET", "HEAD") or response.status_code != 200:
        return None
    if request.path.startswith("/admin") or response.direct_passthrough or response.is_streamed:
        return None
    if response.mimetype not in CACHEABLE_TYPES or "Set-Cookie" in response.headers:
        return None
    cache_control = response.headers.get("Cache-Control", "")
    if "no-store" in cache_control or "private" in cache_control:
        return None
    # A user is signed in, a flash message is waiting, or a permanent session's cookie is refreshed
    # on every response. (Flask 3.1 marks the session "accessed" on any use, base.html's
    # get_flashed_messages included, so that flag cannot tell.)
    if "_user_id" in session or "_flashes" in session or "_permanent" in session:
        return None
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    if field not in g and not session.modified:
        return PUBLIC
    # A CSRF token was rendered, a flash shown (popping it modifies the session) or the session is
    # about to be saved: personal, unless this is a first visit whose session holds only a new CSRF secret.
    others = {k: v for k, v in session.items() if k != field}
    if field in g and field in session and not request.cookies and others in FIRST_VISIT_SESSIONS:
        return FIRST_FORM
    return None


def accepts_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0  # also true for "*"


def init_app(app: Flask) -> None:
    bodies = CompressedBodies()

    @app.after_request
    def conditional_and_compressed(response: Response) -> Response:
        if sharing(response) != PUBLIC:
            if (request.method in ("GET", "HEAD") and response.mimetype == "text/html"
                    and "Cache-Control" not in response.headers):
                response.headers["Cache-Control"] = "private, no-cache"
            return response
        body = response.get_data()
        etag = hashlib.blake2b(body, digest_size=12).hexdigest()
        compress = len(body) >= MIN_COMPRESS_SIZE and "Content-Encoding" not in response.headers
        response.vary.add("Accept-Encoding")
        if "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "public, no-cache"
        if compress and accepts_gzip():
            # A different representation needs its own validator.
            response.set_etag(etag + "-gz")
            response.make_conditional(request)
            if response.status_code == 200:
                response.set_data(bodies.get(etag, body))
                response.headers["Content-Encoding"] = "gzip"
        else:
            response.set_etag(etag)
            response.make_conditional(request)
        return response
