"""Multi-day sessions: each day its own time range, in the session's zone, across a change to summer time:
on the pages, in emails, in the invite (one UID, an RDATE per further day, overrides for other hours) and in
/training/calendar.ics (one event per day), as a calendar parser reads them."""
from __future__ import annotations

import base64
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlalchemy import select

from blueprints.training import operations as ops
from extensions import db
from models import AuditLog, OutboxMessage, TrainingSession
from models.session_days import DaysError, default_range, parse_days, split_range
from tests.factories import make_admin, make_course, make_session
from tests.training.helpers import run

LONDON = ZoneInfo("Europe/London")
# Europe/London goes to summer time at 01:00 UTC on Sunday 28 March 2027.
FRIDAY = datetime(2027, 3, 26, 9, 0, tzinfo=LONDON)
SUNDAY_END = datetime(2027, 3, 28, 17, 0, tzinfo=LONDON)

try:  # the library calendar programs' own expansion resembles; else expand by hand (below)
    import recurring_ical_events
except ImportError:  # pragma: no cover - not installed here
    recurring_ical_events = None


def expand(cal: Calendar) -> list[tuple[datetime, datetime]]:
    """Every occurrence of the calendar's events, as RFC 5545 defines them: DTSTART, each RDATE instant with
    the event's duration, an override (same UID, RECURRENCE-ID) replacing the instance it names."""
    if recurring_ical_events is not None:
        return sorted((e.decoded("DTSTART"), e.decoded("DTEND"))
                      for e in recurring_ical_events.of(cal).between(datetime(2000, 1, 1), datetime(2100, 1, 1)))
    masters = [e for e in cal.walk("VEVENT") if "RECURRENCE-ID" not in e]
    overrides = {(str(e["UID"]), e.decoded("RECURRENCE-ID")): e for e in cal.walk("VEVENT") if "RECURRENCE-ID" in e}
    out = []
    for event in masters:
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert "RRULE" not in event  # an RRULE over UTC instants would move the local hour at the change
        starts = [start]
        rdates = event.get("RDATE")
        for prop in (rdates if isinstance(rdates, list) else [rdates] if rdates is not None else []):
            starts += [d.dt for d in prop.dts]
        for s in starts:
            override = overrides.get((str(event["UID"]), s))
            out.append((override.decoded("DTSTART"), override.decoded("DTEND")) if override else (s, s + (end - start)))
    return sorted(out)


def local_hours(ranges) -> list[tuple[date, time, time]]:
    return [(s.astimezone(LONDON).date(), s.astimezone(LONDON).time(), e.astimezone(LONDON).time()) for s, e in ranges]


def three_days() -> TrainingSession:
    return make_session(course=make_course(title="Linux ops", duration_days=3), starts_at=FRIDAY.astimezone(UTC),
                        ends_at=SUNDAY_END.astimezone(UTC), timezone="Europe/London", capacity=4)


NINE_TO_FIVE = [(date(2027, 3, 26), time(9), time(17)), (date(2027, 3, 27), time(9), time(17)),
                (date(2027, 3, 28), time(9), time(17))]


def test_the_default_split_keeps_09_to_17_local_across_the_change():
    days = split_range(FRIDAY.astimezone(UTC), SUNDAY_END.astimezone(UTC), "Europe/London")
    assert local_hours(days) == NINE_TO_FIVE
    assert days[0][0].hour == 9 and days[2][0].hour == 8  # GMT, then BST: 08:00 UTC on Sunday
    first, last = default_range(date(2027, 3, 26), 3, "Europe/London")
    assert (first, last) == (FRIDAY.astimezone(UTC), SUNDAY_END.astimezone(UTC))
    # One long block (an overnight run, or a session under a day) is not split.
    assert len(split_range(FRIDAY.astimezone(UTC), FRIDAY.astimezone(UTC) + timedelta(hours=8), "Europe/London")) == 1
    evening = datetime(2027, 3, 26, 20, tzinfo=LONDON).astimezone(UTC)
    assert len(split_range(evening, evening + timedelta(hours=8), "Europe/London")) == 1


