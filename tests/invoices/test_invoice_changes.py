"""When a confirmed, invoiced booking's dates change (the client moves it, the consultant reschedules the session),
its invoice is credited and a new one issued, with one email carrying both; "Issue invoice now" for a confirmed
priced booking that has none. On SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from blueprints.invoices import operations as inv_ops
from blueprints.training import operations as ops
from blueprints.training import schedule
from extensions import db
from models import AuditLog, Booking, BusinessDetails, Invoice, OutboxMessage, TrainingSession, utcnow
from tests.factories import make_booking, make_session
from tests.invoices.helpers import business, pdf_text, priced_session
from tests.training.helpers import run

CLIENT = dict(name="Søren Kierkegård", email="søren@æblegården.example", company="Æblegården ApS",
              billing_address="Nørregade 7\n1165 København K\nDanmark", vat_id="DK13585628", po_reference="PO-ØST-9")


def outbox(template: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)
                                   .order_by(OutboxMessage.id)))


def invoices(booking_id: int) -> list[Invoice]:
    db.session.expire_all()
    return list(db.session.scalars(select(Invoice).where(Invoice.booking_id == booking_id).order_by(Invoice.id)))


def two_dates(days_apart: int = 21):
    first = priced_session()
    second = make_session(first.course, starts_at=first.starts_at + timedelta(days=days_apart))
    return first, second


def confirmed_on(session, seats: int = 2) -> tuple[Booking, Invoice]:
    booking = make_booking(session, seats=seats, **CLIENT)
    run(ops.confirm_booking, booking, None)
    [invoice] = invoices(booking.id)
    return db.session.get(Booking, booking.id), invoice


def day(session: TrainingSession) -> str:
    start = session.local_starts_at
    return f"{start.day} {start:%B %Y}"


# --- a move ----------------------------------------------------------------------------------

def test_a_client_moving_an_invoiced_booking_gets_a_credit_note_and_a_new_invoice_in_one_email(app):
    business()
    first, second = two_dates()
    booking, old = confirmed_on(first)
    old_pdf, old_lines = old.pdf, list(old.lines)
    run(ops.move_booking, booking, second.id)

    old_again, note, new = invoices(booking.id)
    assert old_again.id == old.id and old_again.pdf == old_pdf and old_again.lines == old_lines  # never changed
    assert old_again.credited_by == note.id and old_again.status_label == "Cancelled by credit note"
    assert note.is_credit_note and note.credits_id == old.id and note.gross_cents == -old.gross_cents
    assert note.reason == "Booking moved to another session"
    # Same series rules, no gap: the next invoice number, the first credit note number.
    year = new.issued_on.year
    assert (old.number, new.number, note.number) == (f"INV-{year}-0001", f"INV-{year}-0002", f"CN-{year}-0001")
    assert new.gross_cents == old.gross_cents == 107100 and not new.is_paid and new.credited_by is None
    assert inv_ops.live_invoice(db.session.get(Booking, booking.id)).id == new.id
    assert day(second) in new.lines[0]["detail"] and day(first) in old.lines[0]["detail"]
    assert day(second) in pdf_text(new.pdf) and "Søren Kierkegård" in pdf_text(new.pdf)
    assert old.number in pdf_text(note.pdf)

    [mail] = outbox("invoice_reissued")
    assert mail.to_addr == CLIENT["email"] and mail.related == f"booking:{booking.id}"
    assert [a["filename"] for a in mail.attachments] == [note.filename, new.filename]
    assert [a["content_type"] for a in mail.attachments] == ["application/pdf", "application/pdf"]
    assert mail.next_attempt_at is None or mail.next_attempt_at <= utcnow()  # sent now, not held with the move notice
    body = " ".join(mail.text_body.split())
    assert f"Your booking moved to the session on {day(second)}" in body
    assert f"What to pay: €1,071.00 on {new.number}" in body and f"Please do not pay {old.number}" in body
    assert new.number in mail.subject and old.number in mail.subject
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"invoice.credit", "invoice.issue", "invoice.reissue", "booking.move"} <= actions


def test_a_paid_invoice_moves_its_payment_to_the_new_invoice(app):
    business()
    first, second = two_dates()
    booking, old = confirmed_on(first)
    paid_on = old.issued_on
    run(inv_ops.record_payment, old.id, None, amount_cents=old.gross_cents, paid_on=paid_on, reference="SEPA ÆØÅ-1")
    run(ops.move_booking, booking, second.id)
    _, note, new = invoices(booking.id)
    assert new.is_paid and new.paid_cents == new.gross_cents and new.paid_on == paid_on
    assert new.payment_method == Invoice.BANK and new.payment_reference == f"paid on {old.number}"
    assert new.outstanding_cents == 0 and not new.is_overdue(new.due_on + timedelta(days=30))
    text = pdf_text(new.pdf)
    assert "Nothing more to pay" in text and f"paid on {old.number}" in text and "How to pay" not in text
    body = " ".join(outbox("invoice_reissued")[0].text_body.split())
    assert "it is paid in full, nothing more to pay" in body and "refund" not in body
    assert outbox("invoice_refund_due") == []


def test_a_lower_new_total_is_paid_in_full_and_the_surplus_is_refunded(app):
    business()
    first, second = two_dates()
    booking, old = confirmed_on(first)
    run(inv_ops.record_payment, old.id, None, amount_cents=old.gross_cents, paid_on=old.issued_on)
    business(default_tax_rate=Decimal("7"))  # the rate fell since: the new invoice is €963.00, not €1,071.00
    run(ops.move_booking, booking, second.id)
    _, _, new = invoices(booking.id)
    assert new.gross_cents == 96300 and new.is_paid and new.paid_cents == 96300
    [told] = outbox("invoice_refund_due")
    assert told.to_addr == app.config["CONSULTANT_EMAIL"] and "€108.00" in told.subject
    assert "Please refund the surplus of €108.00" in " ".join(told.text_body.split())
    assert "will refund the difference" in outbox("invoice_reissued")[0].text_body
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "invoice.reissue"))
    assert entry.detail["refund_due"] == "€108.00"


def test_a_higher_new_total_asks_for_the_difference(app):
    business(default_tax_rate=Decimal("7"))
    first, second = two_dates()
    booking, old = confirmed_on(first)
    run(inv_ops.record_payment, old.id, None, amount_cents=old.gross_cents, paid_on=old.issued_on)
    business(default_tax_rate=Decimal("19"))
    run(ops.move_booking, booking, second.id)
    _, _, new = invoices(booking.id)
    assert (new.gross_cents, new.paid_cents, new.outstanding_cents) == (107100, 96300, 10800)
    assert "Please transfer the remaining €108.00" in " ".join(pdf_text(new.pdf).split())
    assert "Please transfer the remaining €108.00" in " ".join(outbox("invoice_reissued")[0].text_body.split())


def test_the_move_page_says_the_invoice_will_be_replaced(client, app):
    business()
    first, second = two_dates()
    result = run(ops.book_session, first.id, seats=2, **CLIENT)
    run(ops.confirm_booking, result.booking, None)
    page = client.post(f"/bookings/{result.token}/move", data={"session_id": second.id})
    assert page.status_code == 200 and "will be cancelled by a credit note and a new invoice issued" in page.text
    moved = client.post(f"/bookings/{result.token}/move", data={"session_id": second.id, "confirm": "yes"})
    assert moved.status_code == 303
    assert len(invoices(result.booking.id)) == 3 and len(outbox("invoice_reissued")) == 1


def test_moving_an_unconfirmed_or_unpriced_booking_issues_nothing(app):
    business()
    first, second = two_dates()
    pending = make_booking(first, **CLIENT)
    run(ops.move_booking, pending, second.id)
    unpriced_first = make_session()
    unpriced_second = make_session(unpriced_first.course, starts_at=unpriced_first.starts_at + timedelta(days=7))
    free = make_booking(unpriced_first, **CLIENT)
    run(ops.confirm_booking, free, None)
    run(ops.move_booking, db.session.get(Booking, free.id), unpriced_second.id)
    assert db.session.scalar(select(func.count(Invoice.id))) == 0 and outbox("invoice_reissued") == []


# --- a reschedule ----------------------------------------------------------------------------

def test_rescheduling_a_session_reissues_each_confirmed_invoice(app):
    business()
    session = priced_session()
    a, a_old = confirmed_on(session)
    b, b_old = confirmed_on(session, seats=1)
    waiting = make_booking(session, email="pending@example.com")
    starts = session.starts_at + timedelta(days=10)
    run(schedule.reschedule_session, session, starts, starts + timedelta(hours=8), None, "Neuer Termin")
    for booking, old in ((a, a_old), (b, b_old)):
        _, note, new = invoices(booking.id)
        assert note.credits_id == old.id and note.reason == "Session rescheduled"
        assert day(db.session.get(TrainingSession, session.id)) in new.lines[0]["detail"]
    assert invoices(waiting.id) == []
    assert len(outbox("invoice_reissued")) == 2 and len(outbox("booking_rescheduled")) == 3
    numbers = sorted(i.sequence for i in db.session.scalars(select(Invoice).where(Invoice.kind == Invoice.INVOICE)))
    assert numbers == [1, 2, 3, 4]  # gapless under the one lock
    assert "The session you booked was rescheduled to" in outbox("invoice_reissued")[0].text_body


def test_nothing_happens_when_the_invoice_lines_would_be_unchanged(app, admin_client):
    business()
    session = priced_session()
    booking, old = confirmed_on(session)
    later = session.starts_at + timedelta(hours=1)  # the same day, one hour later: the invoice's dates still hold
    run(schedule.reschedule_session, session, later, later + timedelta(hours=8), None)
    assert [i.id for i in invoices(booking.id)] == [old.id] and outbox("invoice_reissued") == []
    assert outbox("booking_rescheduled")  # the client is still told the new time
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "invoice.reissue")) is None


# --- Issue invoice now -----------------------------------------------------------------------

def test_issue_invoice_now_for_a_booking_confirmed_before_the_business_details(admin_client, app):
    session = priced_session()
    booking = make_booking(session, seats=2, **CLIENT)
    run(ops.confirm_booking, booking, None)  # no business details yet: no invoice
    assert invoices(booking.id) == []
    page = admin_client.get(f"/admin/sessions/{session.id}")
    assert "Issue invoice now" in page.text
    refused = admin_client.post(f"/admin/bookings/{booking.id}/invoice", follow_redirects=True)
    assert "Fill in your business details" in refused.text and invoices(booking.id) == []

    business()
    done = admin_client.post(f"/admin/bookings/{booking.id}/invoice")
    assert done.status_code == 303 and done.headers["Location"].endswith(f"#booking-{booking.id}")
    [invoice] = invoices(booking.id)
    assert invoice.gross_cents == 107100 and invoice.buyer_company == "Æblegården ApS"
    [mail] = outbox("invoice_issued")
    assert mail.to_addr == CLIENT["email"] and [a["filename"] for a in mail.attachments] == [invoice.filename]
    assert invoice.number in mail.subject and "DE89 3704 0044 0532 0130 00" in mail.text_body
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "booking.invoice_now"))
    assert entry is not None and entry.actor_id is not None and entry.detail["invoice"] == invoice.number
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "invoice.issue")).actor_id == entry.actor_id
    after = admin_client.get(f"/admin/sessions/{session.id}")
    assert "Issue invoice now" not in after.text and invoice.number in after.text

    again = admin_client.post(f"/admin/bookings/{booking.id}/invoice", follow_redirects=True)
    assert f"already has invoice {invoice.number}" in again.text
    assert len(invoices(booking.id)) == 1 and len(outbox("invoice_issued")) == 1


def test_issue_invoice_now_for_a_course_priced_after_the_booking_was_confirmed(admin_client, app):
    business()
    session = make_session()
    booking = make_booking(session, **CLIENT)
    run(ops.confirm_booking, booking, None)
    assert "Issue invoice now" not in admin_client.get(f"/admin/sessions/{session.id}").text  # no price: no button
    course = db.session.get(TrainingSession, session.id).course
    course.price, course.currency = 1200, "EUR"
    db.session.commit()
    assert "Issue invoice now" in admin_client.get(f"/admin/sessions/{session.id}").text
    admin_client.post(f"/admin/bookings/{booking.id}/invoice")
    [invoice] = invoices(booking.id)
    assert invoice.net_cents == 120000


def test_issue_invoice_now_refuses_what_is_not_a_confirmed_priced_booking(admin_client, app):
    business()
    pending = make_booking(priced_session(), **CLIENT)
    response = admin_client.post(f"/admin/bookings/{pending.id}/invoice", follow_redirects=True)
    assert "only a confirmed booking is invoiced" in response.text
    unpriced = make_booking(make_session(), status=Booking.CONFIRMED, **CLIENT)
    response = admin_client.post(f"/admin/bookings/{unpriced.id}/invoice", follow_redirects=True)
    assert "This course has no price" in response.text
    assert admin_client.post("/admin/bookings/999999/invoice").status_code == 404
    assert db.session.scalar(select(func.count(Invoice.id))) == 0
    assert BusinessDetails.current().complete
