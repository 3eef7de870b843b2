"""Booking rules and workflows: seats, waitlist, state changes, emails, and the pages around them."""
from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select

from blueprints.training import operations as ops
from blueprints.training import schedule
from extensions import db
from models import AuditLog, Booking, Enquiry, OutboxMessage, TrainingSession
from tests.factories import make_admin, make_booking, make_course, make_session
from tests.training.helpers import run
from web.spam import issue_form_token


def outbox(template: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if template:
        query = query.where(OutboxMessage.template == template)
    return list(db.session.scalars(query))


def book(session, n=1, **fields):
    data = dict(name=f"Client {n}", email=f"client{n}@example.com", seats=1)
    data.update(fields)
    return run(ops.book_session, session.id, **data)


def form(**fields):
    data = {"name": "Ada Client", "email": "ada@example.com", "company": "Acme", "seats": "1",
            "notes": "", "consent": "y", "action": "book", "website": "",
            "form_token": issue_form_token("booking")}
    data.update(fields)
    return data


# --- model rules ---------------------------------------------------------------------------

def test_seats_held_counts_pending_and_confirmed_only(app):
    session = make_session(capacity=10)
    for status, seats in [(Booking.PENDING, 2), (Booking.CONFIRMED, 3), (Booking.WAITLISTED, 4),
                          (Booking.CANCELLED, 1), (Booking.DECLINED, 1)]:
        make_booking(session, status=status, seats=seats)
    assert session.seats_held == 5
    assert session.seats_left == 5
    assert not session.is_full
    assert session.is_open()


def test_session_past_and_cancelled_rules(app):
    past = make_session(starts_at=datetime.now(timezone.utc) - timedelta(hours=1))
    cancelled = make_session(status=TrainingSession.CANCELLED)
    assert past.is_past() and not past.is_open()
    assert cancelled.is_cancelled and not cancelled.is_open()
    with pytest.raises(ops.SessionUnavailable) as error:
        past.check_bookable()
    assert error.value.status_code == 410


@pytest.mark.parametrize(("start", "target", "allowed"), [
    (Booking.PENDING, Booking.CONFIRMED, True),
    (Booking.PENDING, Booking.DECLINED, True),
    (Booking.PENDING, Booking.CANCELLED, True),
    (Booking.CONFIRMED, Booking.CANCELLED, True),
    (Booking.WAITLISTED, Booking.CANCELLED, True),
    (Booking.WAITLISTED, Booking.PENDING, True),
    (Booking.CONFIRMED, Booking.DECLINED, False),
    (Booking.CANCELLED, Booking.CONFIRMED, False),
    (Booking.DECLINED, Booking.CONFIRMED, False),
    (Booking.WAITLISTED, Booking.CONFIRMED, False),
])
def test_state_transitions(start, target, allowed):
    booking = Booking(status=start)
    method = {Booking.CONFIRMED: booking.confirm, Booking.DECLINED: booking.decline,
              Booking.CANCELLED: booking.cancel, Booking.PENDING: booking.promote}[target]
    if allowed:
        method()
        assert booking.status == target
    else:
        with pytest.raises(ops.BookingStateError):
            method()
        assert booking.status == start


@pytest.mark.parametrize(("status", "allowed"), [
    (Booking.PENDING, {"confirm", "decline", "cancel", "move", "attend"}),
    (Booking.CONFIRMED, {"cancel", "move", "attend"}),
    (Booking.WAITLISTED, {"promote", "cancel", "move"}),
    (Booking.DECLINED, set()),
    (Booking.CANCELLED, set()),
])
def test_the_actions_a_booking_can_take(app, status, allowed):
    booking = make_booking(make_session(), status=status)
    actions = {"confirm", "decline", "cancel", "promote", "move", "attend"}
    assert {a for a in actions if getattr(booking, f"can_{a}")} == allowed
    assert {a for a in actions if booking.refusal(a) is None} == allowed
    for action in actions - allowed:
        with pytest.raises(ops.BookingStateError, match=f"This booking is {booking.status_label.lower()}"):
            booking.check(action)


def test_seats_left_is_one_expression_for_queries_and_rows(app):
    full = make_session(capacity=2)
    make_booking(full, seats=3, status=Booking.CONFIRMED)  # stored over capacity: left is 0, not -1
    roomy = make_session(capacity=5)
    make_booking(roomy, seats=2)
    assert (full.seats_held, full.seats_left, roomy.seats_held, roomy.seats_left) == (3, 0, 2, 3)
    rows = db.session.execute(TrainingSession.with_seats(select(TrainingSession)).order_by(TrainingSession.id)).all()
    assert [(s.id, held, left) for s, held, left in rows] == [(full.id, 3, 0), (roomy.id, 2, 3)]
    assert db.session.scalars(select(TrainingSession.id).where(TrainingSession.seats_left >= 3)).all() == [roomy.id]


def test_malformed_tokens_never_match(app):
    make_booking()
    for token in ["", "x", "../../etc", "a" * 500, "abc def ghi jkl mno pqr stu", "é" * 30]:
        assert Booking.find_by_token(token) is None


# --- booking operation ---------------------------------------------------------------------------

def test_booking_holds_seats_and_queues_two_emails(app):
    session = make_session(capacity=3)
    result = book(session, seats=2, company="Acme")
    assert result.booking.status == Booking.PENDING
    assert session.seats_left == 1
    assert len(result.token) >= 22 and result.booking.token_hash == Booking.hash_token(result.token)
    assert result.token not in result.booking.token_hash
    assert Booking.find_by_token(result.token).id == result.booking.id
    received, = outbox("booking_received")
    new, = outbox("booking_new")
    assert received.to_addr == "client1@example.com"
    assert new.to_addr == app.config["CONSULTANT_EMAIL"] and new.reply_to == "client1@example.com"
    assert f"http://localhost/bookings/{result.token}" in received.text_body
    assert f"http://localhost/bookings/{result.token}" in received.html_body
    assert "(UTC+" in received.text_body  # the session time with its offset


def test_not_enough_seats_stores_nothing_unless_waitlisted(app):
    session = make_session(capacity=2)
    book(session, seats=2)
    with pytest.raises(ops.NotEnoughSeats):
        book(session, 2)
    assert db.session.scalar(select(func.count(Booking.id))) == 1
    waiting = book(session, 3, waitlist=True)
    assert waiting.booking.status == Booking.WAITLISTED and waiting.booking.waitlisted_at is not None
    assert len(outbox("booking_waitlisted")) == 1
    with pytest.raises(ops.BookingError):
        book(session, 4, seats=3, waitlist=True)  # more than the session holds at all


@pytest.mark.parametrize("kind", ["past", "cancelled", "private", "unknown"])
def test_unbookable_sessions_refuse(app, kind):
    fields = {"past": {"starts_at": datetime.now(timezone.utc) - timedelta(days=1)},
              "cancelled": {"status": TrainingSession.CANCELLED},
              "private": {"is_private": True}, "unknown": {}}[kind]
    session = make_session(**fields)
    session_id = 99999 if kind == "unknown" else session.id
    with pytest.raises(ops.SessionUnavailable) as error:
        run(ops.book_session, session_id, name="A", email="a@example.com")
    assert error.value.status_code == (404 if kind in ("private", "unknown") else 410)
    assert db.session.scalar(select(func.count(Booking.id))) == 0
    assert outbox() == []


def test_cancel_promotes_first_waitlisted_that_fits_and_mails_it(app):
    session = make_session(capacity=3)
    first = book(session, 1, seats=1).booking
    book(session, 2, seats=2)
    big = book(session, 3, seats=2, waitlist=True).booking  # joined first, but needs 2
    small = book(session, 4, seats=1, waitlist=True).booking
    later = book(session, 5, seats=1, waitlist=True).booking
    run(ops.cancel_booking, first)
    db.session.refresh(big), db.session.refresh(small), db.session.refresh(later)
    assert (big.status, small.status, later.status) == (Booking.WAITLISTED, Booking.PENDING, Booking.WAITLISTED)
    promoted, = outbox("booking_promoted")
    assert promoted.to_addr == small.email and promoted.related == f"booking:{small.id}"
    assert session.seats_left == 0


def test_freed_seats_go_to_the_waitlist_in_order(app):
    session = make_session(capacity=2)
    holder = book(session, 1, seats=2).booking
    a = book(session, 2, waitlist=True).booking
    b = book(session, 3, waitlist=True).booking
    c = book(session, 4, waitlist=True).booking
    run(ops.decline_booking, holder, make_admin(), "Sorry")
    statuses = [db.session.get(Booking, x.id).status for x in (a, b, c)]
    assert statuses == [Booking.PENDING, Booking.PENDING, Booking.WAITLISTED]
    assert [m.to_addr for m in outbox("booking_promoted")] == [a.email, b.email]


def test_confirm_decline_cancel_emails_and_audit(app):
    admin = make_admin()
    session = make_session()
    one, two, three = (book(session, n).booking for n in (1, 2, 3))
    run(ops.confirm_booking, one, admin, "See you there")
    run(ops.decline_booking, two, admin)
    run(ops.cancel_booking, three, admin, "Course change")
    assert one.status == Booking.CONFIRMED and one.confirmed_at is not None
    confirmed, = outbox("booking_confirmed")
    assert "See you there" in confirmed.text_body
    assert confirmed.attachments[0]["content_type"] == "text/calendar; method=REQUEST; charset=utf-8"
    assert len(outbox("booking_declined")) == 1
    cancelled, = outbox("booking_cancelled")
    assert cancelled.attachments == []  # it had never been confirmed, so no calendar entry to remove
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert actions == {"booking.confirm", "booking.decline", "booking.cancel"}


def test_stale_actions_raise_and_change_nothing(app):
    admin = make_admin()
    booking = book(make_session()).booking
    run(ops.cancel_booking, booking, admin)
    before = len(outbox())
    for action in (ops.confirm_booking, ops.decline_booking, ops.cancel_booking):
        with pytest.raises(ops.BookingStateError):
            action(booking, admin)
    assert db.session.get(Booking, booking.id).status == Booking.CANCELLED
    assert len(outbox()) == before


def test_cancelling_a_confirmed_booking_sends_method_cancel(app):
    booking = book(make_session()).booking
    run(ops.confirm_booking, booking, None)
    run(ops.cancel_booking, booking)  # by the client
    cancelled, = outbox("booking_cancelled")
    assert cancelled.attachments[0]["content_type"].startswith("text/calendar; method=CANCEL")
    assert len(outbox("booking_client_changed")) == 1  # the consultant hears about it


def test_cancel_session_notifies_everyone_booked(app):
    admin = make_admin()
    session = make_session(capacity=1)
    confirmed = book(session, 1).booking
    run(ops.confirm_booking, confirmed, admin)
    waiting = book(session, 2, waitlist=True).booking
    run(schedule.cancel_session, session, admin, "Venue closed")
    assert session.status == TrainingSession.CANCELLED
    assert {db.session.get(Booking, b.id).status for b in (confirmed, waiting)} == {Booking.CANCELLED}
    mails = {m.to_addr: m for m in outbox("booking_session_cancelled")}
    assert set(mails) == {confirmed.email, waiting.email}
    assert "method=CANCEL" in mails[confirmed.email].attachments[0]["content_type"]
    assert "Venue closed" in mails[waiting.email].text_body
    assert outbox("booking_promoted") == []
    with pytest.raises(ops.BookingStateError):
        run(schedule.cancel_session, session, admin)


def test_reschedule_raises_sequence_and_resends_invites(app):
    admin = make_admin()
    session = make_session()
    confirmed = book(session, 1).booking
    run(ops.confirm_booking, confirmed, admin)
    pending = book(session, 2).booking
    new_start = session.starts_at + timedelta(days=7)
    run(schedule.reschedule_session, session, new_start, new_start + timedelta(hours=8), admin)
    assert session.sequence == 1 and session.starts_at == new_start
    assert db.session.get(Booking, confirmed.id).ics_sequence == 1
    mails = {m.to_addr: m for m in outbox("booking_rescheduled")}
    assert len(mails[confirmed.email].attachments) == 1 and mails[pending.email].attachments == []
    with pytest.raises(ops.BookingError):
        run(schedule.reschedule_session, session, new_start, new_start - timedelta(hours=1), admin)


def test_move_booking_to_another_session_of_the_same_course(app):
    course = make_course()
    first = make_session(course, capacity=1)
    second = make_session(course, starts_at=first.starts_at + timedelta(days=30), capacity=5)
    other_course = make_session(capacity=5)
    booking = book(first, 1).booking
    waiting = book(first, 2, waitlist=True).booking
    assert [s.id for s in ops.move_targets(booking)] == [second.id]
    with pytest.raises(ops.BookingStateError):
        run(ops.move_booking, booking, other_course.id)
    run(ops.move_booking, booking, second.id)
    assert db.session.get(Booking, booking.id).session_id == second.id
    assert db.session.get(Booking, waiting.id).status == Booking.PENDING  # the freed seat went to the waitlist
    assert len(outbox("booking_moved")) == 1 and len(outbox("booking_promoted")) == 1


def test_move_targets_are_found_in_one_query(app):
    course = make_course()
    first = make_session(course)
    later = [make_session(course, starts_at=first.starts_at + timedelta(days=7 * n), capacity=n) for n in range(1, 6)]
    for session in later:
        make_booking(session, seats=1)
    booking = make_booking(first, seats=2)
    booking.session  # noqa: B018  (loaded: only move_targets' own queries are counted)
    statements = []
    record = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        targets = ops.move_targets(booking)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert [s.id for s in targets] == [s.id for s in later[2:]]  # 3, 4 and 5 seats: 2, 3 and 4 left
    assert list(targets.values()) == [2, 3, 4]
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


# --- pages ---------------------------------------------------------------------------------

def test_training_index_shows_sessions_zone_and_seats(client, app):
    course = make_course(title="Docker")
    session = make_session(course, capacity=10, timezone="Europe/Berlin")
    make_booking(session, seats=7)
    html = client.get("/training").get_data(as_text=True)
    assert "Docker" in html
    assert "3 seats left of 10" in html
    assert re.search(r'<meter[^>]*value="3"', html)
    assert "CET (UTC+01:00)" in html or "CEST (UTC+02:00)" in html
    assert "Europe/Berlin" not in html  # the zone is said once, by the time itself


def test_course_page_has_details_sessions_and_json_ld(client, app):
    course = make_course(title="Kubernetes", prerequisites="Docker basics", price=1200, currency="EUR")
    session = make_session(course)
    make_session(course, status=TrainingSession.CANCELLED)
    html = client.get(f"/training/{course.slug}").get_data(as_text=True)
    assert "Docker basics" in html and "Module one" in html and "EUR 1,200 per seat" in html
    assert f"/training/sessions/{session.id}/book" in html
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
    assert data["@type"] == "Course" and data["name"] == "Kubernetes"
    instance, = data["hasCourseInstance"]
    assert instance["@type"] == "CourseInstance"
    assert datetime.fromisoformat(instance["startDate"]) == session.starts_at
    assert "Price on request" in client.get(f"/training/{make_course().slug}").get_data(as_text=True)
    assert client.get("/training/no-such-course").status_code == 404


def test_book_page_flow(client, app):
    session = make_session(capacity=2)
    assert client.get(f"/training/sessions/{session.id}/book").status_code == 200
    response = client.post(f"/training/sessions/{session.id}/book", data=form(seats="2"))
    assert response.status_code == 303
    token = response.headers["Location"].rsplit("/", 1)[1]
    page = client.get(f"/bookings/{token}")
    assert page.status_code == 200 and "Awaiting confirmation" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("seats", ["0", "-1", "abc", ""])
def test_bad_seat_counts_are_form_errors(client, app, seats):
    session = make_session()
    response = client.post(f"/training/sessions/{session.id}/book", data=form(seats=seats))
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Booking.id))) == 0


