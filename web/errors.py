"""Error pages: every error is a styled page with the request's id, never a stack trace."""
from __future__ import annotations

import logging

from flask import Flask, g, has_request_context, render_template, request
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

log = logging.getLogger("portico")

# The database cannot be reached or is busy (refused connection, a full pool, "database is locked"): the
# site is down for a moment, not broken, so visitors get the 503 page and a time to come back.
DATABASE_UNAVAILABLE = (sa_exc.OperationalError, sa_exc.TimeoutError, sa_exc.DisconnectionError)
RETRY_AFTER_SECONDS = 30


def database_unavailable(error: Exception) -> bool:
    return isinstance(error, DATABASE_UNAVAILABLE) or bool(getattr(error, "connection_invalidated", False))

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


def bare_error_page(code: int) -> str:
    """The error page without templates, url_for or the database: only the title, the text and the id."""
    title, text = ERROR_TEXT[code]
    request_id = escape(g.get("request_id", "")) if has_request_context() else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body><main><h1>{title}</h1><p>{text}</p><p>Reference: <code>{request_id}</code></p></main></body></html>")


def init_app(app: Flask) -> None:
    from extensions import db

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
        unavailable = database_unavailable(error)
        if unavailable:
            log.error("database unavailable request_id=%s path=%s: %s", getattr(g, "request_id", "-"), request.path,
                      type(getattr(error, "orig", None) or error).__name__)
        else:
            log.exception("unhandled error request_id=%s path=%s", getattr(g, "request_id", "-"), request.path)
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001  the database itself may be what failed
            log.warning("rollback failed request_id=%s", getattr(g, "request_id", "-"))
        if unavailable:
            body, code = render_error(503, retry_after=f"{RETRY_AFTER_SECONDS} seconds")
            return body, code, {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return render_error(500)