def test_the_feed_has_one_event_per_day_at_local_hours(client, app):
    session = three_days()
    cal = Calendar.from_ical(client.get("/training/calendar.ics").data)
    events = [e for e in cal.walk("VEVENT") if f"session-{session.id}" in str(e["UID"])]
    assert len({str(e["UID"]) for e in events}) == 3
    assert local_hours(expand(cal)) == NINE_TO_FIVE
    assert [str(e["SUMMARY"]) for e in events] == [f"Linux ops training (day {n} of 3)" for n in (1, 2, 3)]


def test_the_invite_is_one_uid_whose_instances_are_the_days(app):
    session = three_days()
    booking = run(ops.book_session, session.id, name="Zoë", email="zoe@example.com").booking
    run(ops.confirm_booking, booking, make_admin())
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "booking_confirmed"))
    cal = Calendar.from_ical(base64.b64decode(message.attachments[0]["data"]))
    assert {str(e["UID"]) for e in cal.walk("VEVENT")} == {f"booking-{booking.id}@localhost"}
    assert local_hours(expand(cal)) == NINE_TO_FIVE
    assert "Day 3: Sun 28 March 2027, 09:00 BST (UTC+01:00) to 17:00" in message.text_body
    assert ">Day 1<" in message.html_body and "Fri 26 March 2027, 09:00 GMT (UTC+00:00) to 17:00" in message.html_body


def test_the_days_page_gives_each_day_its_own_hours_and_tells_everyone(admin_client, client):
    session = three_days()
    booking = run(ops.book_session, session.id, name="Ana", email="ana@example.com").booking
    run(ops.confirm_booking, booking, make_admin())
    page = admin_client.get(f"/admin/sessions/{session.id}/days").text
    assert "2027-03-26 09:00-17:00\n2027-03-27 09:00-17:00\n2027-03-28 09:00-17:00" in page
    new_days = "2027-03-26 09:00-17:00\n2027-03-29 09:30-13:00\n"  # the weekend off, a short Monday (BST)
    ask = admin_client.post(f"/admin/sessions/{session.id}/days", data={"days": new_days})
    assert ask.status_code == 200 and "Change the days?" in ask.text
    done = admin_client.post(f"/admin/sessions/{session.id}/days", data={"days": new_days, "confirm": "1",
                                                                        "message": "Montag kürzer."})
    assert done.status_code == 303
    db.session.expire_all()
    session = db.session.get(TrainingSession, session.id)
    assert local_hours([(d.starts_at, d.ends_at) for d in session.days]) == [
        (date(2027, 3, 26), time(9), time(17)), (date(2027, 3, 29), time(9, 30), time(13))]
    assert session.ends_at == datetime(2027, 3, 29, 12, tzinfo=UTC)
    moved = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "booking_rescheduled"))
    assert "Montag kürzer." in moved.text_body and "Day 2: Mon 29 March 2027, 09:30 BST (UTC+01:00) to 13:00" in moved.text_body
    cal = Calendar.from_ical(base64.b64decode(moved.attachments[0]["data"]))
    assert local_hours(expand(cal)) == [(date(2027, 3, 26), time(9), time(17)), (date(2027, 3, 29), time(9, 30), time(13))]
    assert len(list(cal.walk("VEVENT"))) == 2  # the short day is an override
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "session.reschedule")) is not None
    public = client.get(f"/training/sessions/{session.id}/book").text
    assert "Day 2" in public and "09:30 BST (UTC+01:00)" in public and "13:00" in public
    feed = Calendar.from_ical(client.get("/training/calendar.ics").data)
    assert local_hours(expand(feed)) == [(date(2027, 3, 26), time(9), time(17)), (date(2027, 3, 29), time(9, 30), time(13))]


def test_days_that_cannot_be_are_form_errors(admin_client):
    session = three_days()
    for text, words in (("2027-03-26 09:00-17:00\n2027-03-26 16:00-18:00", "overlap"),
                        ("2027-02-30 09:00-17:00", "real date"), ("Friday morning", "2027-03-29 09:00-17:00"),
                        ("2027-03-26 17:00-09:00", "end after"), ("", "at least one day"),
                        ("2020-01-01 09:00-17:00", "past")):
        response = admin_client.post(f"/admin/sessions/{session.id}/days", data={"days": text})
        assert response.status_code == 422 and words in response.text, text
    for text in ("2027-13-01 09:00-10:00", "2027-03-26 25:00-26:00"):
        try:
            parse_days(text, "Europe/London")
        except DaysError:
            continue
        raise AssertionError(text)