def test_too_many_seats_offers_the_waitlist(client, app):
    session = make_session(capacity=3)
    make_booking(session, seats=2)
    response = client.post(f"/training/sessions/{session.id}/book", data=form(seats="2"))
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "Only 1 seat left" in html and 'value="waitlist"' in html
    assert db.session.scalar(select(func.count(Booking.id))) == 1
    response = client.post(f"/training/sessions/{session.id}/book", data=form(seats="2", action="waitlist"))
    assert response.status_code == 303
    assert db.session.scalar(select(Booking.status).order_by(Booking.id.desc()).limit(1)) == Booking.WAITLISTED


def test_full_session_page_offers_only_the_waitlist(client, app):
    session = make_session(capacity=1)
    make_booking(session)
    html = client.get(f"/training/sessions/{session.id}/book").get_data(as_text=True)
    assert "This session is full" in html and 'value="waitlist"' in html and 'value="book"' not in html


@pytest.mark.parametrize(("fields", "code"), [
    ({"starts_at": datetime.now(timezone.utc) - timedelta(days=2)}, 410),
    ({"status": TrainingSession.CANCELLED}, 410),
    ({"is_private": True}, 404),
])
def test_unbookable_session_pages(client, app, fields, code):
    session = make_session(**fields)
    for response in (client.get(f"/training/sessions/{session.id}/book"),
                     client.post(f"/training/sessions/{session.id}/book", data=form())):
        assert response.status_code == code
    assert client.get("/training/sessions/424242/book").status_code == 404
    assert db.session.scalar(select(func.count(Booking.id))) == 0


