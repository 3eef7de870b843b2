"""The training area's absolute links (emails, invites, the calendar feed) and the booking's self-service token.

Links are url_for(..., _external=True): config.derive_settings sets SERVER_NAME and
PREFERRED_URL_SCHEME from SITE_URL and the app's URL adapter (web.requests.Portico) uses them
in requests too, so a link in an email names the site whatever Host or scheme queued it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from flask import current_app, url_for

from models import Booking, TrainingSession


def link_token(booking: Booking) -> str:
    """The booking's self-service token (256 bits), recomputable only with SECRET_KEY.

    The database holds only its SHA-256 (Booking.token_hash), so a copy of the
    database reveals no links; deriving it with an HMAC lets every later email
    (confirmation, reminder, ...) carry the same working link. If the stored hash
    does not match (a row made elsewhere, or SECRET_KEY was rotated), the link is
    re-issued: the caller's transaction stores the new hash with the email.
    """
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"portico.booking-link:{booking.id}".encode(), hashlib.sha256).digest()
    token = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    token_hash = Booking.hash_token(token)
    if booking.token_hash != token_hash:
        booking.token_hash = token_hash
    return token


def booking_url(booking: Booking, endpoint: str = "training.booking") -> str:
    """The client's page for this booking, or one of its actions (training.booking_attend, …_cancel)."""
    return url_for(endpoint, _external=True, token=link_token(booking))


def admin_booking_url(booking: Booking) -> str:
    """The admin page listing the session's bookings, at this booking's row."""
    return url_for("admin.session", _external=True, session_id=booking.session_id, _anchor=f"booking-{booking.id}")


def course_url(session: TrainingSession) -> str:
    return url_for("training.course", _external=True, slug=session.course.slug)


def book_url(session: TrainingSession) -> str:
    return url_for("training.book", _external=True, session_id=session.id)
