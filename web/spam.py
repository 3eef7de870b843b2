"""Spam traps shared by every public form (contact, comments, …).

Two checks, both silent to the visitor (a trapped submission gets the same
thank-you as a real one and is stored as spam, never mailed):

- a honeypot field people never see (`{{ honeypot(form.website) }}` from
  _macros/forms.html) that bots fill in;
- a signed timestamp issued with the form: a submission sooner than
  SPAM_MIN_SECONDS after the form was shown, or with a missing, forged or
  reused-from-another-form token, is a bot.

Use `SpamTrapFields` as a mixin on a FlaskForm, call `arm(form, "comment")`
when showing a new form, and `spam_reason(form, "comment")` once it validates.
The rate limit on the POST is a Flask-Limiter decorator on the route.
"""
from __future__ import annotations

import time

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from wtforms import HiddenField, StringField

SALT = "portico.spam-trap.form-timestamp"
# A form older than this is treated as a replayed token rather than a slow reader.
MAX_AGE_SECONDS = 7 * 24 * 3600


class SpamTrapFields:
    """Mixin for a FlaskForm: the honeypot and the signed timestamp, both optional so validation never fails on them."""

    website = StringField("Leave this empty")
    form_token = HiddenField()


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=SALT)


def issue_form_token(form_name: str, now: float | None = None) -> str:
    """A signed token recording which form was shown and when (sub-second precision)."""
    return _serializer().dumps({"f": form_name, "t": round(now if now is not None else time.time(), 3)})


def check_form_token(token: str | None, form_name: str, now: float | None = None) -> str | None:
    """None when the token is genuine and old enough; otherwise the reason to store as spam."""
    if not token:
        return "missing form timestamp"
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return "forged form timestamp"
    if not isinstance(data, dict) or data.get("f") != form_name or not isinstance(data.get("t"), int | float):
        return "forged form timestamp"
    age = (now if now is not None else time.time()) - data["t"]
    if age < current_app.config["SPAM_MIN_SECONDS"]:
        return "submitted too fast"
    if age > MAX_AGE_SECONDS:
        return "stale form timestamp"
    return None


def check_honeypot(value: str | None) -> str | None:
    """None when the hidden field is empty, as a person leaves it."""
    return "honeypot filled" if value and value.strip() else None


def arm(form, form_name: str) -> None:
    """Put a fresh timestamp in a form about to be shown for the first time."""
    form.form_token.data = issue_form_token(form_name)


def spam_reason(form, form_name: str) -> str | None:
    """The first trap a submitted SpamTrapFields form fell into, or None."""
    return check_honeypot(form.website.data) or check_form_token(form.form_token.data, form_name)
