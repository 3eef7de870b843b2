"""Minimum class size: the go/no-go email, dashboard item and digest line; go; cancel; never cancelled by the site."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from blueprints.training import minimum as ops
from extensions import db
from models import AuditLog, Booking, SessionMinimum, TrainingSession
from tests.factories import make_booking, make_course, make_session
from tests.training.aftercare import emails
from tests.training.helpers import run


def upcoming(days: int = 10, **fields):
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    return make_session(starts_at=starts, **fields)


def test_the_consultant_sets_a_minimum_and_is_asked_then_reminded_but_nothing_is_cancelled(admin_client, app):
    session = upcoming(days=10)
    make_booking(session, status=Booking.CONFIRMED, seats=2, name="Zoë Ångström")
    make_booking(session, status=Booking.PENDING, seats=1)
    decide_by = session.local_starts_at.date() - timedelta(days=5)
    response = admin_client.post(f"/admin/sessions/{session.id}/minimum",
                                 data={"min_attendees": "6", "decide_by": decide_by.isoformat()})
    assert response.status_code == 303
    minimum = db.session.get(SessionMinimum, session.id)
    assert (minimum.min_attendees, minimum.decide_by) == (6, decide_by)
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "session.minimum")) is not None
    page = admin_client.get(f"/admin/sessions/{session.id}").text
    assert "2 of at least 6 seats confirmed" in page

    # A week before the date: too early to ask.
    now = datetime.combine(decide_by - timedelta(days=7), datetime.min.time(), UTC) + timedelta(hours=10)
    assert run(ops.send_decision_requests, now) == 0
    # Three days before: asked once, however often cron runs.
    asking = now + timedelta(days=4)
    assert run(ops.send_decision_requests, asking) == 1
    assert run(ops.send_decision_requests, asking + timedelta(hours=1)) == 0
    (ask,) = emails("session_decision_due")
    assert ask.to_addr == app.config["CONSULTANT_EMAIL"] and "Go or no go" in ask.subject
    assert "Seats confirmed: 2 (the minimum is 6)" in ask.text_body and ask.html_body
    # The date came, undecided: one reminder.
    on_the_day = datetime.combine(decide_by, datetime.min.time(), UTC) + timedelta(hours=12)
    assert run(ops.send_decision_requests, on_the_day) == 1
    assert run(ops.send_decision_requests, on_the_day + timedelta(days=1)) == 0
    assert "Reminder" in emails("session_decision_due")[-1].subject
    db.session.expire_all()
    assert db.session.get(TrainingSession, session.id).status == TrainingSession.SCHEDULED  # never by itself
    assert all(b.status != Booking.CANCELLED for b in db.session.get(TrainingSession, session.id).bookings)


def test_the_dashboard_and_the_digest_list_a_due_decision(admin_client, app):
    from blueprints.admin import digest

    course = make_course(title="Ceph für Fortgeschrittene")
    session = upcoming(days=3, course=course)
    run(ops.set_minimum, session, None, min_attendees=4, decide_by=session.local_starts_at.date() - timedelta(days=1))
    far = upcoming(days=40)
    run(ops.set_minimum, far, None, min_attendees=4, decide_by=far.local_starts_at.date() - timedelta(days=10))
    page = admin_client.get("/admin/").text
    assert "Go or no go" in page and "Ceph für Fortgeschrittene" in page and f"/admin/sessions/{far.id}#" not in page
    sections = {s.key: s for s in digest.gather(digest.window(datetime.now(UTC)))}
    assert sections["go_no_go"].total == 1 and "Ceph für Fortgeschrittene" in sections["go_no_go"].items[0].text


def test_go_tells_everyone_holding_seats_that_it_runs(admin_client):
    session = upcoming(days=8)
    confirmed = make_booking(session, status=Booking.CONFIRMED, name="Søren Ølgaard", email="søren@example.dk")
    pending = make_booking(session, status=Booking.PENDING)
    make_booking(session, status=Booking.WAITLISTED, email="waiting@example.com")
    run(ops.set_minimum, session, None, min_attendees=1, decide_by=session.local_starts_at.date() - timedelta(days=2))
    ask = admin_client.get(f"/admin/sessions/{session.id}/decision/go")
    assert ask.status_code == 200 and "Yes, it runs: email 2 people" in ask.text
    assert emails("session_go") == []  # asking sent nothing
    response = admin_client.post(f"/admin/sessions/{session.id}/decision/go", data={"confirm": "1", "message": "À bientôt"})
    assert response.status_code == 303
    sent = emails("session_go")
    assert {m.to_addr for m in sent} == {confirmed.email, pending.email}
    assert all("confirmed to run" in m.text_body and "À bientôt" in m.html_body for m in sent)
    assert db.session.get(SessionMinimum, session.id).decision == SessionMinimum.GO
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "session.go")).detail["told"] == 2
    # Decided: the buttons are gone and a second decision is refused.
    assert admin_client.post(f"/admin/sessions/{session.id}/decision/cancel", data={"confirm": "1"}).status_code == 303
    assert db.session.get(TrainingSession, session.id).status == TrainingSession.SCHEDULED


def test_cancel_cancels_through_the_usual_workflow_and_offers_the_next_session(admin_client):
    course = make_course(title="OpenStack")
    session = upcoming(days=8, course=course)
    later = upcoming(days=40, course=course)
    booked = make_booking(session, status=Booking.CONFIRMED, name="Zoë", email="zoe@example.com")
    run(ops.set_minimum, session, None, min_attendees=5, decide_by=session.local_starts_at.date() - timedelta(days=2))
    ask = admin_client.get(f"/admin/sessions/{session.id}/decision/cancel").text
    assert "offering the next session" in ask
    admin_client.post(f"/admin/sessions/{session.id}/decision/cancel", data={"confirm": "1"})
    db.session.expire_all()
    assert db.session.get(TrainingSession, session.id).status == TrainingSession.CANCELLED
    assert db.session.get(Booking, booked.id).status == Booking.CANCELLED
    (mail,) = emails("booking_session_cancelled")
    assert f"/training/sessions/{later.id}/book" in mail.text_body and f"/training/sessions/{later.id}/book" in mail.html_body
    assert any(a["content_type"].startswith("text/calendar") for a in mail.attachments)  # METHOD:CANCEL
    assert db.session.get(SessionMinimum, session.id).decision == SessionMinimum.CANCEL
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"session.no_go", "session.cancel"} <= actions


def test_bad_minimum_input_changes_nothing(admin_client):
    session = upcoming(days=8)
    for data in ({"min_attendees": "0", "decide_by": "2030-01-01"}, {"min_attendees": "9" * 30, "decide_by": "2030-01-01"},
                 {"min_attendees": "3", "decide_by": "not a date"},
                 {"min_attendees": "3", "decide_by": (session.local_starts_at.date() + timedelta(days=1)).isoformat()}):
        assert admin_client.post(f"/admin/sessions/{session.id}/minimum", data=data).status_code == 303
    assert db.session.get(SessionMinimum, session.id) is None
    assert admin_client.get(f"/admin/sessions/{session.id}/decision/go").status_code == 303  # nothing to decide
