"""Invoices: issued on confirming a priced booking, numbered without gaps, totals and tax, the PDF, credit notes,
payments, the one reminder, the accountant's CSV; on SQLite and PostgreSQL."""
from __future__ import annotations

import base64
import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from blueprints.invoices import operations as inv_ops
from blueprints.training import operations as ops
from extensions import db
from models import AuditLog, Booking, Invoice, InvoiceCounter, OutboxMessage
from models.invoices import InvoiceImmutable, Line, number_pattern_problem, totals
from tests.factories import make_booking, make_session
from tests.invoices.helpers import business, pdf_text, priced_session
from tests.training.helpers import run
from web.spam import issue_form_token

CLIENT = dict(name="Zoë Łukasiewicz", email="zoe@bücher.example", company="Librairie Zoë & Fils SARL",
              billing_address="12 rue de Rivoli\n75001 Paris\nFrance", vat_id="FR40303265045", po_reference="BC-2026/114")


def outbox(template: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)
                                   .order_by(OutboxMessage.id)))


def confirmed(session=None, seats: int = 2, **fields) -> tuple[Booking, Invoice]:
    booking = make_booking(session or priced_session(), seats=seats, **{**CLIENT, **fields})
    run(ops.confirm_booking, booking, None)
    invoice = db.session.scalar(select(Invoice).where(Invoice.booking_id == booking.id, Invoice.kind == Invoice.INVOICE))
    return db.session.get(Booking, booking.id), invoice


# --- totals -----------------------------------------------------------------------------------

def test_totals_round_tax_once_per_rate():
    lines = [Line("A", "", 3, 3333, Decimal("19")), Line("B", "", 1, 1001, Decimal("7")), Line("C", "", 1, 500, Decimal("19"))]
    figures = totals(lines)
    assert figures.net_cents == 9999 + 1001 + 500
    # 19 % of 104.99 = 19.9481 -> 19.95; 7 % of 10.01 = 0.7007 -> 0.70
    assert [(r["rate"], r["net_cents"], r["tax_cents"]) for r in figures.by_rate] == [("7", 1001, 70), ("19", 10499, 1995)]
    assert figures.gross_cents == 11500 + 70 + 1995


@pytest.mark.parametrize(("rate", "reverse_on", "vat_id", "tax", "gross", "wording"), [
    (Decimal("0"), False, "", 0, 90000, False),  # not VAT-registered: 0 %
    (Decimal("19"), False, "FR40303265045", 17100, 107100, False),  # standard rate; reverse charge not switched on
    (Decimal("19"), True, "FR40303265045", 0, 90000, True),  # EU business client in another country
    (Decimal("19"), True, "DE136695976", 17100, 107100, False),  # same country as the seller: no reverse charge
    (Decimal("19"), True, "", 17100, 107100, False),  # a private client: no VAT id, no reverse charge
])
def test_invoice_totals_and_reverse_charge(app, rate, reverse_on, vat_id, tax, gross, wording):
    business(default_tax_rate=rate, reverse_charge=reverse_on)
    _, invoice = confirmed(vat_id=vat_id)
    assert (invoice.net_cents, invoice.tax_cents, invoice.gross_cents) == (90000, tax, gross)
    assert invoice.reverse_charge is wording
    text = pdf_text(invoice.pdf)
    assert ("Article 196" in text) is wording
    assert f"€{gross // 100:,}.00" in text
    if wording:
        assert "VAT (reverse charge)" in text and "€0.00" in text
    else:
        assert f"VAT {rate.normalize():f} %" in text


def test_the_pdf_holds_the_number_the_parties_the_lines_and_the_totals(app):
    business()
    booking, invoice = confirmed()
    text = pdf_text(invoice.pdf)
    year = invoice.issued_on.year
    assert invoice.number == f"INV-{year}-0001"
    for expected in (invoice.number, "Linus Tribe Infrastruktur GmbH", "Hauptstraße 5", "DE136695976",
                     "Librairie Zoë & Fils SARL", "Zoë Łukasiewicz", "12 rue de Rivoli", "FR40303265045",
                     "BC-2026/114", "Training: Kubernetes für Einsteiger", "€450.00", "€900.00", "VAT 19 % of €900.00",
                     "€171.00", "Total due", "€1,071.00", "DE89 3704 0044 0532 0130 00", "COBADEFFXXX",
                     "Amtsgericht Berlin"):
        assert expected in text, expected
    assert invoice.due_on == invoice.issued_on + timedelta(days=14)
    assert f"Due {invoice.due_on.day} {invoice.due_on:%B %Y}" in text


