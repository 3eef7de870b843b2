"""Card payment by Stripe Checkout against a stand-in for Stripe's API on loopback, with webhooks signed the way
Stripe signs them: book -> Checkout -> webhook -> confirmed and paid; forged and replayed events change nothing;
an expired hold frees the seat; a late payment on a full session never overbooks."""
from __future__ import annotations

import json
import time
from datetime import timedelta

from sqlalchemy import func, select

from blueprints.payments import operations as pay_ops
from extensions import db
from models import AuditLog, Booking, Invoice, OutboxMessage, StripeEvent, TrainingSession, utcnow
from tests.invoices.helpers import pdf_text, priced_session
from tests.payments.stripe_standin import WEBHOOK_SECRET, sign
from tests.training.helpers import run
from web.spam import issue_form_token

WEBHOOK = "/payments/stripe/webhook"


def outbox(template: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)
                                   .order_by(OutboxMessage.id)))


def book_by_card(client, session: TrainingSession, **fields) -> tuple[str, Booking]:
    data = {"name": "Håkon Ærø", "email": "hakon@fjord.example", "company": "", "seats": "2", "notes": "",
            "consent": "y", "action": "card", "website": "", "form_token": issue_form_token("booking"),
            "billing_address": "Storgata 1\n0155 Oslo\nNorge", "vat_id": "", "po_reference": ""}
    data.update(fields)
    response = client.post(f"/training/sessions/{session.id}/book", data=data)
    assert response.status_code == 303, response.text
    location = response.headers["Location"]
    if data["action"] == "card":
        assert location.endswith("/pay")  # what it costs, then on to Stripe
        location = location.removesuffix("/pay")
    token = location.rsplit("/", 1)[-1]
    booking = db.session.scalar(select(Booking).where(Booking.email == data["email"]).order_by(Booking.id.desc()))
    return token, booking


def to_checkout(client, token: str) -> str:
    page = client.get(f"/bookings/{token}/pay")
    assert page.status_code == 200 and "Continue to payment" in page.text
    response = client.post(f"/bookings/{token}/pay")
    assert response.status_code == 303
    return response.headers["Location"]


def deliver(client, event: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None, payload: str | None = None):
    body = payload if payload is not None else json.dumps(event)
    return client.post(WEBHOOK, data=body, content_type="application/json",
                       headers={"Stripe-Signature": sign(json.dumps(event), secret, timestamp)})


def checkout_id(booking_id: int) -> str:
    return db.session.get(Booking, booking_id).checkout_session_id


def test_off_by_default(client, app, seller):
    app.config.update(STRIPE_SECRET_KEY="", STRIPE_WEBHOOK_SECRET="")
    session = priced_session()
    page = client.get(f"/training/sessions/{session.id}/book")
    assert "Pay by card now" not in page.text
    assert client.post(WEBHOOK, data="{}", content_type="application/json").status_code == 404


def test_book_checkout_webhook_confirmed_and_paid(client, app, seller, stripe_standin):
    session = priced_session(capacity=5)
    page = client.get(f"/training/sessions/{session.id}/book")
    assert "Pay by card now" in page.text and "(pay by invoice)" in page.text
    token, booking = book_by_card(client, session)
    assert booking.status == Booking.PENDING and booking.hold_expires_at is None
    pay_page = client.get(f"/bookings/{token}/pay")
    assert "€1,071.00" in pay_page.text  # 2 × €450 + 19 %
    # Its form leads on to Checkout: form-action allows that origin (a redirect is checked too), and only it.
    assert "form-action 'self' https://checkout.stripe.com" in pay_page.headers["Content-Security-Policy"]
    url = to_checkout(client, token)
    assert url.startswith(f"{stripe_standin.url}/c/pay/cs_test_")
    [sent] = stripe_standin.checkout_requests()
    item = sent.params["line_items"][0]
    assert item["price_data"]["unit_amount"] == "107100" and item["price_data"]["currency"] == "eur"
    assert sent.params["metadata"] == {"booking_id": str(booking.id)}
    assert sent.headers["idempotency-key"].startswith(f"checkout-{booking.id}-")
    booking = db.session.get(Booking, booking.id)
    hold = booking.hold_expires_at
    assert booking.awaits_card_payment and timedelta(minutes=29) < hold - utcnow() <= timedelta(minutes=30)
    assert int(sent.params["expires_at"]) == int(hold.timestamp())
    assert db.session.get(TrainingSession, session.id).seats_left == 3  # held while Checkout is open
    assert "held for your card payment until" in client.get(f"/bookings/{token}").text
    assert to_checkout(client, token) == url  # the open Checkout again, not a second one
    assert len(stripe_standin.checkout_requests()) == 1

    response = deliver(client, stripe_standin.event("checkout.session.completed", booking.checkout_session_id))
    assert response.status_code == 200 and response.json["outcome"] == "confirmed and paid"
    booking = db.session.get(Booking, booking.id)
    assert booking.status == Booking.CONFIRMED and booking.hold_expires_at is None
    invoice = db.session.scalar(select(Invoice).where(Invoice.booking_id == booking.id))
    assert invoice.is_paid and invoice.payment_method == "card" and invoice.paid_cents == 107100
    assert invoice.payment_reference.startswith("pi_")
    text = pdf_text(invoice.pdf)
    assert "Paid by card on" in text and "How to pay" not in text and "€1,071.00" in text
    [confirmation] = outbox("booking_confirmed")
    assert [a["content_type"].split(";")[0] for a in confirmation.attachments] == ["text/calendar", "application/pdf"]
    assert "Paid by card: thank you" in confirmation.text_body
    assert outbox("booking_paid")[0].to_addr == app.config["CONSULTANT_EMAIL"]
    assert db.session.get(TrainingSession, session.id).seats_left == 3


