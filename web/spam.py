"""Spam traps and the once-only form stamp, shared by every public form (contact, booking, private course, comments).

Two checks, both silent to the visitor (a trapped submission is stored as spam and never
mailed, and its answer says nothing of the trap; an enquiry that was only too fast is held for
the consultant's review instead, see Enquiry.status_for):

- a honeypot field people never see (`{{ honeypot(form.website) }}` from
  _macros/forms.html) that bots fill in;
- a signed timestamp issued with the form (the form stamp): a submission sooner than
  SPAM_MIN_SECONDS after the form was shown, or with a missing, forged or
  reused-from-another-form token, is a bot.

And one rule for everyone: a form stamp produces one submission. `submit_once` records each
stamp used (models/form_stamps.py), so a double click, a reload that re-posts, or a replayed
form stores one enquiry or booking and sends its emails once; the repeat gets the first post's answer.

Use `SpamTrapFields` as a mixin on a FlaskForm, call `arm(form, "comment")`
when showing a new form, `spam_reason(form, "comment")` once it validates, and answer
through `submit_once`. The rate limit on the POST is a Flask-Limiter decorator on the route.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app, flash, redirect
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import IntegrityError
from wtforms import HiddenField, StringField

from extensions import db
from models import UsedFormStamp, utcnow
from models.transactions import begin_write

SALT = "portico.spam-trap.form-timestamp"
TOO_FAST = "submitted too fast"  # the one trap a person can fall into: answered, never dropped silently
# A form older than this is treated as a replayed token rather than a slow reader.
MAX_AGE_SECONDS = 7 * 24 * 3600
# Used stamps are remembered a day longer than any stamp is accepted, then purged (purge_used_stamps).
USED_STAMP_DAYS = MAX_AGE_SECONDS // 86400 + 1


class SpamTrapFields:
    """Mixin for a FlaskForm: the honeypot and the signed timestamp, both optional so validation never fails on them."""

    website = StringField("Leave this empty")
    form_token = HiddenField()


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=SALT)


def issue_form_token(form_name: str, now: float | None = None) -> str:
    """A signed token recording which form was shown and when (sub-second precision).

    The nonce makes every stamp unique: two people shown the form in the same millisecond must not
    look like one double click (submit_once).
    """
    stamp = {"f": form_name, "t": round(now if now is not None else time.time(), 3), "n": secrets.token_urlsafe(12)}
    return _serializer().dumps(stamp)


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
        return TOO_FAST
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


# --- once-only stamps -------------------------------------------------------------------------

def _stamp_hash(stamp: str | None) -> str | None:
    """The key a genuine stamp is remembered by; None for a missing or forged one (spam: nothing to remember)."""
    if not stamp or len(stamp) > 500:
        return None
    try:
        _serializer().loads(stamp)
    except BadSignature:
        return None
    return hashlib.sha256(stamp.encode()).hexdigest()


def _pad(stamp: str, length: int) -> bytes:
    return hashlib.shake_256(b"portico.form-stamp.result:" + stamp.encode()).digest(length)


def _seal(stamp: str, answer: dict) -> str:
    """The first post's answer, encrypted under the stamp: only its hash is stored, so the table gives no
    booking link away; the browser that re-posts the stamp holds the key. One stamp seals one answer."""
    data = json.dumps(answer).encode()
    return base64.b64encode(bytes(a ^ b for a, b in zip(data, _pad(stamp, len(data)), strict=True))).decode()


def _unseal(stamp: str, sealed: str) -> dict:
    data = base64.b64decode(sealed)
    return json.loads(bytes(a ^ b for a, b in zip(data, _pad(stamp, len(data)), strict=True)))


def _answer(answer: dict):
    if answer.get("message"):
        flash(answer["message"], answer.get("category", "success"))
    return redirect(answer["url"], code=303)


def _earlier_answer(key: str, stamp: str) -> dict | None:
    used = db.session.get(UsedFormStamp, key, populate_existing=True)
    return _unseal(stamp, used.result) if used is not None else None


def submit_once(form, form_name: str, work: Callable[[], tuple[str, str | None]]):
    """Run `work` once per form stamp, commit, and answer with a 303 to where it led (flashing its message).

    `work()` stores the submission and returns (url, message or None); it may raise, and then nothing
    is recorded. The stamp's row is added in the same transaction as the submission, so a second post
    of the same stamp, after the first committed or at the same moment, is refused by the primary key
    (PostgreSQL makes the second insert wait for the first commit; SQLite writers take turns), rolls its
    own work back (the enquiry or booking and its emails) and gets the first post's answer.
    """
    stamp = form.form_token.data
    key = _stamp_hash(stamp)
    if key is not None and (earlier := _earlier_answer(key, stamp)) is not None:
        return _answer(earlier)
    url, message = work()
    answer = {"url": url, "message": message}
    if key is not None:
        db.session.add(UsedFormStamp(stamp_hash=key, form_name=form_name[:40], result=_seal(stamp, answer)))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        earlier = _earlier_answer(key, stamp) if key is not None else None
        if earlier is None:
            raise
        current_app.logger.info("form stamp used twice form=%s: the second post got the first one's answer", form_name)
        return _answer(earlier)
    return _answer(answer)


def purge_used_stamps(now: datetime | None = None) -> int:
    """Forget used stamps no form would accept any more (they are refused as stale); the caller commits."""
    begin_write()
    return UsedFormStamp.purge((now or utcnow()) - timedelta(days=USED_STAMP_DAYS))