def test_an_unpriced_booking_or_missing_business_details_issue_no_invoice(app):
    business()
    unpriced = make_booking(make_session(), **CLIENT)
    run(ops.confirm_booking, unpriced, None)
    assert db.session.scalar(select(func.count(Invoice.id))) == 0
    business(iban="")
    booking = make_booking(priced_session(), **CLIENT)
    run(ops.confirm_booking, booking, None)
    assert db.session.get(Booking, booking.id).status == Booking.CONFIRMED
    assert db.session.scalar(select(func.count(Invoice.id))) == 0


# --- the confirmation email --------------------------------------------------------------------

def test_the_confirmation_email_carries_the_invoice_pdf(mail_app, smtp_server):
    from mail.delivery import deliver_pending

    business()
    _, invoice = confirmed()
    deliver_pending()
    message = next(m for m in smtp_server.messages if "confirmed" in m["Subject"].lower())
    parts = {part.get_content_type(): part for part in message.walk() if not part.is_multipart()}
    assert "text/calendar" in parts
    pdf = parts["application/pdf"]
    assert pdf.get_filename() == f"invoice-{invoice.number}.pdf"
    assert invoice.number in pdf_text(pdf.get_payload(decode=True))
    body = message.get_body(("plain",)).get_content()
    assert f"Your invoice {invoice.number} is attached" in body and "€1,071.00" in body
    assert "DE89 3704 0044 0532 0130 00" in body


# --- numbering -----------------------------------------------------------------------------------

def test_numbers_run_per_series_and_year_and_follow_the_pattern(app):
    business(number_format="{year}/{series}/{number:05d}", invoice_series="RE", credit_note_series="GS")
    _, first = confirmed()
    _, second = confirmed()
    year = first.issued_on.year
    assert (first.number, second.number) == (f"{year}/RE/00001", f"{year}/RE/00002")
    run(ops.cancel_booking, db.session.get(Booking, first.booking_id), None)
    note = db.session.scalar(select(Invoice).where(Invoice.kind == Invoice.CREDIT_NOTE))
    assert note.number == f"{year}/GS/00001"  # its own series
    db.session.add(InvoiceCounter(series="RE", year=year + 1, last_number=0))
    db.session.commit()
    assert db.session.get(InvoiceCounter, ("RE", year)).last_number == 2


@pytest.mark.parametrize(("pattern", "ok"), [
    ("{series}-{year}-{number:04d}", True), ("{year}{number:06d}{series}", True), ("{series}-{number}", False),
    ("{number}", False), ("INV-{year}-{count}", False), ("{series} {year} {number}", False), ("{series}-{year}-{number:04d}}", False),
])
def test_number_patterns(pattern, ok):
    assert (number_pattern_problem(pattern) is None) is ok


def test_a_rolled_back_confirmation_gives_its_number_back(app):
    business()
    booking = make_booking(priced_session(), **CLIENT)
    ops.confirm_booking(booking, None)
    db.session.rollback()  # e.g. the request failed after the invoice was made
    _, invoice = confirmed()
    assert invoice.sequence == 1


# --- issued invoices never change; credit notes ---------------------------------------------------------

def test_an_issued_invoice_never_changes(app):
    business()
    _, invoice = confirmed()
    invoice.gross_cents = 1
    with pytest.raises(InvoiceImmutable):
        db.session.flush()
    db.session.rollback()
    invoice = db.session.get(Invoice, invoice.id)
    db.session.delete(invoice)
    with pytest.raises(InvoiceImmutable):
        db.session.flush()
    db.session.rollback()
    business(legal_name="Another Name Ltd")  # later edits of the details never reach it
    assert "Linus Tribe Infrastruktur GmbH" in pdf_text(db.session.get(Invoice, invoice.id).pdf)


