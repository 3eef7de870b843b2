"""Sessions and bookings in the admin: list, create, edit, the attendee CSV."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

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


def test_attendee_csv_has_only_the_agreed_columns_and_defuses_formulas(admin_client):
    session = make_session()
    make_booking(session, name="=HYPERLINK(\"http://evil\")", email="ada@example.com", company="+Acme",
                 seats=2, notes="secret note", status=Booking.CONFIRMED)
    make_booking(session, name="Bob", email="bob@example.com", company="@corp", seats=1)
    make_booking(make_session(), name="Someone Else", email="else@example.com")
    response = admin_client.get(f"/admin/sessions/{session.id}/attendees.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["name", "email", "company", "seats", "status", "booked_at"]
    assert len(rows) == 3
    assert rows[1][:5] == ["'=HYPERLINK(\"http://evil\")", "ada@example.com", "'+Acme", "2", "confirmed"]
    assert rows[2][:5] == ["Bob", "bob@example.com", "'@corp", "1", "pending"]
    datetime.fromisoformat(rows[1][5])
    text = response.get_data(as_text=True)
    assert "secret note" not in text and "Someone Else" not in text and "token" not in text
    assert admin_client.get("/admin/sessions/9999/attendees.csv").status_code == 404


def test_booking_actions_never_fail_with_500(admin_client, db_session):
    booking = make_booking(status=Booking.CONFIRMED)
    for action in ("confirm", "decline", "cancel"):
        response = admin_client.post(f"/admin/bookings/{booking.id}/{action}", data={"message": ""})
        assert response.status_code == 303
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
    assert admin_client.post(f"/admin/bookings/{declined.id}/decline", data={"message": "Full, sorry"}).status_code == 303
    assert admin_client.post(f"/admin/bookings/{cancelled.id}/cancel", data={"message": ""}).status_code == 303
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
    response = admin_client.post(f"/admin/sessions/{session.id}/cancel", data={"message": "Trainer ill."})
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
    assert admin_client.post(f"/admin/sessions/{session.id}/edit", data=data).status_code == 303
    db_session.expire_all()
    assert session.starts_at == datetime(2027, 5, 10, 8, 0, tzinfo=UTC) and session.sequence == 1
    assert [m.to_addr for m in outbox(db_session, "booking_rescheduled")] == ["c@example.com"]
    assert "session.reschedule" in actions(db_session)
    # A start in the past is refused beside the field, nothing changes.
    past = {**data, "starts_at": "2020-01-01T09:00", "ends_at": "2020-01-01T17:00"}
    response = admin_client.post(f"/admin/sessions/{session.id}/edit", data=past)
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
    for path in (f"/admin/bookings/{booking.id}/confirm", f"/admin/sessions/{booking.session_id}/cancel"):
        response = admin_client.post(path, data={"message": "x" * 5001})
        assert response.status_code == 422, path
        assert "Nothing was changed" in response.text and f'id="booking-{booking.id}"' in response.text
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