@pytest.mark.parametrize("token", ["nope", "A" * 43, "a" * 300, "%00", "..%2F..%2Fadmin"])
def test_wrong_tokens_give_404(client, app, token):
    make_booking(token="x" * 43)
    for url in (f"/bookings/{token}", f"/bookings/{token}/cancel", f"/bookings/{token}/move"):
        response = client.get(url)
        assert response.status_code == 404
        assert "booking" not in response.get_data(as_text=True).lower()


def test_opening_links_changes_nothing_and_cancelling_twice_says_so(client, app):
    result = book(make_session())
    token = result.token
    for action in ("", "/cancel", "/attend", "/move"):
        assert client.get(f"/bookings/{token}{action}").status_code == 200
    assert db.session.get(Booking, result.booking.id).status == Booking.PENDING
    assert client.post(f"/bookings/{token}/cancel").status_code == 303
    assert db.session.get(Booking, result.booking.id).status == Booking.CANCELLED
    again = client.post(f"/bookings/{token}/cancel", follow_redirects=True)
    assert "already cancelled" in again.get_data(as_text=True)
    assert len(outbox("booking_cancelled")) == 1


@pytest.mark.parametrize(("status", "links"), [
    (Booking.PENDING, {"move", "cancel"}),
    (Booking.CONFIRMED, {"move", "cancel"}),
    (Booking.WAITLISTED, {"move", "cancel"}),
    (Booking.DECLINED, set()),
    (Booking.CANCELLED, set()),
])
def test_booking_page_offers_only_the_actions_the_booking_can_take(client, app, status, links):
    course = make_course()
    first = make_session(course)
    make_session(course, starts_at=first.starts_at + timedelta(days=14))
    make_booking(first, status=status, token="t" * 43)
    page = client.get(f"/bookings/{'t' * 43}").get_data(as_text=True)
    shown = {action for action in ("move", "cancel") if f"/bookings/{'t' * 43}/{action}" in page}
    assert shown == links
    assert ("Change of plans?" in page) == bool(links)


