"""Form pages in the page cache: kept as fragments around the values that differ per visitor.

Three values do: the session cookie holding a new CSRF secret, the signed CSRF token in the
form, and the spam-trap timestamp. On every hit they are made afresh by the app's own functions
inside a request context for the visitor's request: Flask-WTF's `generate_csrf`, Flask's
session interface (which writes the Set-Cookie header), and `web.spam.issue_form_token`. Only a
first visit's render is kept (`http_caching.sharing` says FIRST_FORM: no cookie came in, and the
session holds nothing but the new CSRF secret), and only when the one cookie it set is the session's.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from flask import Flask, current_app, g, session
from flask.ctx import RequestContext
from flask_wtf.csrf import generate_csrf
from itsdangerous import BadData, URLSafeSerializer

from web import spam

CANDIDATE_TOKEN = re.compile(rb'value="([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-.]+)"')


@dataclass(frozen=True)
class FormParts:
    """Where a cached form page holds its per-visitor values."""

    csrf_token: bytes  # as rendered for the first visitor
    stamps: tuple  # ((spam stamp as rendered, its payload), ...)
    session: dict  # what else the app put in a first visitor's session (Flask-Login's "_remember")


def rendered_values(response) -> tuple:
    """Inside the app, for a first visit's form page: (CSRF token, spam stamps, the rest of the session)."""
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    others = {k: v for k, v in session.items() if k != field}
    return g.get(field), stamps_in(response.get_data()), others


def stamps_in(body: bytes) -> tuple:
    """The spam stamps issued for this render: signed by web.spam and only a moment old."""
    reader = URLSafeSerializer(current_app.secret_key, salt=spam.SALT)
    found = []
    for match in CANDIDATE_TOKEN.finditer(body):
        try:
            payload = reader.loads(match.group(1).decode())
        except BadData:
            continue
        fresh = isinstance(payload, dict) and isinstance(payload.get("t"), int | float) and abs(time.time() - payload["t"]) < 60
        if fresh and isinstance(payload.get("f"), str):
            found.append((match.group(1), payload))
    return tuple(found)


def parts(values: tuple, set_cookie: str, session_cookie: str, body: bytes) -> FormParts | None:
    """The fragments of a render whose one cookie is the new session's, else None (not cached)."""
    token, stamps, others = values
    if not token or set_cookie.split("=", 1)[0] != session_cookie or token.encode() not in body:
        return None
    return FormParts(token.encode(), stamps, others)


def fill(app: Flask, form: FormParts, body: bytes, headers: list, environ) -> tuple[bytes, list]:
    """The cached page for a new visitor: their own session cookie, CSRF token and spam stamps."""
    # The visitor sent no session cookie (or the page would not be served from the cache): their session is new.
    with RequestContext(app, environ, session=app.session_interface.session_class(form.session)) as ctx:
        body = body.replace(form.csrf_token, generate_csrf().encode())
        for rendered, payload in form.stamps:
            body = body.replace(rendered, spam.issue_form_token(payload["f"]).encode())
        cookie = app.response_class()
        app.session_interface.save_session(app, ctx.session, cookie)
    headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in headers]
    return body, headers + [("Set-Cookie", v) for v in cookie.headers.getlist("Set-Cookie")]
