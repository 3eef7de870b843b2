"""Stripe's webhook: the only way a card payment confirms a booking."""
from __future__ import annotations

from flask import abort, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError

from blueprints.payments import bp, stripe_api
from blueprints.payments import operations as ops
from extensions import csrf, db, limiter


@bp.post("/payments/stripe/webhook")
@csrf.exempt  # Stripe cannot send a CSRF token; the signature is the proof instead
@limiter.exempt
def stripe_webhook():
    if not stripe_api.card_payments_on():
        abort(404)
    payload = request.get_data()
    try:
        event = stripe_api.verified_event(payload, request.headers.get("Stripe-Signature"))
    except (ValueError, stripe_api.SignatureError) as error:
        current_app.logger.warning("stripe webhook refused: %s", error)
        return jsonify(error="invalid signature"), 400
    try:
        outcome = ops.handle_event(event)
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        if not ops.duplicate(error):
            raise
        outcome = "already handled"  # the same event, delivered twice at once
    current_app.logger.info("stripe event %s %s: %s", event.id, event.type, outcome)
    return jsonify(received=True, outcome=outcome)