def test_a_forged_or_replayed_webhook_changes_nothing(client, app, seller, stripe_standin):
    session = priced_session()
    token, booking = book_by_card(client, session)
    to_checkout(client, token)
    event = stripe_standin.event("checkout.session.completed", checkout_id(booking.id))

    def unchanged():
        assert db.session.get(Booking, booking.id).status == Booking.PENDING
        assert db.session.scalar(select(func.count(Invoice.id))) == 0
        assert db.session.scalar(select(func.count(StripeEvent.id))) == 0

    assert deliver(client, event, secret="whsec_someone_else").status_code == 400  # forged: not our secret
    unchanged()
    tampered = json.dumps({**event, "data": {"object": {**event["data"]["object"], "amount_total": 1}}})
    assert deliver(client, event, payload=tampered).status_code == 400  # altered after signing
    unchanged()
    old = int(time.time()) - 3600
    assert deliver(client, event, timestamp=old).status_code == 400  # a captured event replayed an hour later
    unchanged()
    assert client.post(WEBHOOK, data=json.dumps(event), content_type="application/json").status_code == 400  # unsigned
    assert client.post(WEBHOOK, data="not json", content_type="application/json",
                       headers={"Stripe-Signature": "t=1,v1=00"}).status_code == 400
    unchanged()

    assert deliver(client, event).json["outcome"] == "confirmed and paid"
    again = deliver(client, event)  # Stripe retries, or someone replays it within the tolerance
    assert again.status_code == 200 and again.json["outcome"] == "already handled"
    assert db.session.scalar(select(func.count(Invoice.id))) == 1
    assert len(outbox("booking_confirmed")) == 1
    assert db.session.get(StripeEvent, event["id"]).outcome == "confirmed and paid"


def test_an_expired_hold_frees_the_seat(client, app, seller, stripe_standin):
    session = priced_session(capacity=2)
    token, booking = book_by_card(client, session)
    to_checkout(client, token)
    assert db.session.get(TrainingSession, session.id).seats_left == 0
    response = deliver(client, stripe_standin.event("checkout.session.expired", checkout_id(booking.id)))
    assert response.json["outcome"] == "hold released"
    assert db.session.get(Booking, booking.id).status == Booking.EXPIRED
    assert db.session.get(TrainingSession, session.id).seats_left == 2
    [mail] = outbox("payment_expired")
    assert mail.to_addr == "hakon@fjord.example" and "No money was taken" in mail.text_body


def test_a_missed_expiry_webhook_is_caught_by_the_cron_sweep(client, app, runner, seller, stripe_standin):
    session = priced_session(capacity=2)
    token, booking = book_by_card(client, session)
    to_checkout(client, token)
    stored = db.session.get(Booking, booking.id)
    stored.hold_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    result = runner.invoke(args=["bookings", "expire"])
    assert result.exit_code == 0 and "released 1 card hold" in result.output
    assert db.session.get(Booking, booking.id).status == Booking.EXPIRED
    assert db.session.get(TrainingSession, session.id).seats_left == 2
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "booking.hold_released")) is not None


def test_a_late_payment_on_a_full_session_does_not_overbook(client, app, seller, stripe_standin):
    session = priced_session(capacity=2)
    token, late = book_by_card(client, session)
    to_checkout(client, token)
    deliver(client, stripe_standin.event("checkout.session.expired", checkout_id(late.id)))
    book_by_card(client, session, email="other@example.com", action="book")  # takes the two freed seats
    assert db.session.get(TrainingSession, session.id).seats_left == 0

    response = deliver(client, stripe_standin.event("checkout.session.completed", checkout_id(late.id)))
    assert response.json["outcome"].startswith("refund due")
    assert db.session.get(Booking, late.id).status == Booking.WAITLISTED
    assert db.session.get(TrainingSession, session.id).seats_held == 2  # nobody overbooked
    assert db.session.scalar(select(func.count(Invoice.id))) == 0
    [told] = outbox("payment_refund")
    assert told.to_addr == app.config["CONSULTANT_EMAIL"] and "Please refund it" in told.text_body
    assert "on the waitlist" in outbox("payment_late")[0].text_body
    assert stripe_standin.refunds == []


