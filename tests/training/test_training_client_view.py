"""What clients and the consultant read about a booking (issue #15): the cancel result, the seat counts and
waitlist sentences in the consultant's emails, one way of writing times, the booking page's facts, and the
audit log naming the client for what they did through their link."""
from __future__ import annotations

import base64
import itertools
import re
from datetime import datetime, timedelta, timezone

from icalendar import Calendar
from sqlalchemy import select

from blueprints.training import operations as ops
from extensions import db
from models import AuditLog, Booking, OutboxMessage
from tests.factories import make_course, make_session
from tests.training.helpers import run
from web.template_helpers import format_datetime

_clients = itertools.count(1)


def book(session, name="Client", seats=1, **fields):
    # Names from anywhere; ASCII addresses (internationalised ones are issue #15 item 1, another test's).
    email = fields.pop("email", f"client{next(_clients)}@example.com")
    return run(ops.book_session, session.id, name=name, email=email, seats=seats, **fields)


def text_of(html: str) -> str:
    """The page as a reader sees it: tags gone, whitespace collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def delivered(smtp_server, subject_start: str):
    from mail.delivery import deliver_pending

    deliver_pending()
    return [m for m in smtp_server.messages if str(m["Subject"]).startswith(subject_start)]


def plain(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_part(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


# --- the result of one's own cancel ------------------------------------------------------------

def test_own_cancel_says_it_was_cancelled_and_already_only_the_second_time(client, app):
    result = book(make_session(), name="Zoë Ærø")
    page = client.post(f"/bookings/{result.token}/cancel", follow_redirects=True).get_data(as_text=True)
    words = text_of(page)
    assert "Your booking is cancelled" in words
    assert "You cancelled this booking" in words
    assert "already" not in words
    again = text_of(client.post(f"/bookings/{result.token}/cancel", follow_redirects=True).get_data(as_text=True))
    assert "This booking is already cancelled." in again


def test_a_booking_the_consultant_cancelled_says_who_did(client, app):
    result = book(make_session())
    run(ops.cancel_booking, result.booking, object(), "Trainer ill.")
    words = text_of(client.get(f"/bookings/{result.token}").get_data(as_text=True))
    assert "cancelled this booking" in words and "You cancelled" not in words and "already" not in words


# --- the consultant's emails -------------------------------------------------------------------

def test_client_cancel_email_counts_seats_after_the_waitlist_took_them_and_names_who(mail_app, smtp_server):
    session = make_session(capacity=3)
    leaving = book(session, "Ana Lía", seats=2)
    book(session, "Bo", seats=1)
    book(session, "Çelik Öztürk", seats=1, waitlist=True)
    book(session, "Dana", seats=1, waitlist=True)
    run(ops.cancel_booking, leaving.booking)
    changed, = delivered(smtp_server, "Booking cancelled by the client")
    for body in (plain(changed), html_part(changed)):
        assert "Seats left on this session: 0 of 3." in body
        assert "Çelik Öztürk (1 seat), Dana (1 seat)" in body
        assert "offered to the waitlist" not in body
    promoted = delivered(smtp_server, "Promoted from the waitlist")
    assert len(promoted) == 2
    assert all("Seats left on this session: 0 of 3." in plain(m) for m in promoted)  # both after both promotions


def test_no_waitlist_sentence_when_nobody_was_waiting(mail_app, smtp_server):
    session = make_session(capacity=3)
    leaving = book(session, "Ana", seats=1)
    run(ops.cancel_booking, leaving.booking)
    changed, = delivered(smtp_server, "Booking cancelled by the client")
    for body in (plain(changed), html_part(changed)):
        assert "Seats left on this session: 3 of 3." in body
        assert "waitlist" not in body.lower()


def test_a_client_move_email_counts_both_sessions_after_the_waitlist(mail_app, smtp_server):
    course = make_course()
    first = make_session(course, capacity=1)
    later = make_session(course, capacity=4, starts_at=first.starts_at + timedelta(days=7))
    moving = book(first, "Ana")
    book(first, "Waiting Wen", waitlist=True)
    run(ops.move_booking, moving.booking, later.id)
    db.session.execute(db.text("UPDATE outbox_messages SET next_attempt_at = created_at"))  # the hold is over
    db.session.commit()
    changed, = delivered(smtp_server, "Booking moved by the client")
    body = plain(changed)
    assert "Seats left on the session they moved to: 3 of 4." in body
    assert "Seats left on the session they left" in body and ": 0 of 1." in body
    assert "Waiting Wen (1 seat)" in body


def test_a_waitlisted_booking_email_says_what_the_consultant_can_do(mail_app, smtp_server):
    session = make_session(capacity=1)
    book(session, "Ana")
    book(session, "Ñoño", waitlist=True)
    message, = delivered(smtp_server, "New waitlist entry")
    for body in (plain(message), html_part(message)):
        assert "confirm or decline" not in body.lower()
        assert "nothing to do now" in body.lower()
        assert "place 1" in body
        assert "cancel it in the admin" in body


# --- times: the zone once, with the offset -----------------------------------------------------

LONDON_MARCH = (datetime(2027, 3, 27, 9, 0, tzinfo=timezone.utc), datetime(2027, 3, 28, 16, 0, tzinfo=timezone.utc))


def test_times_say_the_zone_once_across_daylight_saving_changes():
    start, end = LONDON_MARCH  # the clocks go forward on Sunday 28 March 2027
    assert format_datetime(start, "Europe/London") == "Sat 27 March 2027, 09:00 GMT (UTC+00:00)"
    assert format_datetime(end, "Europe/London") == "Sun 28 March 2027, 17:00 BST (UTC+01:00)"
    october = datetime(2027, 10, 31, 0, 30, tzinfo=timezone.utc)  # 01:30 BST, then back to GMT at 01:00 UTC
    assert format_datetime(october, "Europe/London") == "Sun 31 October 2027, 01:30 BST (UTC+01:00)"
    assert format_datetime(october + timedelta(hours=1), "Europe/London") == "Sun 31 October 2027, 01:30 GMT (UTC+00:00)"
    # Lord Howe Island moves by half an hour (UTC+11:00 to +10:30, Sunday 4 April 2027); tzdata has no
    # abbreviation for it ("+11"), so the zone is named and the offset said once.
    before = datetime(2027, 4, 2, 22, 0, tzinfo=timezone.utc)
    after = datetime(2027, 4, 4, 6, 30, tzinfo=timezone.utc)
    assert format_datetime(before, "Australia/Lord_Howe") == "Sat 3 April 2027, 09:00 (Australia/Lord_Howe, UTC+11:00)"
    assert format_datetime(after, "Australia/Lord_Howe") == "Sun 4 April 2027, 17:00 (Australia/Lord_Howe, UTC+10:30)"
    assert format_datetime(before, "America/Sao_Paulo") == "Fri 2 April 2027, 19:00 (America/Sao_Paulo, UTC-03:00)"
    assert format_datetime(before) == "Fri 2 April 2027, 22:00 UTC"


def test_pages_emails_and_invites_write_times_the_one_way(client, app):
    """Across the change to summer time; 09:00 Saturday to 17:00 Sunday is two days of 09:00–17:00 local."""
    start, end = LONDON_MARCH
    session = make_session(starts_at=start, ends_at=end, timezone="Europe/London", capacity=5)
    starts, day2 = "Sat 27 March 2027, 09:00 GMT (UTC+00:00)", "Sun 28 March 2027, 09:00 BST (UTC+01:00)"
    result = book(session, "Ana")
    pages = [client.get(url).get_data(as_text=True) for url in (
        "/training", f"/training/{session.course.slug}", f"/training/sessions/{session.id}/book",
        f"/bookings/{result.token}")]
    for page in pages:
        words = text_of(page)
        assert starts in words
        assert "(Europe/London)" not in words and "Time zone" not in words
    assert f"Day 2 {day2} to 17:00" in text_of(pages[2]) and f"Day 2 {day2} to 17:00" in text_of(pages[3])
    run(ops.confirm_booking, result.booking, object())
    confirmed = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "booking_confirmed"))
    assert f"Day 1: {starts} to 17:00" in confirmed.text_body and f"Day 2: {day2} to 17:00" in confirmed.text_body
    attachment, = confirmed.attachments
    invite = Calendar.from_ical(base64.b64decode(attachment["data"]))
    description = str(next(iter(invite.walk("VEVENT")))["DESCRIPTION"])
    assert f"Day 1: {starts} to 17:00\nDay 2: {day2} to 17:00" in description
    feed = Calendar.from_ical(client.get("/training/calendar.ics").data)
    assert f"Day 1 of 2: {starts} to 17:00." in str(next(iter(feed.walk("VEVENT")))["DESCRIPTION"])


# --- the booking page --------------------------------------------------------------------------

def test_the_booked_time_keeps_its_zone_after_a_move(client, app):
    course = make_course()
    london = make_session(course, timezone="Europe/London")
    new_york = make_session(course, timezone="America/New_York", starts_at=london.starts_at + timedelta(days=7))
    result = book(london, "Ana")

    def booked() -> str:
        page = client.get(f"/bookings/{result.token}").get_data(as_text=True)
        return re.search(r"<dt>Booked</dt><dd>(.*?)</dd>", page, re.S).group(1)

    before = booked()
    run(ops.move_booking, result.booking, new_york.id)
    assert booked() == before
    assert "UTC" in text_of(before)  # and it says which zone that is


def test_the_booking_page_shows_notes_price_and_place_on_the_waitlist(client, app):
    session = make_session(make_course(price=1200, currency="EUR"), capacity=2)
    notes = "Végétarien, sans noix.\nمقعد قرب الباب"
    book(session, "Ana", seats=2)
    first = book(session, "Bo", waitlist=True)
    second = book(session, "Chloé", seats=2, waitlist=True, notes=notes)
    page = client.get(f"/bookings/{second.token}").get_data(as_text=True)
    words = text_of(page)
    assert "Végétarien, sans noix." in words and "مقعد قرب الباب" in words
    assert "Végétarien, sans noix.<br>مقعد قرب الباب" in page  # the client's line break kept, nothing else unescaped
    assert '<dd dir="auto">Végétarien' in page  # each line in its own writing direction, not forced left-to-right
    assert "EUR 2,400 (2 seats at EUR 1,200)" in words
    assert "On the waitlist : place 2" in words and "1 booking ahead of you" in words
    assert "On the waitlist : place 1" in text_of(client.get(f"/bookings/{first.token}").get_data(as_text=True))
    assert book(session, "Eve <script>", waitlist=True, notes="<b>bold</b>").booking.waitlist_place == 3
    told = db.session.scalars(select(OutboxMessage.text_body).where(OutboxMessage.template == "booking_waitlisted")
                              .order_by(OutboxMessage.id)).all()
    assert [f"on its waitlist (place {n})." in text for n, text in enumerate(told, 1)] == [True] * 3
    assert Booking.query.filter_by(name="Ana").one().waitlist_place is None


# --- the audit log names the client --------------------------------------------------------------

def test_a_clients_own_actions_are_audited_as_the_client(client, admin_client, app):
    course = make_course()
    first = make_session(course)
    later = make_session(course, starts_at=first.starts_at + timedelta(days=7))
    staying = book(first, "Ana")
    leaving = book(first, "Bo")
    assert client.post(f"/bookings/{staying.token}/attend").status_code == 303
    assert client.post(f"/bookings/{staying.token}/move", data={"session_id": later.id, "confirm": "yes"}).status_code == 303
    assert client.post(f"/bookings/{leaving.token}/cancel").status_code == 303
    entries = {(e.action, e.target_id): e.who
               for e in db.session.scalars(select(AuditLog).where(AuditLog.action.startswith("booking.")))}
    assert entries == {
        ("booking.attendance_confirmed", staying.booking.id): f"client (booking #{staying.booking.id})",
        ("booking.move", staying.booking.id): f"client (booking #{staying.booking.id})",
        ("booking.cancel", leaving.booking.id): f"client (booking #{leaving.booking.id})",
    }
    audit_page = text_of(admin_client.get("/admin/audit").get_data(as_text=True))
    assert f"client (booking #{leaving.booking.id}) booking.cancel" in audit_page
    assert "system" not in audit_page
    db.session.expire_all()
    ana, bo = db.session.get(Booking, staying.booking.id), db.session.get(Booking, leaving.booking.id)
    assert ana.attendance_confirmed_at is not None and ana.client_moved_at is not None and ana.cancelled_by is None
    assert bo.cancelled_by == Booking.CLIENT and bo.cancelled_at is not None
