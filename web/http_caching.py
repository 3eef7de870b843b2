"""ETag, conditional GET (304) and gzip for public pages that are the same for every visitor.

A response qualifies only when it cannot carry anything personal: a GET or HEAD, a
200, outside /admin, no signed-in user, no CSRF token rendered, no flash message shown,
and no session cookie being set. Pages with forms therefore get no ETag, are marked
`private, no-cache`, and are not compressed (compressing a secret next to reflected
input is the BREACH attack).

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

from flask import Flask, Response, g, request, session

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


def is_public(response: Response) -> bool:
    """True when the response is the same for every anonymous visitor (see the module docstring)."""
    if request.method not in ("GET", "HEAD") or response.status_code != 200:
        return False
    if request.path.startswith("/admin") or response.direct_passthrough or response.is_streamed:
        return False
    if response.mimetype not in CACHEABLE_TYPES or "Set-Cookie" in response.headers:
        return False
    # A CSRF token was rendered, a flash message shown (popping it modifies the session), the
    # session is about to be saved, a user is signed in, or a permanent session's cookie is
    # refreshed on every response. (Flask 3.1 marks the session "accessed" on any use,
    # base.html's get_flashed_messages included, so that flag cannot tell.)
    if "csrf_token" in g or session.modified:
        return False
    if "_user_id" in session or "_permanent" in session:
        return False
    cache_control = response.headers.get("Cache-Control", "")
    return "no-store" not in cache_control and "private" not in cache_control


def accepts_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0  # also true for "*"


def init_app(app: Flask) -> None:
    bodies = CompressedBodies()

    @app.after_request
    def conditional_and_compressed(response: Response) -> Response:
        if not is_public(response):
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
