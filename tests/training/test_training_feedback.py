"""Feedback the day after a session, answered once or updated, results per session and course, approved quotes."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from blueprints.training import feedback as ops
from blueprints.training.links import link_token
from extensions import db
from models import Attendance, AuditLog, Booking, Feedback
from models.attendance import session_dates
from tests.factories import make_booking, make_course, make_service
from tests.training.aftercare import LONDON, block_session, confirmed, emails, past_session
from tests.training.helpers import run

ANSWERS = {"rating_overall": "5", "rating_content": "4", "rating_trainer": "5",
           "comment": "Très clair, merci ! Wir haben viel gelernt.", "quote_name": "Zoë Ångström",
           "quote_company": "Nordlicht GmbH"}


def test_requests_go_the_day_after_the_last_day_to_confirmed_attendees_once(app):
    first = datetime(2026, 10, 24).date()  # three days across the end of summer time
    session = block_session(first, days=3)
    came = confirmed(session, name="Zoë", email="zoe@example.com")
    absent = confirmed(session, email="absent@example.com")
    make_booking(session, status=Booking.CANCELLED, email="cancelled@example.com")
    late = datetime(2026, 10, 26, 23, 30, tzinfo=LONDON).astimezone(UTC)  # still the last day in London
    assert run(ops.send_feedback_requests, late) == 0
    # Attendance says who was absent every day: they are not asked.
    for day in session_dates(session):
        db.session.add(Attendance(booking_id=absent.id, day=day, attended=False))
        db.session.add(Attendance(booking_id=came.id, day=day, attended=day == first))
    db.session.commit()
    next_morning = datetime(2026, 10, 27, 0, 30, tzinfo=LONDON).astimezone(UTC)
    assert run(ops.send_feedback_requests, next_morning) == 1
    assert run(ops.send_feedback_requests, next_morning + timedelta(hours=3)) == 0
    (mail,) = emails("feedback_request")
    assert mail.to_addr == "zoe@example.com" and "/feedback" in mail.text_body and mail.html_body
    assert run(ops.send_feedback_requests, next_morning + timedelta(days=30)) == 0


def answer(client, booking, **changes):
    token = link_token(booking)
    db.session.commit()
    return client.post(f"/bookings/{token}/feedback", data={**ANSWERS, **changes})


def test_the_link_opens_the_form_and_answering_twice_updates(client):
    session = past_session(days=1, ago=3)
    booking = confirmed(session, name="Zoë Ångström", company="Nordlicht GmbH")
    token = link_token(booking)
    db.session.commit()
    page = client.get(f"/bookings/{token}/feedback")
    assert page.status_code == 200 and 'value="Zoë Ångström"' in page.text
    assert answer(client, booking).status_code == 303
    assert answer(client, booking, rating_overall="3", comment="Gut.").status_code == 303
    assert db.session.scalar(select(func.count(Feedback.id))) == 1
    feedback = db.session.scalar(select(Feedback))
    assert (feedback.rating_overall, feedback.comment, feedback.quote_status) == (3, "Gut.", Feedback.NONE)
    assert [a.action for a in db.session.scalars(select(AuditLog).order_by(AuditLog.id))] == ["feedback.submit",
                                                                                           "feedback.update"]
    assert answer(client, booking, rating_overall="9").status_code == 422
    assert answer(client, booking, rating_overall="").status_code == 422
    assert client.get(f"/bookings/{'q' * 43}/feedback").status_code == 404


def test_feedback_is_closed_before_the_session_ends_and_for_unconfirmed_bookings(client):
    from tests.factories import make_session

    upcoming = confirmed(make_session())
    assert answer(client, upcoming).status_code == 303
    past = past_session(days=1, ago=3)
    pending = make_booking(past, status=Booking.PENDING)
    assert answer(client, pending).status_code == 303
    assert db.session.scalar(select(func.count(Feedback.id))) == 0


def reviews(html: str) -> dict:
    (ld,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    return json.loads(ld)


def test_an_approved_quote_shows_on_the_course_and_service_pages_with_honest_schema(client, admin_client):
    course = make_course(slug="kubernetes-basics", title="Kubernetes basics", tags=["kubernetes", "containers"])
    make_service(slug="containers", title="Containers")
    make_service(slug="network", title="Network")
    session = past_session(days=1, ago=3, course=course)
    quoted = confirmed(session, name="Zoë Ångström")
    answer(client, quoted, may_quote="y")
    feedback = db.session.scalar(select(Feedback))
    assert feedback.quote_status == Feedback.PENDING
    page = client.get("/training/kubernetes-basics").text
    assert "Très clair" not in page and "review" not in reviews(page)  # not approved yet

    results = admin_client.get(f"/admin/sessions/{session.id}/feedback").text
    assert "Très clair" in results and "5.0 out of 5" in results
    assert admin_client.get(f"/admin/courses/{course.id}/feedback").status_code == 200
    assert admin_client.post(f"/admin/feedback/{feedback.id}/approve").status_code == 303
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "feedback.quote_approve")) is not None

    page = client.get("/training/kubernetes-basics").text
    assert "Très clair, merci" in page and "Nordlicht GmbH" in page
    ld = reviews(page)
    (review,) = ld["review"]
    assert review["reviewRating"]["ratingValue"] == 5 and review["author"]["name"] == "Zoë Ångström"
    assert "aggregateRating" not in ld  # one rating is not an aggregate
    assert "Très clair" in client.get("/services/containers").text
    assert "Très clair" not in client.get("/services/network").text

    # Four more answers (not quoted): now the aggregate is honest, over every rating.
    for rating in ("4", "4", "3", "4"):
        answer(client, confirmed(session), rating_overall=rating, comment="")
    ld = reviews(client.get("/training/kubernetes-basics").text)
    assert ld["aggregateRating"]["ratingCount"] == 5 and ld["aggregateRating"]["ratingValue"] == 4.0
    assert len(ld["review"]) == 1

    # Changing the quoted words takes it off the site until approved again.
    answer(client, quoted, may_quote="y", comment="Neue Worte.")
    assert "Neue Worte" not in client.get("/training/kubernetes-basics").text
    db.session.expire_all()
    assert db.session.get(Feedback, feedback.id).quote_status == Feedback.PENDING


def test_a_quote_without_permission_cannot_be_approved(client, admin_client):
    session = past_session(days=1, ago=3)
    booking = confirmed(session)
    answer(client, booking)
    feedback = db.session.scalar(select(Feedback))
    admin_client.post(f"/admin/feedback/{feedback.id}/approve")
    db.session.expire_all()
    assert db.session.get(Feedback, feedback.id).quote_status == Feedback.NONE
    assert admin_client.post("/admin/feedback/99999/approve").status_code == 404
