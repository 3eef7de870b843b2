"""The application factory: `flask --app app …` and gunicorn's `app:create_app()` find it here."""
from __future__ import annotations

import logging
import uuid
from pathlib import Path

from dotenv import load_dotenv
from flask import Flask, abort, g, has_request_context, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from config import check_settings, load_settings
from extensions import csrf, db, limiter, login_manager, mail, migrate

log = logging.getLogger("portico")


def create_app(config: dict | None = None) -> Flask:
    load_dotenv(Path.cwd() / ".env")
    app = Flask(__name__, instance_relative_config=True)
    mode = (config or {}).get("APP_ENV")
    app.config.update(load_settings(Path(app.instance_path), mode))
    if config:
        app.config.update(config)
    check_settings(app.config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    register_logging(app)
    register_proxy(app)
    register_extensions(app)
    register_converters(app)
    register_blueprints(app)
    register_rate_limits(app)
    register_errorhandlers(app)
    register_request_hooks(app)
    register_http_caching(app)
    register_page_cache(app)
    register_template_helpers(app)
    register_cli(app)
    register_form_checks(app)
    return app


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def register_logging(app: Flask) -> None:
    install_request_id_logging()
    if not logging.getLogger().handlers or app.config["APP_ENV"] == "production":  # root: app.logger always has Flask's handler
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)


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


def register_proxy(app: Flask) -> None:
    """Trust X-Forwarded-* only from the configured number of proxies."""
    count = app.config["PROXY_COUNT"]
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_port=count)


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    mail.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    with app.app_context():
        configure_engine(db.engine)

    import auth  # noqa: F401  (registers the user loader)
    import mailer

    mailer.init_app(app)  # wakes the outbox thread after commits that queue mail


