"""Seats can never be overbooked: many clients booking at once over real HTTP, on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from blueprints.training import operations as ops
from extensions import db
from models import Booking, OutboxMessage
from tests.factories import make_session
from tests.training.helpers import post, run
from web.spam import issue_form_token

CLIENTS = 40
CAPACITY = 10

pytestmark = pytest.mark.slow


def test_forty_clients_on_ten_seats_never_overbook(app, live_server):
    session = make_session(capacity=CAPACITY)
    url = f"{live_server}/training/sessions/{session.id}/book"
    barrier = threading.Barrier(CLIENTS)
    tokens = [issue_form_token("booking") for _ in range(CLIENTS)]  # forty people, forty forms (a stamp books once)

    def client(n: int) -> int:
        data = {"name": f"Client {n}", "email": f"c{n}@example.com", "seats": "1", "consent": "y",
                # half ask for the waitlist when full, half only want a seat now
                "action": "waitlist" if n % 2 else "book", "form_token": tokens[n]}
        barrier.wait(timeout=30)
        return post(url, data)

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        codes = list(pool.map(client, range(CLIENTS)))

    assert set(codes) <= {303, 409}, codes  # booked/waitlisted, or told it is full: never an error
    db.session.rollback()  # end the test's read transaction: see what the server committed
    holding = db.session.scalar(
        select(func.count(Booking.id)).where(Booking.session_id == session.id, Booking.status.in_(Booking.HOLDING)))
    waitlisted = db.session.scalar(
        select(func.count(Booking.id)).where(Booking.session_id == session.id, Booking.status == Booking.WAITLISTED))
    told_full = codes.count(409)
    assert holding == CAPACITY
    assert codes.count(303) == holding + waitlisted
    assert holding + waitlisted + told_full == CLIENTS
    assert session.seats_left == 0
    # every stored booking got its client email, and only those
    assert db.session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.template.in_(("booking_received", "booking_waitlisted")))) == holding + waitlisted

    # cancelling one promotes the first in the waitlist, who gets an email
    first_waiting = db.session.scalar(select(Booking).where(Booking.status == Booking.WAITLISTED)
                                      .order_by(Booking.waitlisted_at, Booking.id).limit(1))
    holder = db.session.scalar(select(Booking).where(Booking.status == Booking.PENDING).limit(1))
    run(ops.cancel_booking, holder)
    assert db.session.get(Booking, first_waiting.id).status == Booking.PENDING
    promoted = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "booking_promoted")).all()
    assert [m.to_addr for m in promoted] == [first_waiting.email]
    assert session.seats_left == 0


def test_the_booking_transaction_takes_the_write_lock_first(app):
    """On SQLite the booking transaction must begin IMMEDIATE; on PostgreSQL it locks the row FOR UPDATE."""
    from sqlalchemy import event

    session_id = make_session().id
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement.strip().split()[0:2] + (["FOR UPDATE"] if "FOR UPDATE" in statement else []))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        run(ops.book_session, session_id, name="A", email="a@example.com")
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    if db.engine.dialect.name == "sqlite":
        assert statements[0] == ["BEGIN", "IMMEDIATE"]
    else:
        assert statements[0][0] == "SELECT" and statements[0][-1] == "FOR UPDATE"