def test_a_late_payment_is_refunded_automatically_when_configured(client, app, seller, stripe_standin):
    app.config["STRIPE_AUTO_REFUND"] = True
    session = priced_session(capacity=1)
    token, late = book_by_card(client, session, seats="1")
    to_checkout(client, token)
    deliver(client, stripe_standin.event("checkout.session.expired", checkout_id(late.id)))
    book_by_card(client, session, email="other@example.com", action="book", seats="1")
    event = stripe_standin.event("checkout.session.completed", checkout_id(late.id))
    assert deliver(client, event).json["outcome"].startswith("refunded")
    [refund] = stripe_standin.refunds
    assert refund["payment_intent"] == event["data"]["object"]["payment_intent"]
    assert refund["idempotency_key"] == f"refund-{refund['payment_intent']}"
    assert "refunded automatically" in outbox("payment_refund")[0].text_body
    assert "We have refunded it in full" in outbox("payment_late")[0].text_body
    assert db.session.get(TrainingSession, session.id).seats_held == 1


def test_a_late_payment_while_the_seats_are_still_free_confirms(client, app, seller, stripe_standin):
    session = priced_session(capacity=3)
    token, late = book_by_card(client, session)
    to_checkout(client, token)
    deliver(client, stripe_standin.event("checkout.session.expired", checkout_id(late.id)))
    response = deliver(client, stripe_standin.event("checkout.session.completed", checkout_id(late.id)))
    assert response.json["outcome"].startswith("confirmed and paid (after its hold ran out")
    assert db.session.get(Booking, late.id).status == Booking.CONFIRMED
    assert db.session.get(TrainingSession, session.id).seats_left == 1


def test_stripe_unreachable_leaves_the_booking_request_standing(client, app, seller, stripe_standin):
    session = priced_session()
    token, booking = book_by_card(client, session)
    stripe_standin.fail_next = 1
    response = client.post(f"/bookings/{token}/pay", follow_redirects=True)
    assert response.status_code == 200 and "Card payment is not available right now" in response.text
    stored = db.session.get(Booking, booking.id)
    assert stored.status == Booking.PENDING and stored.hold_expires_at is None and stored.checkout_session_id is None


def test_paying_a_booking_the_consultant_already_confirmed_marks_its_invoice_paid(client, app, seller, stripe_standin):
    from blueprints.training import operations as ops

    session = priced_session()
    token, booking = book_by_card(client, session)
    to_checkout(client, token)
    run(ops.confirm_booking, db.session.get(Booking, booking.id), None)
    invoice = db.session.scalar(select(Invoice).where(Invoice.booking_id == booking.id))
    assert not invoice.is_paid
    response = deliver(client, stripe_standin.event("checkout.session.completed", checkout_id(booking.id)))
    assert response.json["outcome"] == f"recorded on {invoice.number}"
    assert db.session.get(Invoice, invoice.id).is_paid


def test_no_card_payment_without_business_details(client, app, stripe_standin):
    session = priced_session()
    token, booking = book_by_card(client, session)
    response = client.get(f"/bookings/{token}/pay", follow_redirects=True)
    assert "Card payment is not available yet" in response.text
    assert stripe_standin.checkout_requests() == []
    assert pay_ops.payable_refusal(db.session.get(Booking, booking.id)) is not None


def tampered(header: str) -> str:
    """The header with its signature's last hex digit changed (always changed: a fixed digit matched 1 time in 16)."""
    return header[:-1] + ("1" if header.endswith("0") else "0")


def test_fuzzed_webhook_bodies_and_signatures_change_nothing(client, app, seller, stripe_standin):
    """Whatever arrives without Stripe's signature over exactly those bytes: a 400, never a 500, nothing stored."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    session = priced_session()
    token, booking = book_by_card(client, session)
    to_checkout(client, token)
    genuine = json.dumps(stripe_standin.event("checkout.session.completed", checkout_id(booking.id)))

    @settings(max_examples=60, deadline=None)
    @given(body=st.one_of(st.text(max_size=300), st.just(genuine)),
           header=st.one_of(st.none(), st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=120), st.just(sign("{}")), st.just(tampered(sign(genuine)))))
    def one(body, header):
        headers = {} if header is None else {"Stripe-Signature": header}
        response = client.post(WEBHOOK, data=body.encode("utf-8", "surrogatepass"), content_type="application/json",
                               headers=headers)
        assert response.status_code == 400, (body, header, response.status_code)

    one()
    assert db.session.get(Booking, booking.id).status == Booking.PENDING
    assert db.session.scalar(select(func.count(StripeEvent.id))) == 0
