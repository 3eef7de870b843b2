"""Sessions and bookings in the admin: list, create, edit, the attendee CSV."""
from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from models import AuditLog, Booking, OutboxMessage, TrainingSession
from tests.factories import make_booking, make_course, make_session


def test_sessions_list_shows_seats_and_pending_bookings(admin_client):
    session = make_session(capacity=8)
    make_booking(session, seats=3, status=Booking.CONFIRMED)
    pending = make_booking(session, seats=2, name="Waiting Person")
    make_booking(session, seats=4, status=Booking.CANCELLED)
    page = admin_client.get("/admin/sessions").text
    assert "5 of 8 seats held, 3 left" in page
    assert 'value="5"' in page and "<meter" in page
    assert "Waiting Person" in page and f"#booking-{pending.id}" in page
    past = make_session(starts_at=datetime.now(UTC) - timedelta(days=30))
    assert f"/admin/sessions/{past.id}" in admin_client.get("/admin/sessions?show=past").text
    assert "5 of 8 seats held" in admin_client.get("/admin/").text  # the dashboard's bar


def test_session_page_shows_bookings_and_actions(admin_client):
    session = make_session(capacity=4)
    b = make_booking(session, name="Ada Lovelace", seats=2)
    page = admin_client.get(f"/admin/sessions/{session.id}").text
    assert "Ada Lovelace" in page and "2 of 4 seats held, 2 left" in page
    assert f"/admin/bookings/{b.id}/confirm" in page and f"/admin/bookings/{b.id}/decline" in page
    assert admin_client.get("/admin/sessions/9999").status_code == 404


def test_create_session_converts_local_time(admin_client, db_session):
    make_course()
    course = make_course()
    assert f'<option selected value="{course.id}">' in admin_client.get(f"/admin/sessions/new?course_id={course.id}").text
    response = admin_client.post("/admin/sessions/new", data={
        "course_id": course.id, "starts_at": "2027-07-01T09:00", "ends_at": "2027-07-01T17:00",
        "timezone": "America/New_York", "mode": "online", "location": "", "capacity": "12"})
    assert response.status_code == 303
    session = db_session.scalar(select(TrainingSession))
    assert session.starts_at == datetime(2027, 7, 1, 13, 0, tzinfo=UTC)  # 09:00 EDT
    assert not session.is_private and session.capacity == 12
    entry = db_session.scalar(select(AuditLog).where(AuditLog.action == "session.create"))
    assert entry.target_id == session.id


def test_invalid_session_form_shows_errors(admin_client, db_session):
    course = make_course()
    response = admin_client.post("/admin/sessions/new", data={
        "course_id": course.id, "starts_at": "tomorrow", "ends_at": "", "timezone": "Nowhere/Land",
        "mode": "teleport", "capacity": "-1"})
    assert response.status_code == 422
    for field in ("starts_at", "ends_at", "timezone", "mode", "capacity"):
        assert f'id="{field}-error"' in response.text, field
    assert db_session.scalar(select(TrainingSession)) is None


def test_edit_without_new_times_saves_directly(admin_client, db_session):
    session = make_session(capacity=10, starts_at=datetime(2027, 5, 3, 8, 0, tzinfo=UTC), timezone="Europe/London")
    make_booking(session, seats=4)
    form = admin_client.get(f"/admin/sessions/{session.id}/edit").text
    assert 'value="2027-05-03T09:00"' in form  # shown in the session's zone (BST)
    data = {"course_id": session.course_id, "starts_at": "2027-05-03T09:00", "ends_at": "2027-05-03T17:00",
            "timezone": "Europe/London", "mode": "on-site", "location": "London office", "capacity": "3"}
    response = admin_client.post(f"/admin/sessions/{session.id}/edit", data=data)
    assert response.status_code == 422 and "4 seats are already held" in response.text
    response = admin_client.post(f"/admin/sessions/{session.id}/edit", data={**data, "capacity": "6"})
    assert response.status_code == 303
    db_session.expire_all()
    assert session.capacity == 6 and session.location == "London office"
    assert session.starts_at == datetime(2027, 5, 3, 8, 0, tzinfo=UTC)


