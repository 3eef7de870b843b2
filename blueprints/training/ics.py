"""iCalendar (RFC 5545) for training: per-booking invites and the public sessions feed.

Times are written as UTC instants ("...Z"), so every calendar places them
correctly without a VTIMEZONE block; the session's own zone is named in the
description. A booking's invite keeps one UID for its whole life: a REQUEST
with a higher SEQUENCE replaces the entry, a CANCEL with the same UID removes it.
"""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from icalendar import Calendar, Event, vCalAddress, vText

from blueprints.training.links import book_url, course_url
from mail.compose import Attachment
from models import Booking, TrainingSession, site_settings, utcnow
from web.template_helpers import format_datetime

PRODID = "-//Portico//Training sessions//EN"


def booking_uid(booking: Booking) -> str:
    return f"booking-{booking.id}@{current_app.config['SITE_HOST']}"


def session_uid(session: TrainingSession) -> str:
    return f"session-{session.id}@{current_app.config['SITE_HOST']}"


def _calendar(method: str | None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    return cal


def _session_event(session: TrainingSession, uid: str, sequence: int, now: datetime) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", now)
    event.add("dtstart", session.starts_at)
    event.add("dtend", session.ends_at)
    event.add("summary", f"{session.course.title} training")
    event.add("location", session.where)
    event.add("url", course_url(session))
    return event


def _organizer() -> vCalAddress:
    organizer = vCalAddress(f"mailto:{site_settings.current().consultant_email}")
    organizer.params["cn"] = vText(site_settings.current().consultant_name)
    return organizer


def booking_invite(booking: Booking, link: str, *, cancel: bool = False, now: datetime | None = None) -> bytes:
    """METHOD:REQUEST (or CANCEL) for one booking, with organizer and attendee."""
    session = booking.session
    now = now or utcnow()
    cal = _calendar("CANCEL" if cancel else "REQUEST")
    event = _session_event(session, booking_uid(booking), booking.ics_sequence, now)
    event.add("status", "CANCELLED" if cancel else "CONFIRMED")
    event.add("description", (
        f"{session.course.title} training, {booking.seats} seat{'s' if booking.seats != 1 else ''}.\n"
        f"Starts {format_datetime(session.starts_at, session.timezone)}, "
        f"ends {format_datetime(session.ends_at, session.timezone)}.\n"
        f"{session.where}.\nYour booking: {link}"
    ))
    event.add("organizer", _organizer())
    attendee = vCalAddress(f"mailto:{booking.email}")
    attendee.params["cn"] = vText(booking.name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText("ACCEPTED")
    attendee.params["rsvp"] = vText("FALSE")
    event.add("attendee", attendee)
    if cancel:
        event.add("transp", "TRANSPARENT")
    cal.add_component(event)
    return cal.to_ical()


def invite_attachment(booking: Booking, link: str, *, cancel: bool = False) -> Attachment:
    method = "CANCEL" if cancel else "REQUEST"
    return Attachment(
        filename="cancel.ics" if cancel else "invite.ics",
        content_type=f"text/calendar; method={method}; charset=utf-8",
        data=booking_invite(booking, link, cancel=cancel),
    )


def sessions_feed(sessions: list[TrainingSession], now: datetime | None = None) -> bytes:
    """The public calendar of upcoming sessions (METHOD:PUBLISH, one stable UID per session)."""
    now = now or utcnow()
    cal = _calendar("PUBLISH")
    cal.add("x-wr-calname", f"{site_settings.current().site_name} training sessions")
    for session in sessions:
        event = _session_event(session, session_uid(session), session.sequence, now)
        event.add("status", "CONFIRMED")
        event.add("description", (
            f"{session.course.summary}\n"
            f"Starts {format_datetime(session.starts_at, session.timezone)}. {session.where}.\n"
            f"Book: {book_url(session)}"
        ))
        event.add("organizer", _organizer())
        cal.add_component(event)
    return cal.to_ical()