def test_cancelling_a_confirmed_booking_issues_a_credit_note_referencing_its_invoice(app):
    business()
    booking, invoice = confirmed()
    run(ops.cancel_booking, booking, None)  # by the client, through their link
    note = db.session.scalar(select(Invoice).where(Invoice.kind == Invoice.CREDIT_NOTE))
    invoice = db.session.get(Invoice, invoice.id)
    assert note.credits_id == invoice.id and invoice.credited_by == note.id
    assert (note.net_cents, note.tax_cents, note.gross_cents) == (-90000, -17100, -107100)
    assert note.number == f"CN-{note.issued_on.year}-0001"
    text = pdf_text(note.pdf)
    assert "Credit note" in text and note.number in text and f"Credits invoice {invoice.number}" in text
    assert "−€1,071.00" in text and "Booking cancelled by the client" in text
    assert invoice.status_label == "Cancelled by credit note" and invoice.outstanding_cents == 0
    email = outbox("booking_cancelled")[-1]
    types = [a["content_type"].split(";")[0] for a in email.attachments]
    assert types == ["text/calendar", "application/pdf"]
    assert email.attachments[1]["filename"] == note.filename
    assert f"credit note {note.number}" in email.text_body
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "invoice.credit")).target_id == invoice.id


def test_the_consultant_credits_an_invoice_after_asking_first(admin_client, app):
    business()
    _, invoice = confirmed()
    page = admin_client.get(f"/admin/invoices/{invoice.id}/credit")
    assert page.status_code == 200 and "Credit invoice" in page.text and "cannot be undone" in page.text
    assert db.session.scalar(select(func.count(Invoice.id))) == 1  # asking changed nothing
    refused = admin_client.post(f"/admin/invoices/{invoice.id}/credit", data={"reason": ""})
    assert refused.status_code == 422
    done = admin_client.post(f"/admin/invoices/{invoice.id}/credit", data={"reason": "Wrong billing address"},
                             follow_redirects=True)
    assert "Credit note CN-" in done.text
    note = db.session.scalar(select(Invoice).where(Invoice.kind == Invoice.CREDIT_NOTE))
    assert note.reason == "Wrong billing address"
    mail = outbox("invoice_credit_note")[-1]
    assert mail.to_addr == CLIENT["email"] and mail.attachments[0]["filename"] == note.filename
    again = admin_client.get(f"/admin/invoices/{invoice.id}/credit", follow_redirects=True)
    assert "cannot be credited" in again.text


# --- payments, overdue, the one reminder ---------------------------------------------------------------

def overdue_invoice() -> Invoice:
    business(payment_terms_days=0)
    _, invoice = confirmed()
    return invoice


def test_marking_a_bank_payment_received_takes_it_off_the_overdue_list(admin_client, app):
    invoice = overdue_invoice()
    tomorrow = invoice.issued_on + timedelta(days=1)
    with_overdue = admin_client.get("/admin/")  # due today: not overdue yet
    assert invoice.number not in with_overdue.text
    import blueprints.invoices.operations as module

    original = module.local_today
    module.local_today = lambda now=None: tomorrow
    try:
        dashboard = admin_client.get("/admin/")
        assert "Overdue invoices" in dashboard.text and invoice.number in dashboard.text and "1 day late" in dashboard.text
        bad = admin_client.post(f"/admin/invoices/{invoice.id}/payment",
                                data={"paid_on": tomorrow.isoformat(), "amount": "lots"})
        assert bad.status_code == 422 and "Enter an amount like" in bad.text
        part = admin_client.post(f"/admin/invoices/{invoice.id}/payment",
                                 data={"paid_on": tomorrow.isoformat(), "amount": "1.000,00", "reference": "SEPA 42"},
                                 follow_redirects=True)
        assert "part paid" in part.text
        assert invoice.number in admin_client.get("/admin/").text  # €71.00 still open
        paid = admin_client.post(f"/admin/invoices/{invoice.id}/payment",
                                 data={"paid_on": tomorrow.isoformat(), "amount": "71.00"}, follow_redirects=True)
        assert "is paid" in paid.text
        assert invoice.number not in admin_client.get("/admin/").text
        assert invoice.number not in admin_client.get("/admin/invoices?show=overdue").text
    finally:
        module.local_today = original
    stored = db.session.get(Invoice, invoice.id)
    assert stored.paid_cents == 107100 and stored.paid_on == tomorrow and stored.is_paid
    assert db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "invoice.payment")) == 2


def test_one_reminder_after_the_due_date_even_when_run_twice(app, runner):
    invoice = overdue_invoice()
    assert inv_ops.send_reminders(invoice.issued_on) == 0  # due today: not late
    db.session.commit()
    later = invoice.issued_on + timedelta(days=3)
    assert run(inv_ops.send_reminders, later) == 1
    assert run(inv_ops.send_reminders, later) == 0
    result = runner.invoke(args=["invoices", "remind"])
    assert result.exit_code == 0 and "Queued 0 invoice reminders." in result.output
    [mail] = outbox("invoice_reminder")
    assert mail.to_addr == CLIENT["email"] and invoice.number in mail.subject
    assert "friendly reminder" in mail.text_body and "DE89 3704 0044 0532 0130 00" in mail.text_body
    assert mail.attachments[0]["content_type"] == "application/pdf"
    assert base64.b64decode(mail.attachments[0]["data"]) == db.session.get(Invoice, invoice.id).pdf