def test_attendee_csv_has_the_agreed_columns_and_defuses_formulas(admin_client):
    session = make_session()
    make_booking(session, name="=HYPERLINK(\"http://evil\")", email="ada@example.com", company="+Acme",
                 seats=2, notes="secret note", status=Booking.CONFIRMED)
    make_booking(session, name="Bob", email="bob@example.com", company="@corp", seats=1)
    make_booking(make_session(), name="Someone Else", email="else@example.com")
    response = admin_client.get(f"/admin/sessions/{session.id}/attendees.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0] == ["name", "email", "company", "seats", "status", "booked_at", "attendance_confirmed_at",
                       "cancelled_at", "cancelled_by", "moved_by_client_from", "notes"]
    assert len(rows) == 3
    assert rows[1][:5] == ["'=HYPERLINK(\"http://evil\")", "ada@example.com", "'+Acme", "2", "confirmed"]
    assert rows[2][:5] == ["Bob", "bob@example.com", "'@corp", "1", "pending"]
    datetime.fromisoformat(rows[1][5])
    assert rows[1][10] == "secret note"  # the client's notes are for the consultant, e.g. a dietary need
    text = response.get_data(as_text=True)
    assert "Someone Else" not in text and "token" not in text
    assert admin_client.get("/admin/sessions/9999/attendees.csv").status_code == 404


def test_booking_actions_never_fail_with_500(admin_client, db_session):
    booking = make_booking(status=Booking.CONFIRMED)
    for action in ("confirm", "decline", "cancel"):
        response = admin_client.post(f"/admin/bookings/{booking.id}/{action}", data={"message": "", "confirm": "1"})
        assert response.status_code == 303
    assert admin_client.get(f"/admin/bookings/{booking.id}/confirm").status_code == 405
    assert admin_client.post("/admin/bookings/9999/confirm").status_code == 404
    assert admin_client.post(f"/admin/bookings/{booking.id}/delete").status_code == 404


def outbox(db_session, template=None):
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if template:
        query = query.where(OutboxMessage.template == template)
    return db_session.scalars(query).all()


def actions(db_session):
    return [e.action for e in db_session.scalars(select(AuditLog).order_by(AuditLog.id))]


def test_confirm_sends_the_invite_and_is_audited(admin_client, db_session):
    booking = make_booking(make_session(capacity=5), email="ada@example.com", seats=2)
    response = admin_client.post(f"/admin/bookings/{booking.id}/confirm",
                                 data={"message": "See you there, bring a laptop."}, follow_redirects=True)
    assert "Booking confirmed" in response.text
    db_session.expire_all()
    assert booking.status == Booking.CONFIRMED
    [mail] = outbox(db_session, "booking_confirmed")
    assert mail.to_addr == "ada@example.com" and "bring a laptop" in mail.text_body
    assert any(a["filename"].endswith(".ics") for a in mail.attachments)
    assert "booking.confirm" in actions(db_session)


def test_decline_and_cancel_email_the_client(admin_client, db_session):
    session = make_session(capacity=5)
    declined = make_booking(session, email="d@example.com")
    cancelled = make_booking(session, email="c@example.com", status=Booking.CONFIRMED)
    assert admin_client.post(f"/admin/bookings/{declined.id}/decline",
                             data={"message": "Full, sorry", "confirm": "1"}).status_code == 303
    assert admin_client.post(f"/admin/bookings/{cancelled.id}/cancel", data={"message": "", "confirm": "1"}).status_code == 303
    db_session.expire_all()
    assert declined.status == Booking.DECLINED and cancelled.status == Booking.CANCELLED
    assert [m.to_addr for m in outbox(db_session, "booking_declined")] == ["d@example.com"]
    assert [m.to_addr for m in outbox(db_session, "booking_cancelled")] == ["c@example.com"]
    assert {"booking.decline", "booking.cancel"} <= set(actions(db_session))


def test_stale_action_says_so_and_changes_nothing(admin_client, db_session):
    booking = make_booking(status=Booking.CANCELLED)
    response = admin_client.post(f"/admin/bookings/{booking.id}/confirm", data={}, follow_redirects=True)
    assert response.status_code == 200 and "flash-warning" in response.text
    db_session.expire_all()
    assert booking.status == Booking.CANCELLED
    assert outbox(db_session) == [] and actions(db_session) == ["admin.login"]