def test_no_move_link_when_no_other_session_has_the_seats(client, app):
    course = make_course()
    first = make_session(course)
    make_session(course, starts_at=first.starts_at + timedelta(days=14), capacity=1)
    make_booking(first, seats=2, token="m" * 43)
    page = client.get(f"/bookings/{'m' * 43}").get_data(as_text=True)
    assert f"/bookings/{'m' * 43}/cancel" in page and f"/bookings/{'m' * 43}/move" not in page


def test_self_service_move_has_a_confirmation_step(client, app):
    course = make_course()
    first = make_session(course)
    second = make_session(course, starts_at=first.starts_at + timedelta(days=14))
    result = book(first)
    url = f"/bookings/{result.token}/move"
    assert f'value="{second.id}"' in client.get(url).get_data(as_text=True)
    step = client.post(url, data={"session_id": second.id})
    assert step.status_code == 200 and 'name="confirm" value="yes"' in step.get_data(as_text=True)
    assert db.session.get(Booking, result.booking.id).session_id == first.id
    assert client.post(url, data={"session_id": first.id, "confirm": "yes"}).status_code == 422
    assert client.post(url, data={"session_id": second.id, "confirm": "yes"}).status_code == 303
    assert db.session.get(Booking, result.booking.id).session_id == second.id


