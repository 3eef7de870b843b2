"""Joining details reach confirmed bookings only: their confirmation, invite (LOCATION/URL/DESCRIPTION) and reminder;
a change re-sends the invite (SEQUENCE + 1) to them alone; no public page, feed or other email ever has them."""
from __future__ import annotations

import base64
from datetime import timedelta

from icalendar import Calendar
from sqlalchemy import select

from blueprints.training import operations as ops
from blueprints.training import private
from blueprints.training.schedule import send_reminders
from extensions import db
from models import Booking, OutboxMessage, TrainingSession
from tests.factories import make_admin, make_course, make_enquiry, make_session
from tests.hardening import get_urls, known_values
from tests.training.helpers import run

SECRET_URL = "https://meet.example/j/4471-secret-ünïcode"
PASSCODE = "Passcode 912 437, dial +44 20 7946 0000"
ADDRESS = "Rue de la Loi 16, 1000 Bruxelles"
ROOM = "Salle Ψ-3"
SECRETS = ("4471-secret", "912 437", "Rue de la Loi", "Salle Ψ-3")


def calendar_of(message: OutboxMessage) -> Calendar:
    invite = next(a for a in message.attachments if a["content_type"].startswith("text/calendar"))
    return Calendar.from_ical(base64.b64decode(invite["data"]))


def everything_in(message: OutboxMessage) -> str:
    parts = [message.subject, message.text_body, message.html_body]
    parts += [base64.b64decode(a["data"]).decode("utf-8", "replace") for a in message.attachments]
    # Folded iCalendar lines: unfold so a secret split across lines is still found.
    return "\n".join(parts).replace("\r\n ", "").replace("\\,", ",")


def people(session):
    """A confirmed, a pending and a waitlisted booking (capacity 2: the third waits)."""
    confirmed = run(ops.book_session, session.id, name="Chloé Confirmed", email="chloé@example.fr").booking
    run(ops.confirm_booking, confirmed, make_admin())
    pending = run(ops.book_session, session.id, name="Paweł Pending", email="pawel@example.pl")
    waiting = run(ops.book_session, session.id, name="وليد Waiting", email="walid@example.com", waitlist=True)
    assert waiting.booking.status == Booking.WAITLISTED
    return confirmed, pending, waiting


def test_a_change_sends_an_updated_invite_to_confirmed_bookings_only(admin_client):
    session = make_session(capacity=2, mode=TrainingSession.ONLINE)
    confirmed, pending, waiting = people(session)
    first_invite = calendar_of(db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "booking_confirmed")))
    assert not any(s in first_invite.to_ical().decode() for s in SECRETS)  # none given yet
    data = {"join_url": SECRET_URL, "join_text": PASSCODE, "venue_address": "", "venue_room": "", "arrival_notes": ""}
    ask = admin_client.post(f"/admin/sessions/{session.id}/joining", data=data)
    assert ask.status_code == 200 and "Send the new joining details to 1 person?" in ask.text
    assert not db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "booking_joining_updated")).all()
    done = admin_client.post(f"/admin/sessions/{session.id}/joining", data={**data, "confirm": "1"})
    assert done.status_code == 303
    updated = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "booking_joining_updated")).all()
    assert [m.to_addr for m in updated] == ["chloé@example.fr"]
    event = next(iter(calendar_of(updated[0]).walk("VEVENT")))
    assert str(event["LOCATION"]) == SECRET_URL and str(event["URL"]) == SECRET_URL
    assert PASSCODE in str(event["DESCRIPTION"])
    assert int(event["SEQUENCE"]) == int(next(iter(first_invite.walk("VEVENT")))["SEQUENCE"]) + 1
    assert SECRET_URL in updated[0].text_body and f'href="{SECRET_URL}"' in updated[0].html_body
    # Saving the same details again sends nothing.
    admin_client.post(f"/admin/sessions/{session.id}/joining", data={**data, "confirm": "1"})
    assert len(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "booking_joining_updated")).all()) == 1
    assert admin_client.post(f"/admin/sessions/{session.id}/joining",
                             data={**data, "join_url": "javascript:alert(1)"}).status_code == 422