def test_cancel_session_notifies_everyone_booked(admin_client, db_session):
    session = make_session(capacity=10)
    emails = ["p@example.com", "c@example.com", "w@example.com"]
    make_booking(session, email=emails[0])
    make_booking(session, email=emails[1], status=Booking.CONFIRMED)
    make_booking(session, email=emails[2], status=Booking.WAITLISTED)
    make_booking(session, email="gone@example.com", status=Booking.CANCELLED)
    response = admin_client.post(f"/admin/sessions/{session.id}/cancel", data={"message": "Trainer ill.", "confirm": "1"})
    assert response.status_code == 303
    db_session.expire_all()
    assert session.status == TrainingSession.CANCELLED
    sent = outbox(db_session, "booking_session_cancelled")
    assert sorted(m.to_addr for m in sent) == sorted(emails)
    assert all("Trainer ill." in m.text_body for m in sent)
    assert "session.cancel" in actions(db_session)
    again = admin_client.post(f"/admin/sessions/{session.id}/cancel", data={}, follow_redirects=True)
    assert "already cancelled" in again.text
    assert len(outbox(db_session, "booking_session_cancelled")) == 3


def test_reschedule_through_the_edit_form(admin_client, db_session):
    session = make_session(capacity=10, starts_at=datetime(2027, 5, 3, 8, 0, tzinfo=UTC), timezone="Europe/London")
    make_booking(session, email="c@example.com", status=Booking.CONFIRMED)
    data = {"course_id": session.course_id, "starts_at": "2027-05-10T09:00", "ends_at": "2027-05-10T17:00",
            "timezone": "Europe/London", "mode": "online", "location": "", "capacity": "10"}
    assert admin_client.post(f"/admin/sessions/{session.id}/edit", data={**data, "confirm": "1"}).status_code == 303
    db_session.expire_all()
    assert session.starts_at == datetime(2027, 5, 10, 8, 0, tzinfo=UTC) and session.sequence == 1
    assert [m.to_addr for m in outbox(db_session, "booking_rescheduled")] == ["c@example.com"]
    assert "session.reschedule" in actions(db_session)
    # A start in the past is refused beside the field, nothing changes.
    past = {**data, "starts_at": "2020-01-01T09:00", "ends_at": "2020-01-01T17:00"}
    for confirmed in ({}, {"confirm": "1"}):  # refused before it asks, and when it is confirmed
        response = admin_client.post(f"/admin/sessions/{session.id}/edit", data={**past, **confirmed})
        assert response.status_code == 422 and 'id="starts_at-error"' in response.text
    db_session.expire_all()
    assert session.starts_at == datetime(2027, 5, 10, 8, 0, tzinfo=UTC)


def test_a_booked_session_keeps_its_course(admin_client, db_session):
    session = make_session(capacity=10, starts_at=datetime(2027, 5, 3, 8, 0, tzinfo=UTC), timezone="Europe/London")
    make_booking(session, seats=1)
    other = make_course(title="Another course")
    data = {"course_id": other.id, "starts_at": "2027-05-03T09:00", "ends_at": "2027-05-03T17:00",
            "timezone": "Europe/London", "mode": "online", "location": "", "capacity": "10"}
    response = admin_client.post(f"/admin/sessions/{session.id}/edit", data=data)
    assert response.status_code == 422 and "its course cannot change" in response.text
    db_session.expire_all()
    assert session.course_id != other.id


def action_urls(page: str, booking) -> set[str]:
    return {action for action in ("confirm", "decline", "cancel") if f"/admin/bookings/{booking.id}/{action}" in page}


def test_session_page_offers_only_the_actions_each_booking_can_take(admin_client):
    session = make_session(capacity=10)
    bookings = {status: make_booking(session, status=status) for status in (
        Booking.PENDING, Booking.CONFIRMED, Booking.WAITLISTED, Booking.DECLINED, Booking.CANCELLED)}
    page = admin_client.get(f"/admin/sessions/{session.id}").text
    assert action_urls(page, bookings[Booking.PENDING]) == {"confirm", "decline", "cancel"}
    assert action_urls(page, bookings[Booking.CONFIRMED]) == {"cancel"}
    assert action_urls(page, bookings[Booking.WAITLISTED]) == {"cancel"}  # no Confirm on the waitlist
    assert action_urls(page, bookings[Booking.DECLINED]) == set()
    assert action_urls(page, bookings[Booking.CANCELLED]) == set()


