"""iCalendar (RFC 5545) for training: per-booking invites and the public sessions feed.

Times are written as UTC instants ("...Z"), so every calendar places them
correctly without a VTIMEZONE block; the session's own zone is named in the
description. A booking's invite keeps one UID for its whole life: a REQUEST
with a higher SEQUENCE replaces the entry, a CANCEL with the same UID removes it.

A multi-day session (models/session_days.py) is one event per day: in the public feed each day is an
event of its own (UIDs session-N@ and session-N-dayK@), and in a booking's invite, which iTIP allows one
UID, the first day is the event and the others its instances, each named by an explicit RDATE instant
(never an RRULE over UTC, which would move the local hour across a change to or from summer time); a
day whose hours differ from the first day's is an override (RECURRENCE-ID) with its own end.

Joining details (the meeting link, passcode, address, room) go only into the invite of a confirmed
booking: its LOCATION, URL and DESCRIPTION. The public feed never carries them.
"""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from icalendar import Calendar, Event, vCalAddress, vText

from blueprints.training.links import book_url, course_url
from mail.compose import Attachment
from models import Booking, TrainingSession, site_settings, utcnow
from web.template_helpers import format_datetime, format_time

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


def _session_event(session: TrainingSession, uid: str, sequence: int, now: datetime, day=None) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", now)
    event.add("dtstart", day.starts_at if day else session.starts_at)
    event.add("dtend", day.ends_at if day else session.ends_at)
    days = len(session.days)
    suffix = f" (day {day.number} of {days})" if day and days > 1 else ""
    event.add("summary", f"{session.course.title} training{suffix}")
    event.add("location", session.where)
    event.add("url", course_url(session))
    return event


def days_text(session: TrainingSession) -> str:
    """Each day's hours in the session's zone, one line each (or the start and end of a one-day session)."""
    days = session.days
    if len(days) == 1:
        return (f"Starts {format_datetime(session.starts_at, session.timezone)}, "
                f"ends {format_datetime(session.ends_at, session.timezone)}.")
    return "\n".join(f"Day {d.number}: {format_datetime(d.starts_at, session.timezone)} to "
                     f"{format_time(d.ends_at, session.timezone)}" for d in days)


def joining_text(session: TrainingSession) -> str:
    return "\n".join(f"{label}: {value}" for label, value in session.joining_lines())


def _organizer() -> vCalAddress:
    organizer = vCalAddress(f"mailto:{site_settings.current().consultant_email}")
    organizer.params["cn"] = vText(site_settings.current().consultant_name)
    return organizer


def booking_invite(booking: Booking, link: str, *, cancel: bool = False, now: datetime | None = None) -> bytes:
    """METHOD:REQUEST (or CANCEL) for one booking, with organizer and attendee."""
    session = booking.session
    now = now or utcnow()
    cal = _calendar("CANCEL" if cancel else "REQUEST")
    days = session.days
    joining = not cancel and booking.status == Booking.CONFIRMED and session.has_joining_details
    description = (
        f"{session.course.title} training, {booking.seats} seat{'s' if booking.seats != 1 else ''}.\n"
        f"{days_text(session)}\n{session.where}.\n"
        + (f"\nHow to join:\n{joining_text(session)}\n\n" if joining else "")
        + f"Your booking: {link}"
    )

    def event_for(day, recurrence_id=None) -> Event:
        event = _session_event(session, booking_uid(booking), booking.ics_sequence, now, day)
        if recurrence_id is not None:
            event.add("recurrence-id", recurrence_id)
        event.add("status", "CANCELLED" if cancel else "CONFIRMED")
        if joining:
            event.pop("location")
            event.add("location", session.joining_location)
            if session.mode == TrainingSession.ONLINE and session.join_url:
                event.pop("url")
                event.add("url", session.join_url)
        event.add("description", description)
        event.add("organizer", _organizer())
        attendee = vCalAddress(f"mailto:{booking.email}")
        attendee.params["cn"] = vText(booking.name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("ACCEPTED")
        attendee.params["rsvp"] = vText("FALSE")
        event.add("attendee", attendee)
        if cancel:
            event.add("transp", "TRANSPARENT")
        return event

    first = days[0]
    master = event_for(first if len(days) > 1 else None)
    if len(days) > 1:
        master.add("rdate", [d.starts_at for d in days[1:]])
    cal.add_component(master)
    for day in days[1:]:
        if day.duration != first.duration:  # its own end: an override of the instance RDATE names
            cal.add_component(event_for(day, recurrence_id=day.starts_at))
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
        days = session.days
        for day in days:
            uid = session_uid(session) if day.number == 1 else session_uid(session).replace("@", f"-day{day.number}@", 1)
            event = _session_event(session, uid, session.sequence, now, day if len(days) > 1 else None)
            event.add("status", "CONFIRMED")
            when = (f"Starts {format_datetime(session.starts_at, session.timezone)}." if len(days) == 1 else
                    f"Day {day.number} of {len(days)}: {format_datetime(day.starts_at, session.timezone)} to "
                    f"{format_time(day.ends_at, session.timezone)}.")
            event.add("description", f"{session.course.summary}\n{when} {session.where}.\nBook: {book_url(session)}")
            event.add("organizer", _organizer())
            cal.add_component(event)
    return cal.to_ical()