def test_on_site_details_are_the_invites_location(app):
    session = make_session(mode=TrainingSession.ON_SITE, location="Brussels", venue_address=ADDRESS, venue_room=ROOM,
                           arrival_notes="Ask for Ana at reception")
    booking = run(ops.book_session, session.id, name="Ana", email="ana@example.com").booking
    run(ops.confirm_booking, booking, make_admin())
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "booking_confirmed"))
    event = next(iter(calendar_of(message).walk("VEVENT")))
    assert str(event["LOCATION"]) == f"{ROOM}, {ADDRESS}"
    assert "Ask for Ana at reception" in message.text_body and ADDRESS in message.html_body


def test_no_public_page_feed_or_email_to_a_non_confirmed_booking_has_them(client, app):
    """Crawl every public URL (with every token a visitor could hold) and read every email the test sent."""
    public = make_session(capacity=2, mode=TrainingSession.ONLINE, join_url=SECRET_URL, join_text=PASSCODE)
    confirmed, pending, waiting = people(public)
    # A private course too: its link, its proposals, a registration, a consultant-added attendee.
    enquiry = make_enquiry(kind="private_training", course_id=make_course().id, attendees=2, training_format="on-site")
    proposals = run(private.propose_dates, enquiry, make_admin(), course_id=enquiry.course_id,
                    ranges=[(public.starts_at, public.ends_at), (public.starts_at + timedelta(days=3), public.ends_at + timedelta(days=3))],
                    timezone="Europe/Brussels", mode="on-site", location="Brussels", capacity=1)
    link = run(private.accept_proposal, proposals[0])
    private_session = db.session.get(TrainingSession, link.session_id)
    private_session.venue_address, private_session.venue_room = ADDRESS, ROOM
    db.session.commit()
    registered = run(private.register, link, name="Ana", email="ana@example.com")
    waiting_private = run(private.register, link, name="Ben", email="ben@example.com", waitlist=True)
    assert registered.booking.status == Booking.CONFIRMED and waiting_private.booking.status == Booking.WAITLISTED
    # The 48-hour reminders go to pending and confirmed bookings (both sessions start at the same time).
    assert run(send_reminders, public.starts_at - timedelta(hours=47)) == 3

    known = known_values()
    known["token"] = [pending.token, waiting.token, waiting_private.token, private.link_token(link),
                      private.proposal_token(proposals[0]), private.proposal_token(proposals[1])]
    crawled = 0
    for url in get_urls(app, known):
        if url.startswith("/admin"):
            continue
        response = client.get(url)
        body = response.get_data(as_text=True) if response.mimetype.startswith(("text/", "application/")) else ""
        response.close()
        crawled += response.status_code == 200
        for secret in SECRETS:
            assert secret not in body, f"{url} shows a joining detail"
    assert crawled > 20
    assert client.get(f"/training/private/{private.link_token(link)}").status_code == 200  # it was crawled for real

    confirmed_ids = {confirmed.id, registered.booking.id}
    seen = set()
    for message in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)):
        text = everything_in(message)
        if any(secret in text for secret in SECRETS):
            kind, _, booking_id = message.related.partition(":")
            assert kind == "booking" and int(booking_id) in confirmed_ids, (message.template, message.to_addr)
            assert message.template in ("booking_confirmed", "booking_reminder", "booking_joining_updated")
            seen.add((message.template, int(booking_id)))
    # The confirmed ones did get them: the public session's from the start; the private one's in its reminder.
    assert ("booking_confirmed", confirmed.id) in seen and ("booking_reminder", confirmed.id) in seen
    assert ("booking_reminder", registered.booking.id) in seen
    reminder_to_pending = db.session.scalar(select(OutboxMessage).where(
        OutboxMessage.template == "booking_reminder", OutboxMessage.related == f"booking:{pending.booking.id}"))
    assert reminder_to_pending is not None  # it went, without them