def test_a_pending_booking_on_a_started_session_cannot_be_confirmed(admin_client, db_session):
    session = make_session(starts_at=datetime.now(UTC) - timedelta(hours=1))
    booking = make_booking(session)
    page = admin_client.get(f"/admin/sessions/{session.id}").text
    assert action_urls(page, booking) == {"decline", "cancel"}
    response = admin_client.post(f"/admin/bookings/{booking.id}/confirm", data={}, follow_redirects=True)
    assert "already started; the booking cannot be confirmed" in response.text
    db_session.expire_all()
    assert booking.status == Booking.PENDING and outbox(db_session) == []


def test_an_invalid_action_post_is_422_and_changes_nothing(admin_client, db_session):
    booking = make_booking(make_session())
    response = admin_client.post(f"/admin/bookings/{booking.id}/confirm", data={"message": "x" * 5001})
    assert response.status_code == 422
    assert "Nothing was changed" in response.text and f'id="booking-{booking.id}"' in response.text
    for path in (f"/admin/bookings/{booking.id}/decline", f"/admin/sessions/{booking.session_id}/cancel"):
        response = admin_client.post(path, data={"message": "x" * 5001, "confirm": "1"})
        assert response.status_code == 422, path
        assert 'id="message-error"' in response.text, path  # the confirmation page again, the error at the field
    db_session.expire_all()
    assert booking.status == Booking.PENDING and booking.session.status == TrainingSession.SCHEDULED
    assert outbox(db_session) == []


def test_a_refused_edit_changes_nothing_at_all(admin_client, db_session):
    """The capacity rule refuses the whole edit, including the new location and the new times."""
    session = make_session(capacity=10, starts_at=datetime(2027, 5, 3, 8, 0, tzinfo=UTC), timezone="Europe/London")
    make_booking(session, seats=4, status=Booking.CONFIRMED)
    data = {"course_id": session.course_id, "starts_at": "2027-05-10T09:00", "ends_at": "2027-05-10T17:00",
            "timezone": "Europe/London", "mode": "on-site", "location": "Leeds", "capacity": "3"}
    response = admin_client.post(f"/admin/sessions/{session.id}/edit", data=data)
    assert response.status_code == 422 and "4 seats are already held" in response.text
    db_session.expire_all()
    assert (session.capacity, session.location, session.sequence) == (10, "", 0)
    assert session.starts_at == datetime(2027, 5, 3, 8, 0, tzinfo=UTC)
    assert outbox(db_session) == [] and "session.update" not in actions(db_session)


# --- issue #15: destructive actions ask first ---------------------------------------------------

def test_cancelling_a_session_asks_first_and_says_who_is_emailed(admin_client, db_session):
    session = make_session(capacity=10)
    make_booking(session, name="Zoë Ångström", email="zoe@exämple.com", seats=2, status=Booking.CONFIRMED)
    make_booking(session, name="محمد الأحمد", email="m@example.com", status=Booking.WAITLISTED)
    make_booking(session, name="Gone", email="gone@example.com", status=Booking.CANCELLED)
    path = f"/admin/sessions/{session.id}/cancel"
    for response in (admin_client.get(path), admin_client.post(path, data={"message": "Trainer ill."})):
        assert response.status_code == 200
        page = response.text
        assert "Zoë Ångström" in page and "zoe@exämple.com" in page and "محمد الأحمد" in page
        assert "gone@example.com" not in page  # already cancelled: not emailed
        assert "email 2 people" in page and "cannot be undone" in page
        assert f'href="/admin/sessions/{session.id}"' in page  # the way back
        assert 'name="confirm" value="1"' in page
    assert "Trainer ill." in page  # the message typed on the session page is carried to the final step
    db_session.expire_all()
    assert session.status == TrainingSession.SCHEDULED and outbox(db_session) == []
    response = admin_client.post(path, data={"message": "Trainer ill.", "confirm": "1"})
    assert response.status_code == 303
    db_session.expire_all()
    assert session.status == TrainingSession.CANCELLED
    assert sorted(m.to_addr for m in outbox(db_session, "booking_session_cancelled")) == ["m@example.com", "zoe@exämple.com"]