def test_attendance_confirmation_is_recorded(client, app):
    result = book(make_session())
    assert client.post(f"/bookings/{result.token}/attend").status_code == 303
    assert db.session.scalar(select(AuditLog.action)) == "booking.attendance_confirmed"


def test_posts_without_csrf_are_refused(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    result = book(make_session())
    assert client.post(f"/bookings/{result.token}/cancel").status_code == 400
    assert client.post(f"/training/sessions/{result.booking.session_id}/book", data=form()).status_code == 400
    assert db.session.get(Booking, result.booking.id).status == Booking.PENDING


def test_private_course_request_is_stored_and_mailed(client, app):
    course = make_course(title="OpenStack")
    data = {"private-name": "Bo", "private-email": "bo@example.com", "private-company": "Initech",
            "private-preferred_dates": "Any week in March", "private-attendees": "6",
            "private-training_format": "on-site", "private-message": "Two days please", "private-consent": "y",
            "private-form_token": issue_form_token("private_training")}
    assert client.post(f"/training/{course.slug}", data=data).status_code == 303
    enquiry = db.session.scalar(select(Enquiry))
    assert (enquiry.kind, enquiry.course_id, enquiry.attendees, enquiry.training_format) == (
        Enquiry.PRIVATE_TRAINING, course.id, 6, "on-site")
    assert enquiry.preferred_dates == "Any week in March"
    assert {m.to_addr for m in outbox()} == {"bo@example.com", app.config["CONSULTANT_EMAIL"]}
    bad = client.post(f"/training/{course.slug}", data={**data, "private-attendees": "0"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.get_data(as_text=True)


@pytest.mark.parametrize("trap", [{"website": "http://spam.example"}, {"form_token": ""}, {"form_token": "forged"}])
def test_spam_traps_take_no_seat_and_send_nothing(client, app, trap):
    session = make_session()
    response = client.post(f"/training/sessions/{session.id}/book", data=form(**trap))
    assert response.status_code == 200 and "Check your email" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Booking.id))) == 0
    assert outbox() == []