def configure_engine(engine: Engine) -> None:
    """SQLite: foreign keys on, WAL, and transactions that can start IMMEDIATE.

    pysqlite's own transaction handling cannot take a write lock up front, so
    the driver is put in autocommit mode and we emit BEGIN ourselves; a
    connection with the execution option `sqlite_immediate=True` begins with
    BEGIN IMMEDIATE, which is how a booking locks its session on SQLite.
    """
    if engine.dialect.name != "sqlite" or getattr(engine, "_portico_configured", False):
        return
    engine._portico_configured = True

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # A request that may write takes the write lock up front. A deferred transaction
        # that reads and then writes fails at once ("database is locked", no busy wait)
        # when another writer committed in between; queuing behind the lock instead is
        # cheap for a site of this size. Reads (GET) stay deferred and run concurrently.
        writing = has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")
        if writing or conn.get_execution_options().get("sqlite_immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


class DatabaseIntConverter(IntegerConverter):
    """`<int:…>` that fits a database integer: /admin/enquiries/99999999999999999999 is a 404, not an overflow 500."""

    def __init__(self, map, *args, max=2**31 - 1, **kwargs):  # noqa: A002  (Werkzeug's own argument names)
        super().__init__(map, *args, max=max, **kwargs)


def register_converters(app: Flask) -> None:
    app.url_map.converters["int"] = DatabaseIntConverter


def register_blueprints(app: Flask) -> None:
    from blueprints.admin import bp as admin_bp
    from blueprints.blog import bp as blog_bp
    from blueprints.contact import bp as contact_bp
    from blueprints.site import bp as site_bp
    from blueprints.training import bp as training_bp

    for bp in (site_bp, blog_bp, contact_bp, training_bp, admin_bp):
        app.register_blueprint(bp)


ERROR_TEXT = {
    400: ("Bad request", "The request could not be understood. If you were sending a form, go back, reload the page and try again."),
    403: ("Forbidden", "You do not have access to this page."),
    404: ("Page not found", "There is nothing at this address. It may have moved, or the link may be mistyped."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    410: ("Gone", "This is no longer available."),
    413: ("Too large", "What you sent is larger than this site accepts. Please shorten it and try again."),
    429: ("Too many requests", "You have sent too many requests in a short time. Please wait a little and try again."),
    500: ("Something went wrong", "An unexpected error stopped this page. It has been logged; please try again in a moment."),
    503: ("Temporarily unavailable", "The site cannot answer right now. Please try again in a moment."),
}


def render_error(code: int, description: str | None = None, retry_after: str | None = None):
    title, text = ERROR_TEXT.get(code, ERROR_TEXT[500])
    try:
        body = render_template(
            "errors/error.html", code=code, title=title, text=description or text,
            retry_after=retry_after, request_id=getattr(g, "request_id", None),
        )
    except Exception:  # noqa: BLE001  e.g. a Host header no URL can be built for, or the database is down
        log.exception("error page %s failed request_id=%s", code, g.get("request_id", "-"))
        body = bare_error_page(code if code in ERROR_TEXT else 500)
    return body, code


def register_rate_limits(app: Flask) -> None:
    import security

    security.register_rate_limits(app)


def register_errorhandlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(400, "This form has expired or was not sent from this site. Go back, reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code == 429:
            retry = getattr(getattr(error, "limit", None), "limit", None)
            wait = f"{retry.get_expiry()} seconds" if retry is not None else None
            response = error.get_response()
            body, code = render_error(429, retry_after=wait)
            headers = {k: v for k, v in response.headers.items() if k.lower().startswith(("retry-after", "x-ratelimit"))}
            return body, code, headers
        if error.code in ERROR_TEXT:
            headers = {}
            if error.code == 405:
                headers = {k: v for k, v in error.get_response().headers.items() if k.lower() == "allow"}
            return (*render_error(error.code), headers)
        return error

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        log.exception("unhandled error request_id=%s path=%s", getattr(g, "request_id", "-"), request.path)
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001  the database itself may be what failed
            log.warning("rollback failed request_id=%s", getattr(g, "request_id", "-"))
        return render_error(500)


def bare_error_page(code: int) -> str:
    """The error page without templates, url_for or the database: only the title, the text and the id."""
    title, text = ERROR_TEXT[code]
    request_id = escape(g.get("request_id", "")) if has_request_context() else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body><main><h1>{title}</h1><p>{text}</p><p>Reference: <code>{request_id}</code></p></main></body></html>")


def register_request_hooks(app: Flask) -> None:
    from security import apply_security_headers, check_host

    def assign_request_id():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if incoming.isalnum() and incoming.isascii() and len(incoming) <= 64 else uuid.uuid4().hex[:16]
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
    app.before_request_funcs.setdefault(None, []).insert(0, assign_request_id)

    @app.after_request
    def headers(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return apply_security_headers(app, response)

    @app.teardown_request
    def end_open_transaction(_error):
        """Whatever a request did not commit ends with it, and so does its SQLite write lock.

        Flask-SQLAlchemy also rolls back when the app context ends; doing it per request
        keeps that true where one app context outlives many requests (the test client, CLI).
        """
        session = db.session()
        if session.in_transaction():
            session.rollback()


def register_http_caching(app: Flask) -> None:
    """ETag/304 and gzip for public pages; fingerprinted, pre-compressed static files."""
    import assets
    import http_caching

    http_caching.init_app(app)
    assets.init_app(app)


def register_form_checks(app: Flask) -> None:
    """Form POSTs: a form content type and valid UTF-8 without NUL, else 400."""
    import security

    security.register_form_checks(app)

def register_page_cache(app: Flask) -> None:
    """Anonymous public pages rendered once per content version (production; PAGE_CACHE_SECONDS=0 turns it off)."""
    import page_cache

    page_cache.init_app(app)


def register_template_helpers(app: Flask) -> None:
    import template_helpers

    template_helpers.init_app(app)


def register_cli(app: Flask) -> None:
    import cli

    cli.init_app(app)