@pytest.mark.parametrize("action", ["decline", "cancel"])
def test_declining_or_cancelling_a_booking_asks_first(admin_client, db_session, action):
    session = make_session(capacity=10)
    booking = make_booking(session, name="Zoë Ångström", email="zoe@example.com", seats=2)
    path = f"/admin/bookings/{booking.id}/{action}"
    for response in (admin_client.get(path), admin_client.post(path, data={"message": "Désolé"})):
        assert response.status_code == 200
        assert "Zoë Ångström" in response.text and "zoe@example.com" in response.text
        assert "2 seats" in response.text and "cannot be undone" in response.text
        assert f'href="/admin/sessions/{session.id}#booking-{booking.id}"' in response.text
    assert "Désolé" in response.text
    db_session.expire_all()
    assert booking.status == Booking.PENDING and outbox(db_session) == []
    assert admin_client.post(path, data={"message": "Désolé", "confirm": "1"}).status_code == 303
    db_session.expire_all()
    assert booking.status == (Booking.DECLINED if action == "decline" else Booking.CANCELLED)
    [mail] = outbox(db_session, "booking_declined" if action == "decline" else "booking_cancelled")
    assert "Désolé" in mail.text_body


def test_a_stale_confirmation_page_says_so(admin_client, db_session):
    booking = make_booking(status=Booking.DECLINED)
    response = admin_client.get(f"/admin/bookings/{booking.id}/cancel", follow_redirects=True)
    assert response.status_code == 200 and "cannot be cancelled" in response.text
    session = make_session(status=TrainingSession.CANCELLED)
    response = admin_client.get(f"/admin/sessions/{session.id}/cancel", follow_redirects=True)
    assert "already cancelled" in response.text


def reschedule_data(session, **changes):
    return {"course_id": session.course_id, "starts_at": "2027-05-10T09:00", "ends_at": "2027-05-10T17:00",
            "timezone": "Europe/London", "mode": "online", "location": "", "capacity": "10", **changes}


def test_rescheduling_a_booked_session_asks_first_and_sends_the_message(admin_client, db_session):
    session = make_session(capacity=10, starts_at=datetime(2027, 5, 3, 8, 0, tzinfo=UTC), timezone="Europe/London")
    make_booking(session, name="Zoë", email="zoe@example.com", status=Booking.CONFIRMED)
    make_booking(session, name="Bo", email="bo@example.com")
    form = admin_client.get(f"/admin/sessions/{session.id}/edit").text
    assert 'name="message"' in form  # a message to everyone booked
    data = reschedule_data(session, message="Le formateur est malade : nouvelle date ci-dessous.")
    response = admin_client.post(f"/admin/sessions/{session.id}/edit", data=data)
    assert response.status_code == 200
    assert "email 2 people" in response.text and "zoe@example.com" in response.text
    assert "Le formateur est malade" in response.text
    db_session.expire_all()
    assert session.starts_at == datetime(2027, 5, 3, 8, 0, tzinfo=UTC) and outbox(db_session) == []
    # "Change the new times": the form again, as it was filled in.
    again = admin_client.post(f"/admin/sessions/{session.id}/edit", data={**data, "back": "1"})
    assert again.status_code == 200 and 'value="2027-05-10T09:00"' in again.text and "Le formateur est malade" in again.text
    assert admin_client.post(f"/admin/sessions/{session.id}/edit", data={**data, "confirm": "1"}).status_code == 303
    db_session.expire_all()
    assert session.starts_at == datetime(2027, 5, 10, 8, 0, tzinfo=UTC)
    sent = outbox(db_session, "booking_rescheduled")
    assert sorted(m.to_addr for m in sent) == ["bo@example.com", "zoe@example.com"]
    assert all("Le formateur est malade" in m.text_body and "Le formateur est malade" in m.html_body for m in sent)


def test_an_edit_that_moves_nobody_needs_no_confirmation(admin_client, db_session):
    session = make_session(capacity=10, starts_at=datetime(2027, 5, 3, 8, 0, tzinfo=UTC), timezone="Europe/London")
    assert admin_client.post(f"/admin/sessions/{session.id}/edit", data=reschedule_data(session)).status_code == 303
    db_session.expire_all()
    assert session.starts_at == datetime(2027, 5, 10, 8, 0, tzinfo=UTC)


# --- issue #15: one message box per booking, a time zone list, required fields -----------------

def test_each_booking_row_has_one_message_box_for_all_its_actions(admin_client):
    session = make_session(capacity=10)
    pending = make_booking(session, name="Pending Person")
    page = admin_client.get(f"/admin/sessions/{session.id}").text
    row = page.split(f'id="booking-{pending.id}"', 1)[1].split("</tr>", 1)[0]
    assert row.count("<textarea") == 1 and row.count("<form") == 1
    for action in ("confirm", "decline", "cancel"):
        assert f"/admin/bookings/{pending.id}/{action}" in row


