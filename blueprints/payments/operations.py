"""Card payment workflows: open a Checkout Session for a pending booking (the seats held until it expires),
act on Stripe's webhook events once each, and release holds that ran out.

Locks as every booking change does (blueprints/training/operations.py): the session row, then the
booking. A payment confirms a booking only from a verified webhook event; the event's id is stored in
the same transaction as what it changed, so a replayed or retried event changes nothing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from blueprints.invoices.operations import (
    booking_lines,
    issue_invoice,
    live_invoice,
    local_today,
)
from blueprints.payments import stripe_api
from blueprints.training.emails import mail_client, mail_consultant
from blueprints.training.links import booking_url
from blueprints.training.operations import _lock_booking, _mail_confirmed, lock_session, promote_waitlist
from extensions import db
from models import AuditLog, Booking, BusinessDetails, Invoice, StripeEvent, utcnow
from models.bookings import BookingStateError
from models.invoices import totals
from models.transactions import begin_write, locked

log = logging.getLogger("portico.payments")
SYSTEM = None  # the audit log's actor for what Stripe's events do


@dataclass(frozen=True)
class Quote:
    gross_cents: int
    currency: str


def quote(booking: Booking) -> Quote:
    """What the booking costs, tax included, as its invoice will say (the same lines and rules)."""
    details = BusinessDetails.current()
    rate = 0 if details.reverse_charge_for(booking.vat_id) else details.default_tax_rate
    figures = totals(booking_lines(booking, rate))
    return Quote(figures.gross_cents, (booking.session.course.currency or details.currency).upper())


def payable_refusal(booking: Booking, now: datetime | None = None) -> str | None:
    """Why this booking cannot be paid by card now (None: it can)."""
    if booking.price_total is None:
        return "This course has no price to pay."
    if not BusinessDetails.current().complete:
        return "Card payment is not available yet; the consultant will send an invoice instead."
    if booking.status != Booking.PENDING:
        return f"This booking is {booking.status_label.lower()}; there is nothing to pay by card."
    if not booking.session.is_open(now):
        return "This session has started or been cancelled; it can no longer be paid."
    return None


def open_checkout(booking: Booking, now: datetime | None = None) -> str:
    """The Stripe Checkout page for a pending booking: the open one, or a new one holding the seats until it expires.

    Stripe is called outside any transaction (no lock is held while the network answers); the session is
    then stored under the booking's lock, and if the booking changed meanwhile the new session is expired.
    """
    now = now or utcnow()
    refusal = payable_refusal(booking, now)
    if refusal:
        raise BookingStateError(refusal)
    if booking.hold_expires_at and booking.hold_expires_at > now and booking.checkout_url:
        return booking.checkout_url
    price = quote(booking)
    session = booking.session
    expires = now + timedelta(minutes=current_app.config["STRIPE_HOLD_MINUTES"])
    link = booking_url(booking)
    booking_id, attempt = booking.id, int(now.timestamp())
    db.session.rollback()  # end the read: nothing is locked while Stripe answers
    checkout = stripe_api.create_checkout({
        "mode": "payment",
        "line_items": [{"quantity": 1, "price_data": {
            "currency": price.currency.lower(), "unit_amount": price.gross_cents,
            "product_data": {"name": f"{session.course.title}, {session.local_starts_at:%d %B %Y}",
                             "description": f"{booking.seats} seat{'s' if booking.seats != 1 else ''}"}}}],
        "customer_email": booking.email,
        "client_reference_id": str(booking_id),
        "metadata": {"booking_id": str(booking_id)},
        "expires_at": int(expires.timestamp()),
        "success_url": f"{link}?paid=1",
        "cancel_url": link,
    }, idempotency_key=f"checkout-{booking_id}-{attempt}")
    booking = _lock_booking(booking_id)
    if booking.status != Booking.PENDING or (booking.hold_expires_at and booking.hold_expires_at > now):
        db.session.rollback()
        try:
            stripe_api.expire_checkout(checkout["id"])
        except stripe_api.Error:
            log.warning("could not expire unused checkout %s", checkout["id"])
        if booking.status == Booking.PENDING and booking.checkout_url:
            return booking.checkout_url
        raise BookingStateError(f"This booking is {booking.status_label.lower()}; there is nothing to pay by card.")
    booking.checkout_session_id = checkout["id"]
    booking.checkout_url = checkout.url
    booking.hold_expires_at = datetime.fromtimestamp(checkout.expires_at, timezone.utc)
    AuditLog.record(None, "payment.checkout", booking, checkout=checkout["id"],
                    hold_until=booking.hold_expires_at.isoformat())
    db.session.flush()
    return checkout.url


# --- webhook events -----------------------------------------------------------------------

def handle_event(event) -> str:
    """Act on one verified event once; returns what was done, in words (also stored with the event id).

    The event row is added first in the transaction: a second delivery of the same id (Stripe retries,
    or a replay) fails on the primary key and changes nothing. The caller commits.
    """
    begin_write()
    if db.session.get(StripeEvent, event.id) is not None:
        return "already handled"
    record = StripeEvent(id=event.id, type=event.type)
    db.session.add(record)
    db.session.flush()
    checkout = event.data.object.to_dict()  # a plain dict: the fields read below, absent or not
    if event.type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        outcome = _paid(checkout) if checkout.get("payment_status") == "paid" else "not paid yet"
    elif event.type in ("checkout.session.expired", "checkout.session.async_payment_failed"):
        outcome = _checkout_ended(checkout)
    else:
        outcome = "ignored"
    record.outcome = outcome[:300]
    db.session.flush()
    return outcome


def duplicate(error: IntegrityError) -> bool:
    """The event's id was stored by a concurrent delivery of the same event."""
    return "stripe_events" in str(error.orig).lower() or "unique" in str(error.orig).lower()


