"""A double click books once (issue #14): the same booking form posted twice holds ONE booking, mails once,
and both posts lead to the same booking link; at the same moment too, over real HTTP."""
from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from extensions import db
from models import Booking, Enquiry, OutboxMessage, UsedFormStamp
from tests.factories import make_booking, make_course, make_session
from tests.training.helpers import post_for_location
from web.spam import issue_form_token


def count(model, *where) -> int:
    db.session.rollback()  # see what the server committed
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def booking_form(**fields) -> dict:
    return {"name": "Ямада Ханако", "email": "hanako@example.jp", "company": "株式会社", "seats": "2",
            "consent": "y", "action": "book", "website": "", "form_token": issue_form_token("booking"), **fields}


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_a_double_clicked_booking_form_holds_one_booking(app, client):
    session = make_session(capacity=10)
    url = f"/training/sessions/{session.id}/book"
    page = client.get(url).text
    data = booking_form(
        csrf_token=re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1),
        form_token=re.search(r'name="form_token" type="hidden" value="([^"]+)"', page).group(1),
    )
    first = client.post(url, data=data)
    second = client.post(url, data=data)  # same CSRF token, same stamp: the second click
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert first.headers["Location"].startswith("/bookings/")
    assert count(Booking) == 1 and session.seats_left == 8
    assert count(OutboxMessage) == 2  # booking_received and booking_new, once
    shown = client.get(second.headers["Location"])
    assert shown.status_code == 200 and "your booking request is in" in shown.text
    # the stored answer gives no booking link away: only the stamp's hash and a sealed result are kept
    used = db.session.scalar(select(UsedFormStamp))
    token = first.headers["Location"].rsplit("/", 1)[1]
    assert used.form_name == "booking" and token not in used.result and data["form_token"] not in used.stamp_hash
    # a new form (a new stamp) is a new request
    assert client.post(url, data={**data, "form_token": issue_form_token("booking")}).status_code == 303
    assert count(Booking) == 2


def test_a_refused_booking_does_not_use_up_its_stamp(app, client):
    session = make_session(capacity=3)
    make_booking(session, seats=2)
    data = booking_form()
    assert client.post(f"/training/sessions/{session.id}/book", data=data).status_code == 409  # 2 seats, 1 left
    assert count(UsedFormStamp) == 0
    assert client.post(f"/training/sessions/{session.id}/book", data={**data, "seats": "1"}).status_code == 303
    assert count(Booking) == 2


@pytest.mark.slow
def test_identical_booking_posts_at_the_same_moment_hold_one_booking(app, live_server):
    session = make_session(capacity=10)
    data = booking_form()
    url = f"{live_server}/training/sessions/{session.id}/book"
    clicks = 6
    barrier = threading.Barrier(clicks)

    def click(_):
        barrier.wait(timeout=30)
        return post_for_location(url, data)

    with ThreadPoolExecutor(max_workers=clicks) as pool:
        answers = list(pool.map(click, range(clicks)))
    assert {code for code, _ in answers} == {303}, answers
    assert len({location for _, location in answers}) == 1  # all see the one booking's link
    assert count(Booking) == 1 and count(UsedFormStamp) == 1
    assert count(OutboxMessage) == 2


def test_a_double_clicked_private_course_request_is_one_enquiry(app, client):
    course = make_course(title="Ceph")
    data = {"private-name": "Nguyễn Văn A", "private-email": "a@example.vn", "private-preferred_dates": "Tháng Ba",
            "private-attendees": "5", "private-training_format": "online", "private-consent": "y",
            "private-form_token": issue_form_token("private_training")}
    answers = [client.post(f"/training/{course.slug}", data=data) for _ in range(2)]
    assert [a.status_code for a in answers] == [303, 303]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    assert count(Enquiry) == 1 and count(OutboxMessage) == 2