def test_the_time_zone_is_chosen_from_the_iana_list(admin_client):
    page = admin_client.get("/admin/sessions/new").text
    [zone_select] = re.findall(r'<select[^>]* id="timezone"[^>]*>.*?</select>', page, re.S)
    assert '<option selected value="Europe/London">' in zone_select
    assert 'value="America/Argentina/Buenos_Aires"' in zone_select and 'value="Pacific/Chatham"' in zone_select
    assert "<optgroup" in zone_select
    assert zone_select.count('value="Europe/London"') == 1  # once, so only one option is selected


def label_of(page: str, field: str) -> str:
    return page.split(f'<label for="{field}">', 1)[1].split("</label>", 1)[0]


def test_required_fields_are_not_labelled_optional(admin_client):
    course = make_course()
    page = admin_client.get("/admin/sessions/new").text
    for field in ("course_id", "starts_at", "ends_at", "timezone", "mode", "capacity"):
        assert "optional" not in label_of(page, field), field
    assert "optional" in label_of(page, "location")
    response = admin_client.post("/admin/sessions/new", data={
        "course_id": "", "starts_at": "2031-03-02T09:00", "ends_at": "2031-03-02T17:00", "timezone": "", "mode": "",
        "capacity": "8"})
    assert response.status_code == 422
    for field, words in (("course_id", "Choose a course."), ("timezone", "Choose a time zone."),
                         ("mode", "Choose online or on-site.")):
        assert words in response.text.split(f'id="{field}-error"', 1)[1].split("</p>", 1)[0], field
    page = admin_client.get(f"/admin/courses/{course.id}").text
    for field in ("title", "slug", "duration_days", "level"):
        assert "optional" not in label_of(page, field), field


# --- issue #15: what the client did shows on the session page and in the CSV -------------------

def csv_rows(admin_client, session) -> list[dict]:
    response = admin_client.get(f"/admin/sessions/{session.id}/attendees.csv")
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def test_the_clients_own_answers_show_on_the_session_page_and_in_the_csv(client, admin_client, db_session):
    course = make_course()
    session = make_session(course=course, capacity=10, starts_at=datetime.now(UTC) + timedelta(days=10))
    later = make_session(course=course, capacity=10, starts_at=datetime.now(UTC) + timedelta(days=20))
    coming = make_booking(session, name="Zoë Coming", status=Booking.CONFIRMED, token="c" * 43,
                          notes="Végétarienne, arrive à 9 h 30")
    leaving = make_booking(session, name="Léa Leaving", status=Booking.CONFIRMED, token="l" * 43)
    moving = make_booking(session, name="Mo Moving", token="m" * 43)
    untouched = make_booking(session, name="Ulla Untouched")
    assert client.post(f"/bookings/{'c' * 43}/attend").status_code == 303
    assert client.post(f"/bookings/{'l' * 43}/cancel").status_code == 303
    assert client.post(f"/bookings/{'m' * 43}/move", data={"session_id": later.id, "confirm": "yes"}).status_code == 303

    page = admin_client.get(f"/admin/sessions/{session.id}").text
    row = page.split(f'id="booking-{coming.id}"', 1)[1].split("</tr>", 1)[0]
    assert "Attendance confirmed by the client" in row
    row = page.split(f'id="booking-{leaving.id}"', 1)[1].split("</tr>", 1)[0]
    assert "Cancelled by the client" in row
    row = page.split(f'id="booking-{untouched.id}"', 1)[1].split("</tr>", 1)[0]
    assert "by the client" not in row
    page = admin_client.get(f"/admin/sessions/{later.id}").text
    row = page.split(f'id="booking-{moving.id}"', 1)[1].split("</tr>", 1)[0]
    assert "Moved here by the client" in row

    rows = {r["name"]: r for r in csv_rows(admin_client, session)}
    assert datetime.fromisoformat(rows["Zoë Coming"]["attendance_confirmed_at"])
    assert rows["Zoë Coming"]["notes"] == "Végétarienne, arrive à 9 h 30"
    assert rows["Léa Leaving"]["cancelled_by"] == "client" and datetime.fromisoformat(rows["Léa Leaving"]["cancelled_at"])
    assert rows["Ulla Untouched"]["attendance_confirmed_at"] == "" and rows["Ulla Untouched"]["cancelled_by"] == ""
    [moved] = csv_rows(admin_client, later)
    assert moved["name"] == "Mo Moving" and moved["moved_by_client_from"].startswith(session.starts_at.date().isoformat())


