"""The emails a booking's changes queue: to the client (with the calendar invite when there is one) and to the consultant."""
from __future__ import annotations

from flask import current_app

from blueprints.training.ics import invite_attachment
from blueprints.training.links import admin_booking_url, booking_url, course_url
from mail.compose import queue_email
from models import Booking


def mail_client(template: str, booking: Booking, *, attachments=None, **context) -> None:
    session = booking.session
    queue_email(
        template, to=booking.email, to_name=booking.name,
        reply_to=current_app.config["CONSULTANT_EMAIL"], reply_to_name=current_app.config["CONSULTANT_NAME"],
        related=f"booking:{booking.id}", attachments=attachments, has_invite=bool(attachments),
        booking=booking, session=session, course=session.course, link=booking_url(booking),
        course_url=course_url(session), **context,
    )


def mail_consultant(template: str, booking: Booking, **context) -> None:
    session = booking.session
    queue_email(
        template, to=current_app.config["CONSULTANT_EMAIL"], to_name=current_app.config["CONSULTANT_NAME"],
        reply_to=booking.email, reply_to_name=booking.name, related=f"booking:{booking.id}",
        booking=booking, session=session, course=session.course, admin_url=admin_booking_url(booking),
        seats_left=session.seats_left, **context,
    )


def invite(booking: Booking, *, cancel: bool = False) -> list:
    """The booking's calendar entry as an attachment: METHOD:REQUEST, or CANCEL to withdraw it."""
    return [invite_attachment(booking, booking_url(booking), cancel=cancel)]
