"""The site's one door to Stripe's API, through the official `stripe` library.

STRIPE_API_BASE points the library elsewhere (the tests' stand-in on loopback); no retries inside a
request, so a slow Stripe costs the client one timeout, not three.
"""
from __future__ import annotations

import logging

import stripe
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger("portico.payments")
PENDING_EXPIRES = "stripe_checkouts_to_expire"


def card_payments_on() -> bool:
    config = current_app.config
    return bool(config.get("STRIPE_SECRET_KEY") and config.get("STRIPE_WEBHOOK_SECRET"))


def client() -> stripe.StripeClient:
    config = current_app.config
    return stripe.StripeClient(config["STRIPE_SECRET_KEY"], base_addresses={"api": config["STRIPE_API_BASE"]},
                               max_network_retries=0)


def create_checkout(params: dict, idempotency_key: str):
    return client().v1.checkout.sessions.create(params=params, options={"idempotency_key": idempotency_key})


def expire_checkout(session_id: str) -> None:
    client().v1.checkout.sessions.expire(session_id)


def expire_after_commit(session, checkout_id: str) -> None:
    """Expire this Checkout Session once the database transaction that ended its booking commits.

    After the commit, not before: no lock is held while Stripe answers, and a change that rolls back
    expires nothing. A failure is logged, never raised: the booking is already ended, and a payment that
    still arrives for it is refunded (payments.operations._paid), never confirmed.
    """
    session.info.setdefault(PENDING_EXPIRES, []).append(checkout_id)


@event.listens_for(Session, "after_commit")
def _expire_committed(session) -> None:
    for checkout_id in session.info.pop(PENDING_EXPIRES, []):
        try:
            expire_checkout(checkout_id)
        except Error as error:
            log.warning("could not expire checkout %s of an ended booking: %s", checkout_id, error)
        else:
            log.info("expired checkout %s of an ended booking", checkout_id)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session) -> None:
    session.info.pop(PENDING_EXPIRES, None)


def refund(payment_intent: str):
    """Refund a payment in full; the idempotency key makes a repeat (a retried webhook) refund it once."""
    return client().v1.refunds.create(params={"payment_intent": payment_intent},
                                      options={"idempotency_key": f"refund-{payment_intent}"})


def verified_event(payload: bytes, signature: str | None):
    """The event, if Stripe signed it with our webhook secret within the library's tolerance (5 minutes).

    Raises ValueError (not JSON) or stripe.SignatureVerificationError (forged, altered, or replayed late).
    """
    return stripe.Webhook.construct_event(payload, signature, current_app.config["STRIPE_WEBHOOK_SECRET"])


Error = stripe.StripeError
SignatureError = stripe.SignatureVerificationError