def test_a_consultants_cancel_is_not_the_clients(admin_client, db_session):
    session = make_session(capacity=10)
    booking = make_booking(session, status=Booking.CONFIRMED)
    admin_client.post(f"/admin/bookings/{booking.id}/cancel", data={"confirm": "1"})
    page = admin_client.get(f"/admin/sessions/{session.id}").text
    assert "by the client" not in page
    [row] = csv_rows(admin_client, session)
    assert row["cancelled_by"] == "consultant"


# --- issue #15: the course editor edits the outline, formats and tags the public page shows ------

def course_data(course, **changes):
    return {"title": course.title, "slug": course.slug, "summary": "", "description": "", "duration_days": "2",
            "level": "Beginner", "prerequisites": "", "price": "", "currency": "", "position": "0", "published": "y",
            **changes}


def checkbox(page: str, value: str) -> str:
    """The <input> of the formats checkbox with this value."""
    [tag] = [t for t in re.findall(r"<input[^>]*>", page) if 'name="formats"' in t and f'value="{value}"' in t]
    return tag


OUTLINE = """Premiers pas avec Docker
- Images, conteneurs et registres
- Réseaux : bridge, host et overlay

Kubernetes für alle
- Pods, Deployments und Services
"""


def test_the_course_editor_edits_outline_formats_and_tags(client, admin_client, db_session):
    course = make_course(slug="conteneurs", formats=["online", "on-site", "private"], outline=[], tags=[])
    form = admin_client.get(f"/admin/courses/{course.id}").text
    assert 'name="outline"' in form and 'name="tags"' in form
    assert all("checked" in checkbox(form, v) for v in ("online", "on-site", "private"))
    data = course_data(course, outline=OUTLINE, formats=["online", "private"], tags="Docker, conteneurs,  docker ")
    assert admin_client.post(f"/admin/courses/{course.id}", data=data).status_code == 303
    db_session.expire_all()
    assert course.outline == [
        {"title": "Premiers pas avec Docker", "topics": ["Images, conteneurs et registres", "Réseaux : bridge, host et overlay"]},
        {"title": "Kubernetes für alle", "topics": ["Pods, Deployments und Services"]},
    ]
    assert course.formats == ["online", "private"] and course.tags == ["docker", "conteneurs"]
    public = client.get("/training/conteneurs").text
    assert "Premiers pas avec Docker" in public and "Réseaux : bridge, host et overlay" in public
    assert "Kubernetes für alle" in public and "Online, Private" in public
    assert "<dt>Topics</dt><dd>docker, conteneurs</dd>" in public and '"keywords": "docker, conteneurs"' in public
    # The form shows what is stored, so saving it unchanged changes nothing.
    form = admin_client.get(f"/admin/courses/{course.id}").text
    assert "- Réseaux : bridge, host et overlay" in form and 'value="docker, conteneurs"' in form
    assert [("checked" in checkbox(form, v)) for v in ("online", "on-site", "private")] == [True, False, True]
    assert admin_client.post(f"/admin/courses/{course.id}", data=data).status_code == 303
    db_session.expire_all()
    assert course.formats == ["online", "private"] and len(course.outline) == 2


@pytest.mark.parametrize("changes,field,words", [
    ({"outline": "- a topic before any module"}, "outline", "module title"),
    ({"outline": "Module\n- " + "x" * 301}, "outline", "300"),
    ({"formats": ["online", "teleport"]}, "formats", "valid choice"),
    ({"tags": "docker, <script>"}, "tags", "letters"),
])
def test_the_course_editor_refuses_what_the_page_cannot_show(admin_client, db_session, changes, field, words):
    course = make_course(outline=[{"title": "Kept", "topics": []}], formats=["online"])
    response = admin_client.post(f"/admin/courses/{course.id}", data=course_data(course, **changes))
    assert response.status_code == 422 and f'id="{field}-error"' in response.text
    assert words in response.text.split(f'id="{field}-error"', 1)[1].split("</p>", 1)[0]
    db_session.expire_all()
    assert course.outline == [{"title": "Kept", "topics": []}] and course.formats == ["online"]