def _booking_for(checkout) -> Booking | None:
    booking_id = (checkout.get("metadata") or {}).get("booking_id") or checkout.get("client_reference_id")
    if not booking_id or not str(booking_id).isdigit():
        return None
    session_id = db.session.scalar(select(Booking.session_id).where(Booking.id == int(booking_id)))
    if session_id is None:
        return None
    lock_session(session_id)
    return db.session.scalar(locked(select(Booking).where(Booking.id == int(booking_id))))


def _paid(checkout) -> str:
    booking = _booking_for(checkout)
    amount = int(checkout.get("amount_total") or 0)
    payment_intent = checkout.get("payment_intent") or ""
    if booking is None:
        return "no such booking: refund it in Stripe"
    if booking.checkout_session_id != checkout["id"]:
        return _refund_due(booking, payment_intent, amount, "paid through a checkout this booking no longer uses")
    today = local_today()
    if booking.status == Booking.CONFIRMED:
        invoice = live_invoice(booking)
        if invoice is not None and not invoice.is_paid:
            invoice.record_payment(amount, max(today, invoice.issued_on), Invoice.CARD, payment_intent)
            AuditLog.record(SYSTEM, "invoice.payment", invoice, method="card", checkout=checkout["id"])
            return f"recorded on {invoice.number}"
        return _refund_due(booking, payment_intent, amount, "paid for a booking already confirmed and paid")
    if booking.status == Booking.PENDING or (booking.status == Booking.EXPIRED and
                                             booking.session.is_open() and booking.session.seats_left >= booking.seats):
        late = booking.status == Booking.EXPIRED
        booking.confirm_paid()
        booking.checkout_url = None
        db.session.flush()
        invoice = issue_invoice(booking, SYSTEM, paid=(amount, today, payment_intent))
        AuditLog.record(SYSTEM, "booking.paid", booking, checkout=checkout["id"], late=late)
        _mail_confirmed(booking, invoice, message="")
        mail_consultant("booking_paid", booking, invoice=invoice, late=late)
        return "confirmed and paid" + (" (after its hold ran out; the seats were still free)" if late else "")
    if booking.status == Booking.EXPIRED:
        # The hold ran out and the seats went to someone else: never overbook. Waitlist it; the money goes back.
        booking.waitlist_paid()
        booking.checkout_url = None
        db.session.flush()
        AuditLog.record(SYSTEM, "booking.paid_late", booking, checkout=checkout["id"])
        return _refund_due(booking, payment_intent, amount, "paid after its hold ran out and the seats were taken",
                           waitlisted=True)
    return _refund_due(booking, payment_intent, amount, f"paid for a booking that is {booking.status_label.lower()}")


def _refund_due(booking: Booking, payment_intent: str, amount: int, why: str, *, waitlisted: bool = False) -> str:
    """Money came in that buys nothing: refund it automatically (STRIPE_AUTO_REFUND), or tell the consultant to."""
    refunded = False
    if current_app.config["STRIPE_AUTO_REFUND"] and payment_intent:
        try:
            stripe_api.refund(payment_intent)
            refunded = True
        except stripe_api.Error as error:
            log.warning("automatic refund of %s failed: %s", payment_intent, error)
    price = quote(booking)
    AuditLog.record(SYSTEM, "payment.refund" if refunded else "payment.refund_due", booking,
                    payment_intent=payment_intent, amount=amount, why=why)
    mail_consultant("payment_refund", booking, refunded=refunded, why=why, amount=amount, currency=price.currency,
                    payment_intent=payment_intent, waitlisted=waitlisted)
    mail_client("payment_late", booking, refunded=refunded, amount=amount, currency=price.currency,
                waitlisted=waitlisted)
    return ("refunded" if refunded else "refund due") + f": {why}"


def _checkout_ended(checkout) -> str:
    booking = _booking_for(checkout)
    if booking is None or booking.checkout_session_id != checkout["id"]:
        return "no booking holds this checkout"
    if not booking.awaits_card_payment:
        return f"booking is {booking.status_label.lower()}: nothing to release"
    _release(booking, "the checkout expired")
    return "hold released"


def _release(booking: Booking, why: str) -> None:
    booking.expire()
    booking.checkout_url = None
    db.session.flush()
    mail_client("payment_expired", booking)
    AuditLog.record(SYSTEM, "booking.hold_released", booking, why=why)
    promote_waitlist(booking.session)


def release_expired_holds(now: datetime | None = None) -> int:
    """Lapse card holds whose Checkout has expired (the webhook says so too; this catches a missed one). From cron."""
    now = now or utcnow()
    begin_write()
    due = (Booking.status == Booking.PENDING, Booking.hold_expires_at.is_not(None), Booking.hold_expires_at <= now)
    count = 0
    for session_id in sorted(set(db.session.scalars(select(Booking.session_id).where(*due)))):
        lock_session(session_id)
        for booking in db.session.scalars(locked(select(Booking).where(Booking.session_id == session_id, *due)
                                                 .order_by(Booking.id))).all():
            _release(booking, "the hold ran out")
            count += 1
    return count