def test_spam_private_request_is_stored_as_spam_and_not_mailed(client, app):
    course = make_course()
    data = {"private-name": "Bot", "private-email": "bot@example.com", "private-preferred_dates": "now",
            "private-attendees": "3", "private-training_format": "online", "private-consent": "y",
            "private-website": "filled", "private-form_token": issue_form_token("private_training")}
    assert client.post(f"/training/{course.slug}", data=data).status_code == 303
    assert db.session.scalar(select(Enquiry.status)) == Enquiry.SPAM
    assert outbox() == []


def test_demo_seed_adds_upcoming_sessions_some_nearly_full_and_plain_seed_none(app):
    from cli.seeding import seed_all

    seed_all()
    assert db.session.scalar(select(func.count(TrainingSession.id))) == 0
    seed_all(demo=True)
    sessions = db.session.scalars(select(TrainingSession)).all()
    assert len(sessions) == 5 and all(s.is_open() for s in sessions)
    nearly_full = [s for s in sessions if 0 < s.seats_left <= 2]
    assert len(nearly_full) >= 2
    seed_all(demo=True)  # idempotent: nothing added twice
    assert db.session.scalar(select(func.count(TrainingSession.id))) == 5
    assert sum(s.seats_held for s in sessions) == 17


def test_a_link_made_elsewhere_is_reissued_and_the_client_lands_on_the_working_one(client, app):
    """Rows not made by book_session (or after SECRET_KEY rotation) get a working link with their next email."""
    booking = make_booking(make_session(), token="z" * 43)
    response = client.post(f"/bookings/{'z' * 43}/cancel")
    assert response.status_code == 303
    new_token = response.headers["Location"].rsplit("/", 1)[1]
    assert new_token != "z" * 43
    assert client.get(f"/bookings/{new_token}").status_code == 200
    cancelled, = outbox("booking_cancelled")
    assert f"/bookings/{new_token}" in cancelled.text_body
    assert db.session.get(Booking, booking.id).status == Booking.CANCELLED


def test_a_booking_sent_too_fast_is_asked_again_not_dropped(client, app):
    """Autofill and a quick click: the person is told, keeps what they typed, and one more press books."""
    session = make_session()
    app.config["SPAM_MIN_SECONDS"] = 3
    response = client.post(f"/training/sessions/{session.id}/book",
                           data=form(name="Łukasz Żółć", notes="Vegetarian", form_token=issue_form_token("booking")))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "press the button again" in page
    assert 'value="Łukasz Żółć"' in page and "Vegetarian" in page
    assert db.session.scalar(select(func.count(Booking.id))) == 0 and outbox() == []
    token = re.search(r'name="form_token"[^>]*value="([^"]+)"', page) or re.search(r'value="([^"]+)"[^>]*name="form_token"', page)
    app.config["SPAM_MIN_SECONDS"] = 0  # the time it takes to read the message and press again
    again = client.post(f"/training/sessions/{session.id}/book",
                        data=form(name="Łukasz Żółć", form_token=html.unescape(token.group(1))))
    assert again.status_code == 303
    assert db.session.scalar(select(Booking.name)) == "Łukasz Żółć"
