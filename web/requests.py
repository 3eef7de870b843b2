"""What every request starts with: its id (in logs and the X-Request-ID header), trusted proxies,
the host check, NUL in the URL, the body size limit, and URL ids that fit a database integer;
and how every log line is written (control characters escaped, booking tokens masked)."""
from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, abort, g, has_request_context, request
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
MAX_REQUEST_ID = 64

# C0, DEL and C1 control characters and the Unicode line and paragraph separators: anything a
# terminal or log viewer may take as a new line or a command. Escaped, so one record is one line.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# A booking token is a password to that booking: logs show that a booking page was asked for, not which.
BOOKING_TOKEN = re.compile(r"(/bookings/)[^/?#\s\"]+")
MASKED = "\u2026"


def safe_log_text(text: str, escape: bool = True) -> str:
    """`text` fit for one log line: booking tokens masked, control characters written as \\xNN / \\uNNNN."""
    text = BOOKING_TOKEN.sub(lambda m: m.group(1) + MASKED, text)
    if escape:
        text = CONTROL_CHARACTERS.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                                      else f"\\u{ord(m.group()):04x}", text)
    return text


class SafeFormatter(logging.Formatter):
    """The one formatter of every log handler the site sets up (its own, and gunicorn's through web/server.py).

    Only the message is escaped: a traceback keeps its lines. Werkzeug's development server escapes its
    request lines itself and colours them; its colour codes are kept.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802  (logging's name)
        record.message = safe_log_text(record.message, escape=record.name != "werkzeug")
        return super().formatMessage(record)


class Portico(Flask):
    """Flask whose absolute URLs name SITE_URL's scheme, whatever scheme a request arrived with.

    SERVER_NAME (from SITE_URL) already fixes their host; without this, an https site reached over
    plain http (a proxy without PROXY_COUNT) would put http:// links in its emails and feeds.
    """

    def create_url_adapter(self, request):
        adapter = super().create_url_adapter(request)
        if request is not None and adapter is not None:
            adapter.url_scheme = self.config["PREFERRED_URL_SCHEME"]
        return adapter


def request_id(incoming: str | None) -> str:
    """The id a request is known by: the caller's X-Request-ID if it is short ASCII letters and digits, else a new one.

    The one rule for both the app and the page cache, so a cached answer and a fresh render agree.
    """
    incoming = incoming or ""
    if incoming.isascii() and incoming.isalnum() and len(incoming) <= MAX_REQUEST_ID:
        return incoming
    return uuid.uuid4().hex[:16]


def install_request_id_logging() -> None:
    """Every log record carries `request_id`: the current request's id, or "-" outside a request."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "portico_request_id", False):
        return

    def record_factory(*args, **kwargs):
        record = factory(*args, **kwargs)
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return record

    record_factory.portico_request_id = True
    logging.setLogRecordFactory(record_factory)


def init_logging(app: Flask) -> None:
    install_request_id_logging()
    root = logging.getLogger()
    if not root.handlers or app.config["APP_ENV"] == "production":  # root: app.logger always has Flask's handler
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
        for handler in root.handlers:
            if type(handler.formatter) in (logging.Formatter, type(None)):  # ours (basicConfig's), not a test's
                handler.setFormatter(SafeFormatter(LOG_FORMAT))


def init_proxy(app: Flask) -> None:
    """Trust X-Forwarded-* only from the configured number of proxies."""
    count = app.config["PROXY_COUNT"]
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_port=count, x_host=count)


class DatabaseIntConverter(IntegerConverter):
    """`<int:…>` that fits a database integer: /admin/enquiries/99999999999999999999 is a 404, not an overflow 500."""

    def __init__(self, map, *args, max=2**31 - 1, **kwargs):  # noqa: A002  (Werkzeug's own argument names)
        super().__init__(map, *args, max=max, **kwargs)


def init_converters(app: Flask) -> None:
    app.url_map.converters["int"] = DatabaseIntConverter


def refuse_nul() -> None:
    """NUL in the path or query string is a 404 here (a URL with NUL names nothing): PostgreSQL refuses it in
    text, so further down it would be a 500."""
    if "\x00" in request.path or b"%00" in request.query_string or b"\x00" in request.query_string:
        abort(404)


UPLOAD_FORM_ROOM = 64 * 1024  # the alt text, the CSRF token and the multipart boundaries around the file


def refuse_long_chunked_body(limit: int) -> None:
    """A chunked body has no length up front: Werkzeug reads it up to `limit` and quietly stops, so the view
    would see a cut-off form. Read it here (it stays cached for the form) and refuse it if more was coming."""
    if len(request.get_data(cache=True)) >= limit and request.environ["wsgi.input"].read(1):
        abort(413)


def init_app(app: Flask) -> None:
    from web.security import UPLOAD_ENDPOINTS, check_host, redirect_to_https

    def start_request():
        g.request_id = request_id(request.headers.get("X-Request-ID"))
        check_host(app)
        refuse_nul()
        if (to_https := redirect_to_https(app)) is not None:
            return to_https
        limit = app.config.get("MAX_CONTENT_LENGTH")
        if request.path.startswith("/admin/") and app.config.get("ADMIN_MAX_CONTENT_LENGTH") and current_user.is_authenticated:
            # Signed-in editing (long articles) may send more; everyone else gets the public limit.
            limit = app.config["ADMIN_MAX_CONTENT_LENGTH"]
            if request.endpoint in UPLOAD_ENDPOINTS:
                # An image upload: the file (IMAGE_MAX_BYTES) and room for the form's other fields.
                limit = max(limit, app.config["IMAGE_MAX_BYTES"] + UPLOAD_FORM_ROOM)
            request.max_content_length = limit
            request.max_form_memory_size = limit
        if limit and request.content_length and request.content_length > limit:
            abort(413)  # refused before anything reads the body, whatever the route
        if limit and request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            refuse_long_chunked_body(limit)

    # First of all hooks (CSRF and the rate limiter registered theirs earlier): every response,
    # even a 400 or 429 from an extension, has an id, and a foreign host is refused before anything counts.
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)

    @app.after_request
    def echo_request_id(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response