def test_a_paid_invoice_gets_no_reminder(app):
    invoice = overdue_invoice()
    run(inv_ops.record_payment, invoice.id, None, amount_cents=invoice.gross_cents, paid_on=invoice.issued_on)
    assert run(inv_ops.send_reminders, invoice.issued_on + timedelta(days=30)) == 0


# --- the accountant's CSV ------------------------------------------------------------------------------

def test_csv_export_of_invoices_and_credit_notes(admin_client, app):
    business()
    _, first = confirmed(company="=HYPERLINK(\"http://evil.example\")")
    booking, second = confirmed()
    run(ops.cancel_booking, booking, None)
    today = first.issued_on
    response = admin_client.get(f"/admin/invoices/export.csv?start={today.isoformat()}&end={today.isoformat()}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Number", "Type", "Issued", "Due"]
    by_number = {row[0]: row for row in rows[1:]}
    assert set(by_number) == {first.number, second.number, f"CN-{today.year}-0001"}
    assert by_number[first.number][6] == "'=HYPERLINK(\"http://evil.example\")"  # formula-safe
    assert by_number[first.number][10:13] == ["900.00", "171.00", "1071.00"]
    credit = by_number[f"CN-{today.year}-0001"]
    assert credit[1] == "Credit note" and credit[4] == second.number and credit[12] == "'-1071.00"
    empty = admin_client.get(f"/admin/invoices/export.csv?start={(today + timedelta(days=1)).isoformat()}"
                             f"&end={(today + timedelta(days=9)).isoformat()}")
    assert len(list(csv.reader(io.StringIO(empty.data.decode("utf-8-sig"))))) == 1
    backwards = admin_client.get(f"/admin/invoices/export.csv?start={today.isoformat()}&end=2000-01-01",
                                 follow_redirects=True)
    assert "The last day comes after the first." in backwards.text


# --- downloads ---------------------------------------------------------------------------------------------

def test_the_invoice_downloads_from_the_booking_link_and_the_admin(admin_client, client, app):
    from blueprints.training.links import link_token

    business()
    booking, invoice = confirmed()
    other, _ = confirmed()
    with app.test_request_context():
        token = link_token(booking)
    page = client.get(f"/bookings/{token}")
    assert f"Invoice {invoice.number} (PDF)" in page.text
    pdf = client.get(f"/bookings/{token}/invoices/{invoice.id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data == invoice.pdf
    assert "no-store" in pdf.headers["Cache-Control"]
    assert client.get(f"/bookings/{token}/invoices/{other.id + 1}.pdf").status_code == 404
    other_invoice = db.session.scalar(select(Invoice).where(Invoice.booking_id == other.id))
    assert client.get(f"/bookings/{token}/invoices/{other_invoice.id}.pdf").status_code == 404  # not theirs
    admin_pdf = admin_client.get(f"/admin/invoices/{invoice.id}.pdf?download=1")
    assert admin_pdf.data == invoice.pdf and admin_pdf.headers["Content-Disposition"].startswith("attachment")
    assert client.get(f"/admin/invoices/{invoice.id}.pdf").status_code in (302, 303)  # signed in only


# --- the business details page --------------------------------------------------------------------------

def details_form(**fields) -> dict:
    data = {"legal_name": "Linus Tribe Ltd", "address": "1 Quay Street\nDublin 2", "vat_id": "IE 6388047 V",
            "iban": "IE29 AIBK 9311 5212 3456 78", "bic": "AIBKIE2D", "payment_terms_days": "30",
            "invoice_series": "INV", "credit_note_series": "CN", "number_format": "{series}-{year}-{number:04d}",
            "currency": "EUR", "default_tax_rate": "23", "reverse_charge": "y", "reverse_charge_note": "",
            "footer_note": "Registered in Ireland, no. 123456"}
    data.update(fields)
    return data


def test_business_details_are_validated_with_checksums(admin_client, app):
    page = admin_client.get("/admin/settings/business")
    assert page.status_code == 200 and 'for="iban"' in page.text
    bad = admin_client.post("/admin/settings/business", data=details_form(
        iban="IE29 AIBK 9311 5212 3456 79", vat_id="IE6388048V", bic="AIB", number_format="{number}",
        credit_note_series="INV"))
    assert bad.status_code == 422
    for message in ("This IBAN does not check out", "This is not a valid VAT id", "A BIC has 8 or 11",
                    "The pattern needs {series} and {year}", "need series of their own"):
        assert message in bad.text, message
    assert 'aria-invalid="true"' in bad.text
    good = admin_client.post("/admin/settings/business", data=details_form(), follow_redirects=True)
    assert "Business details saved" in good.text
    from models import BusinessDetails

    stored = db.session.get(BusinessDetails, 1)
    assert (stored.vat_id, stored.iban, stored.country) == ("IE6388047V", "IE29AIBK93115212345678", "IE")
    assert stored.default_tax_rate == Decimal("23") and stored.reverse_charge
    assert "Article 196" in stored.reverse_charge_note
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "settings.business")) is not None


