"""What every request starts with: its id (in logs and the X-Request-ID header), trusted proxies,
the host check and the body size limit, and URL ids that fit a database integer."""
from __future__ import annotations

import logging
import uuid

from flask import Flask, abort, g, has_request_context, request
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
MAX_REQUEST_ID = 64


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
    if not logging.getLogger().handlers or app.config["APP_ENV"] == "production":  # root: app.logger always has Flask's handler
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)


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


def init_app(app: Flask) -> None:
    from web.security import check_host

    def start_request():
        g.request_id = request_id(request.headers.get("X-Request-ID"))
        check_host(app)
        limit = app.config.get("MAX_CONTENT_LENGTH")
        if request.path.startswith("/admin/") and app.config.get("ADMIN_MAX_CONTENT_LENGTH") and current_user.is_authenticated:
            # Signed-in editing (long articles) may send more; everyone else gets the public limit.
            limit = app.config["ADMIN_MAX_CONTENT_LENGTH"]
            request.max_content_length = limit
            request.max_form_memory_size = limit
        if limit and request.content_length and request.content_length > limit:
            abort(413)  # refused before anything reads the body, whatever the route

    # First of all hooks (CSRF and the rate limiter registered theirs earlier): every response,
    # even a 400 or 429 from an extension, has an id, and a foreign host is refused before anything counts.
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)

    @app.after_request
    def echo_request_id(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response
