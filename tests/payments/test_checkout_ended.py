"""A pending booking that ends (declined, cancelled by either side, its session cancelled) while its Stripe Checkout is
open: the Checkout is expired through Stripe's API (the stand-in records the call), after the commit and never on a
rollback, a failure only logged; a payment that still arrives for it is refunded, never confirmed."""
from __future__ import annotations

import logging
import re

from sqlalchemy import func, select

from blueprints.training import operations as ops
from blueprints.training import schedule
from extensions import db
from models import Booking, Invoice, TrainingSession
from tests.invoices.helpers import priced_session
from tests.payments.test_card_payment import book_by_card, checkout_id, deliver, outbox, to_checkout
from tests.training.helpers import run


def expire_calls(standin) -> list[str]:
    return [m.group(1) for r in standin.requests
            if r.method == "POST" and (m := re.fullmatch(r"/v1/checkout/sessions/(cs_\w+)/expire", r.path))]


def open_checkout(client, session=None, **fields) -> Booking:
    token, booking = book_by_card(client, session or priced_session(), **fields)
    to_checkout(client, token)
    stored = db.session.get(Booking, booking.id)
    assert stored.awaits_card_payment and stored.checkout_url
    return stored


def test_declining_expires_the_open_checkout(client, app, seller, stripe_standin):
    booking = open_checkout(client)
    cs = booking.checkout_session_id
    run(ops.decline_booking, booking, None, "Leider ausgebucht")
    assert expire_calls(stripe_standin) == [cs]
    assert stripe_standin.sessions[cs]["status"] == "expired"
    stored = db.session.get(Booking, booking.id)
    assert stored.status == Booking.DECLINED and stored.checkout_url is None and stored.hold_expires_at is None
    assert stored.checkout_session_id == cs  # kept: a payment already under way is still recognised


def test_a_client_cancelling_expires_the_open_checkout(client, app, seller, stripe_standin):
    booking = open_checkout(client)
    run(ops.cancel_booking, booking, None)
    assert expire_calls(stripe_standin) == [booking.checkout_session_id]
    stored = db.session.get(Booking, booking.id)
    assert stored.status == Booking.CANCELLED and stored.checkout_url is None and not stored.awaits_card_payment


def test_cancelling_the_session_expires_each_open_checkout(client, app, seller, stripe_standin):
    session = priced_session(capacity=6)
    one = open_checkout(client, session)
    two = open_checkout(client, session, email="ålesund@fjord.example")
    run(schedule.cancel_session, db.session.get(TrainingSession, session.id), None)
    assert sorted(expire_calls(stripe_standin)) == sorted([one.checkout_session_id, two.checkout_session_id])


def test_nothing_is_expired_when_the_change_rolls_back(client, app, seller, stripe_standin):
    booking = open_checkout(client)
    ops.decline_booking(booking, None)
    db.session.rollback()  # as a view does when something after the operation refused
    db.session.commit()  # a later commit of something else must not expire it either
    assert expire_calls(stripe_standin) == []
    stored = db.session.get(Booking, booking.id)
    assert stored.awaits_card_payment and stored.checkout_url


def test_stripe_failing_to_expire_is_logged_not_fatal(client, app, seller, stripe_standin, caplog):
    booking = open_checkout(client)
    stripe_standin.fail_next = 1
    with caplog.at_level(logging.WARNING, logger="portico.payments"):
        run(ops.decline_booking, booking, None)
    assert db.session.get(Booking, booking.id).status == Booking.DECLINED
    assert any("could not expire checkout" in r.getMessage() and booking.checkout_session_id in r.getMessage()
               for r in caplog.records)


def test_the_admin_decline_expires_the_checkout(admin_client, client, app, seller, stripe_standin):
    booking = open_checkout(client)
    response = admin_client.post(f"/admin/bookings/{booking.id}/decline", data={"confirm": "1", "message": ""})
    assert response.status_code == 303
    assert db.session.get(Booking, booking.id).status == Booking.DECLINED
    assert expire_calls(stripe_standin) == [booking.checkout_session_id]


def test_a_payment_arriving_for_a_cancelled_booking_is_not_confirmed(client, app, seller, stripe_standin):
    booking = open_checkout(client)
    event = stripe_standin.event("checkout.session.completed", booking.checkout_session_id)  # paid just before
    run(ops.cancel_booking, booking, None)
    response = deliver(client, event)
    assert response.status_code == 200 and response.json["outcome"] == "refund due: paid for a booking that is cancelled"
    stored = db.session.get(Booking, booking.id)
    assert stored.status == Booking.CANCELLED
    assert db.session.scalar(select(func.count(Invoice.id))) == 0 and outbox("booking_confirmed") == []
    [told] = outbox("payment_refund")
    assert told.to_addr == app.config["CONSULTANT_EMAIL"] and "Please refund it" in told.text_body
    assert stripe_standin.refunds == []
    # Stripe's own "expired" event for the Checkout we closed changes nothing either.
    expired = deliver(client, stripe_standin.event("checkout.session.expired", checkout_id(booking.id)))
    assert expired.json["outcome"] == "booking is cancelled: nothing to release"


def test_a_payment_for_a_declined_booking_is_refunded_automatically_when_configured(client, app, seller, stripe_standin):
    app.config["STRIPE_AUTO_REFUND"] = True
    booking = open_checkout(client)
    event = stripe_standin.event("checkout.session.completed", booking.checkout_session_id)
    run(ops.decline_booking, booking, None)
    assert deliver(client, event).json["outcome"] == "refunded: paid for a booking that is declined"
    [refund] = stripe_standin.refunds
    assert refund["payment_intent"] == event["data"]["object"]["payment_intent"]
    assert db.session.get(Booking, booking.id).status == Booking.DECLINED
    assert "We have refunded it in full" in outbox("payment_late")[0].text_body