# --- the booking form -------------------------------------------------------------------------------------

def booking_form(**fields) -> dict:
    data = {"name": "Zoë Łukasiewicz", "email": "zoe@example.com", "company": "Librairie Zoë", "seats": "1",
            "notes": "", "consent": "y", "action": "book", "website": "", "form_token": issue_form_token("booking"),
            "billing_address": "12 rue de Rivoli\r\n75001 Paris", "vat_id": "fr 40 303 265 045",
            "po_reference": "BC-114"}
    data.update(fields)
    return data


def test_the_booking_form_asks_for_invoice_details_only_when_the_course_has_a_price(client, app):
    priced = priced_session()
    free = make_session()
    assert "Invoice details" in client.get(f"/training/sessions/{priced.id}/book").text
    assert "Invoice details" not in client.get(f"/training/sessions/{free.id}/book").text
    missing = client.post(f"/training/sessions/{priced.id}/book", data=booking_form(billing_address=""))
    assert missing.status_code == 422 and "Enter the address the invoice goes to." in missing.text
    bad_vat = client.post(f"/training/sessions/{priced.id}/book", data=booking_form(vat_id="FR40303265046"))
    assert bad_vat.status_code == 422 and "This is not a valid VAT id" in bad_vat.text
    done = client.post(f"/training/sessions/{priced.id}/book", data=booking_form())
    assert done.status_code == 303
    booking = db.session.scalar(select(Booking).where(Booking.session_id == priced.id))
    assert (booking.billing_address, booking.vat_id, booking.po_reference) == ("12 rue de Rivoli\n75001 Paris",
                                                                               "FR40303265045", "BC-114")


def test_admin_invoice_pages(admin_client, app):
    business()
    _, invoice = confirmed()
    listing = admin_client.get("/admin/invoices")
    assert listing.status_code == 200 and invoice.number in listing.text and "Unpaid" in listing.text
    detail = admin_client.get(f"/admin/invoices/{invoice.id}")
    assert "Mark a bank payment received" in detail.text and "€1,071.00" in detail.text
    assert 'value="1071.00"' in detail.text
    assert admin_client.get("/admin/invoices/99999").status_code == 404
    assert re.search(r"Invoices</a>", admin_client.get("/admin/").text)


def test_cancelling_the_session_credits_each_confirmed_invoice(app):
    from blueprints.training import schedule

    business()
    session = priced_session()
    first, first_invoice = confirmed(session)
    second, second_invoice = confirmed(session, email="second@example.com")
    run(schedule.cancel_session, db.session.get(type(session), session.id), None, "Trainer krank")
    notes = db.session.scalars(select(Invoice).where(Invoice.kind == Invoice.CREDIT_NOTE).order_by(Invoice.id)).all()
    assert [n.credits_id for n in notes] == [first_invoice.id, second_invoice.id]
    assert [n.sequence for n in notes] == [1, 2] and all(n.reason == "Session cancelled" for n in notes)
    mails = outbox("booking_session_cancelled")
    assert all("application/pdf" in [a["content_type"] for a in m.attachments] for m in mails)
    assert f"credit note {notes[0].number}" in mails[0].text_body


def test_the_cancel_page_says_the_invoice_will_be_credited(admin_client, app):
    business()
    booking, invoice = confirmed()
    page = admin_client.post(f"/admin/bookings/{booking.id}/cancel", data={"message": ""})
    assert f"Invoice {invoice.number} is cancelled by a credit note" in page.text
    assert db.session.scalar(select(func.count(Invoice.id))) == 1  # asked, nothing done yet
