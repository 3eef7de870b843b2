"""The self-service booking link cannot be turned into a mail cannon or a token oracle (issue #14).

- moving a booking back and forth sends one email about where it ended up, not one per click;
- cancel, move and attend have tight limits per booking and per client address;
- guessing /bookings/<token> gets 429, while a working link is never refused by that limit.
"""
from __future__ import annotations

import secrets
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from blueprints.training import operations as ops
from extensions import db
from mail.delivery import deliver_pending
from models import Booking, OutboxMessage
from tests.factories import make_course, make_session
from tests.training.helpers import run

CLIENT = "Zoë Ångström-Nguyễn"
CLIENT_EMAIL = "zoe@bücher.example"


def two_sessions():
    course = make_course(title="Kubernetes für Einsteiger")
    first = make_session(course, timezone="Europe/Berlin")
    second = make_session(course, starts_at=first.starts_at + timedelta(days=7), timezone="Europe/Berlin")
    return first, second


def move(client, token: str, session_id: int, **kwargs):
    return client.post(f"/bookings/{token}/move", data={"session_id": session_id, "confirm": "yes"}, **kwargs)


def received(smtp_server, to: str, subject_start: str) -> list:
    return [m for m in smtp_server.messages if m["Subject"].startswith(subject_start) and to in m["To"]]


# --- coalescing --------------------------------------------------------------------------------

@pytest.mark.parametrize("app_config", [{"BOOKING_CHANGE_MAIL_HOLD_SECONDS": 1}])
@pytest.mark.parametrize("moves", [6, 5])
def test_a_booking_moved_back_and_forth_sends_one_email_about_where_it_ended(mail_app, smtp_server, moves):
    """Today: 6 moves with a delivery pass after each (the background thread) put 12 emails on the wire."""
    client = mail_app.test_client()
    first, second = two_sessions()
    result = run(ops.book_session, first.id, name=CLIENT, email=CLIENT_EMAIL)
    deliver_pending()
    before = len(smtp_server.messages)  # the booking's own two emails
    targets = [second.id, first.id] * 3
    for target in targets[:moves]:
        assert move(client, result.token, target).status_code == 303
        deliver_pending()  # as eager as the background thread
    time.sleep(1.2)  # past the hold
    deliver_pending()

    booking = db.session.get(Booking, result.booking.id)
    client_mails = received(smtp_server, "zoe@", "Booking moved")
    consultant_mails = smtp_server.messages[before:][len(client_mails):]
    if moves % 2 == 0:  # back where it began: nothing changed for the client, nobody is told anything
        assert booking.session_id == first.id
        assert smtp_server.messages[before:] == []
    else:  # one email each, about the end result: from the first session (not the one before last) to the second
        assert booking.session_id == second.id
        assert len(client_mails) == 1 and len(consultant_mails) == 1
        body = " ".join(client_mails[0].get_body(("plain",)).get_content().split())
        started = mail_app.jinja_env.filters["datetime"](first.starts_at, first.timezone)
        assert f"Your booking has moved from {started} to the session below" in body
        assert "Zoë" in body and "Booking moved" in client_mails[0]["Subject"]
        assert "moved their booking from" in consultant_mails[0].get_body(("plain",)).get_content()


def test_cancelling_after_a_move_withdraws_the_held_move_notice(app, client):
    first, second = two_sessions()
    result = run(ops.book_session, first.id, name=CLIENT, email=CLIENT_EMAIL)
    assert move(client, result.token, second.id).status_code == 303
    assert client.post(f"/bookings/{result.token}/cancel").status_code == 303
    templates = db.session.scalars(select(OutboxMessage.template).order_by(OutboxMessage.id)).all()
    assert "booking_moved" not in templates
    assert templates.count("booking_cancelled") == 1 and templates.count("booking_client_changed") == 1


def test_a_move_notice_already_sent_is_not_withdrawn(app, client):
    """Only a notice no delivery pass has touched is replaced: the next move names where the client last heard."""
    course = make_course()
    a = make_session(course)
    b = make_session(course, starts_at=a.starts_at + timedelta(days=7))
    c = make_session(course, starts_at=a.starts_at + timedelta(days=14))
    result = run(ops.book_session, a.id, name=CLIENT, email=CLIENT_EMAIL)
    assert move(client, result.token, b.id).status_code == 303
    sent = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "booking_moved"))
    sent.status, sent.attempts = OutboxMessage.SENT, 1
    db.session.commit()
    assert move(client, result.token, c.id).status_code == 303
    moved = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "booking_moved")
                               .order_by(OutboxMessage.id)).all()
    assert len(moved) == 2
    assert b.local_starts_at.strftime("%H:%M") in moved[1].text_body


# --- rate limits on the actions ------------------------------------------------------------------

LIMITED = {"RATELIMIT_ENABLED": True}


@pytest.mark.parametrize("app_config", [LIMITED])
def test_self_service_actions_are_limited_per_booking(app, client):
    session = make_session()
    result = run(ops.book_session, session.id, name=CLIENT, email=CLIENT_EMAIL)
    codes = [client.post(f"/bookings/{result.token}/attend",
                         environ_base={"REMOTE_ADDR": f"2001:db8:{n}::1"}).status_code for n in range(7)]
    assert codes == [303] * 6 + [429]  # from seven networks: the booking's own limit
    assert client.get(f"/bookings/{result.token}").status_code == 200  # the page itself still opens


@pytest.mark.parametrize("app_config", [LIMITED])
def test_self_service_actions_are_limited_per_client_address(app, client):
    session = make_session(capacity=40)
    tokens = [run(ops.book_session, session.id, name=f"{CLIENT} {n}", email=f"c{n}@example.com").token
              for n in range(4)]
    address = {"REMOTE_ADDR": "203.0.113.9"}
    codes = [client.post(f"/bookings/{tokens[n % 4]}/attend", environ_base=address).status_code for n in range(11)]
    assert codes == [303] * 10 + [429]
    other = client.post(f"/bookings/{tokens[0]}/attend", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert other.status_code == 303


# --- guessing tokens -------------------------------------------------------------------------------

@pytest.mark.parametrize("app_config", [LIMITED])
def test_guessing_booking_links_gets_429_but_a_real_link_still_opens(app, client):
    session = make_session()
    result = run(ops.book_session, session.id, name=CLIENT, email=CLIENT_EMAIL)
    guesser = {"REMOTE_ADDR": "2001:db8::bad"}
    guesses = [secrets.token_urlsafe(32) for _ in range(17)] + ["short", "%D8%A7%D9%84%D8%B9%D8%B1%D8%A8%D9%8A%D8%A9", "x" * 43]
    codes = [client.get(f"/bookings/{g}", environ_base=guesser).status_code for g in guesses]
    assert codes == [404] * 20
    assert client.get(f"/bookings/{secrets.token_urlsafe(32)}", environ_base=guesser).status_code == 429
    assert client.get(f"/bookings/{secrets.token_urlsafe(32)}/cancel", environ_base=guesser).status_code == 429
    # the same address, with a working link: never refused by the guessing limit, and not counted by it
    for _ in range(25):
        assert client.get(f"/bookings/{result.token}", environ_base=guesser).status_code == 200
    assert client.get(f"/bookings/{result.token}/move", environ_base=guesser).status_code in (200, 303)
    # someone else is not affected
    assert client.get(f"/bookings/{secrets.token_urlsafe(32)}", environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 404
