"""The emails a booking's changes queue: to the client (with the calendar invite when there is one) and to the consultant.

A client's own moves are held in the outbox for BOOKING_CHANGE_MAIL_HOLD_SECONDS
and a later change replaces what is still held, so a booking moved back and forth sends one email about
where it ended up, not one per click (issue #14: 12 "moved" emails in half a second).
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import delete

from blueprints.training.ics import invite_attachment
from blueprints.training.links import admin_booking_url, booking_url, course_url
from extensions import db
from mail.compose import queue_email
from models import Booking, OutboxMessage, site_settings, utcnow

# The self-service notices that a later change to the same booking supersedes while they are still held.
HELD_TEMPLATES = ("booking_moved", "booking_client_changed")


def mail_client(template: str, booking: Booking, *, attachments=None, hold: bool = False, **context) -> None:
    session = booking.session
    message = queue_email(
        template, to=booking.email, to_name=booking.name,
        reply_to=site_settings.current().consultant_email, reply_to_name=site_settings.current().consultant_name,
        related=f"booking:{booking.id}", attachments=attachments, has_invite=bool(attachments),
        booking=booking, session=session, course=session.course, link=booking_url(booking),
        course_url=course_url(session), **context,
    )
    if hold:
        _hold(message)


def mail_consultant(template: str, booking: Booking, *, hold: bool = False, **context) -> None:
    session = booking.session
    message = queue_email(
        template, to=site_settings.current().consultant_email, to_name=site_settings.current().consultant_name,
        reply_to=booking.email, reply_to_name=booking.name, related=f"booking:{booking.id}",
        booking=booking, session=session, course=session.course, admin_url=admin_booking_url(booking),
        seats_left=session.seats_left, **context,
    )
    if hold:
        _hold(message)


def _hold(message: OutboxMessage) -> None:
    message.next_attempt_at = utcnow() + timedelta(seconds=current_app.config["BOOKING_CHANGE_MAIL_HOLD_SECONDS"])


def withdraw_held(booking: Booking) -> int:
    """Delete this booking's self-service notices that no delivery pass has touched yet; the caller queues their successor.

    Only rows still pending with no attempt: one a worker has claimed (sending) or tried stays, and
    the DELETE's own condition is rechecked against a concurrent claim (PostgreSQL re-reads a row
    locked meanwhile; SQLite writers take turns), so a message is never both sent and withdrawn.
    """
    result = db.session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.related == f"booking:{booking.id}", OutboxMessage.template.in_(HELD_TEMPLATES),
            OutboxMessage.status == OutboxMessage.PENDING, OutboxMessage.attempts == 0,
        ).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def invite(booking: Booking, *, cancel: bool = False) -> list:
    """The booking's calendar entry as an attachment: METHOD:REQUEST, or CANCEL to withdraw it."""
    return [invite_attachment(booking, booking_url(booking), cancel=cancel)]
