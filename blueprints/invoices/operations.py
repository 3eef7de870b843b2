"""Invoicing workflows: issue an invoice for a confirmed booking, credit it, record a payment, remind once.

On the convention of models/transactions.py: the caller has begun the write (confirm_booking and
cancel_booking hold the session's lock already; the admin actions begin their own), these flush,
and the view or command commits once. A number is taken from its counter row under a lock in the
same transaction as the invoice that uses it, so numbers are never shared and never skipped.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from blueprints.invoices.pdf import render_pdf
from extensions import db
from mail.compose import Attachment, queue_email
from models import AuditLog, Booking, site_settings, utcnow
from models.invoices import (
    BusinessDetails,
    Invoice,
    InvoiceCounter,
    Line,
    format_number,
    local_today,
    money,
    totals,
)
from models.transactions import NotAllowed, begin_write, locked


def pdf_attachment(invoice: Invoice) -> Attachment:
    return Attachment(invoice.filename, "application/pdf", invoice.pdf)


def _number(details: BusinessDetails, series: str, today: date) -> tuple[int, str]:
    sequence = InvoiceCounter.take_next(series, today.year)
    return sequence, format_number(details.number_format, series, today.year, sequence)


def booking_lines(booking: Booking, rate) -> list[Line]:
    session = booking.session
    start, end = session.local_starts_at, session.local_ends_at
    dates = f"{start.day} {start:%B %Y}" if start.date() == end.date() else \
        f"{start.day} {start:%B %Y} – {end.day} {end:%B %Y}"
    return [Line(description=f"Training: {session.course.title}", detail=f"{dates} · {session.where}",
                 quantity=booking.seats, unit_cents=session.course.price * 100, tax_rate=rate)]


def live_invoice(booking: Booking) -> Invoice | None:
    """The booking's invoice that no credit note has cancelled, if any."""
    return db.session.scalar(select(Invoice).where(Invoice.booking_id == booking.id, Invoice.kind == Invoice.INVOICE,
                                                   Invoice.credited_by.is_(None)).order_by(Invoice.id.desc()).limit(1))


def current_lines(booking: Booking, details: BusinessDetails) -> tuple[bool, list[Line]]:
    """Whether the reverse charge applies, and the lines an invoice issued now for the booking would have."""
    reverse = details.reverse_charge_for(booking.vat_id)
    return reverse, booking_lines(booking, 0 if reverse else details.default_tax_rate)


def issue_invoice(booking: Booking, actor=None, *, now: datetime | None = None,
                  paid: tuple[int, date, str] | None = None, carried_from: Invoice | None = None) -> Invoice | None:
    """The invoice for a confirmed priced booking (None: no price, or no business details yet). Once per booking.

    `paid` (amount, date, card payment reference): paid by card already, so the PDF says so.
    `carried_from`: the credited invoice this one replaces; what was paid on it counts here (reissue_for_change).
    """
    details = BusinessDetails.current()
    if booking.price_total is None or not details.complete:
        return None
    existing = live_invoice(booking)
    if existing is not None:
        return existing
    today = local_today(now)
    reverse, lines = current_lines(booking, details)
    figures = totals(lines)
    sequence, number = _number(details, details.invoice_series, today)
    invoice = Invoice(
        kind=Invoice.INVOICE, paid_cents=0, series=details.invoice_series, year=today.year, sequence=sequence, number=number,
        booking_id=booking.id, issued_on=today, due_on=today + timedelta(days=details.payment_terms_days),
        seller=details.snapshot(), buyer_name=booking.name, buyer_company=booking.company,
        buyer_address=booking.billing_address, buyer_vat_id=booking.vat_id, buyer_email=booking.email,
        po_reference=booking.po_reference, lines=[line.as_json() for line in lines], tax_by_rate=figures.by_rate,
        currency=(booking.session.course.currency or details.currency).upper(), net_cents=figures.net_cents,
        tax_cents=figures.tax_cents, gross_cents=figures.gross_cents, reverse_charge=reverse,
        reverse_charge_note=details.reverse_charge_note if reverse else "",
    )
    if paid is not None:
        invoice.record_payment(paid[0], paid[1], Invoice.CARD, paid[2])
    if carried_from is not None and carried_from.paid_cents > 0:
        # The money arrived when it arrived (perhaps before today's issue date), by the way it came.
        invoice.paid_cents = min(carried_from.paid_cents, invoice.gross_cents)
        invoice.paid_on = carried_from.paid_on
        invoice.payment_method = carried_from.payment_method or Invoice.BANK
        invoice.payment_reference = f"paid on {carried_from.number}"
    invoice.pdf = render_pdf(invoice)
    db.session.add(invoice)
    db.session.flush()
    AuditLog.record(actor, "invoice.issue", invoice, number=number, booking=booking.id)
    return invoice


def credit_invoice(invoice: Invoice, actor=None, *, reason: str, now: datetime | None = None) -> Invoice:
    """A credit note for the whole of `invoice` (its own series), referencing it; the invoice is then settled."""
    if invoice.is_credit_note:
        raise NotAllowed("A credit note cannot be credited.")
    if invoice.is_credited:
        raise NotAllowed(f"{invoice.number} already has a credit note.")
    details = BusinessDetails.current()
    today = max(local_today(now), invoice.issued_on)
    lines = [{**line, "quantity": -line["quantity"], "net_cents": -line["net_cents"]} for line in invoice.lines]
    tax = [{**row, "net_cents": -row["net_cents"], "tax_cents": -row["tax_cents"]} for row in invoice.tax_by_rate]
    sequence, number = _number(details, details.credit_note_series, today)
    note = Invoice(
        kind=Invoice.CREDIT_NOTE, paid_cents=0, series=details.credit_note_series, year=today.year, sequence=sequence,
        number=number, booking_id=invoice.booking_id, credits_id=invoice.id, issued_on=today, due_on=None,
        seller=invoice.seller, buyer_name=invoice.buyer_name, buyer_company=invoice.buyer_company,
        buyer_address=invoice.buyer_address, buyer_vat_id=invoice.buyer_vat_id, buyer_email=invoice.buyer_email,
        po_reference=invoice.po_reference, lines=lines, tax_by_rate=tax, currency=invoice.currency,
        net_cents=-invoice.net_cents, tax_cents=-invoice.tax_cents, gross_cents=-invoice.gross_cents,
        reverse_charge=invoice.reverse_charge, reverse_charge_note=invoice.reverse_charge_note,
        reason=reason.strip()[:300],
    )
    note.credits = invoice
    note.pdf = render_pdf(note)
    db.session.add(note)
    db.session.flush()
    invoice.credited_by = note.id
    db.session.flush()
    AuditLog.record(actor, "invoice.credit", invoice, credit_note=number, reason=note.reason)
    return note


def credit_booking(booking: Booking, actor=None, *, reason: str) -> Invoice | None:
    """Credit the booking's live invoice, if it has one (a cancelled confirmed booking)."""
    invoice = live_invoice(booking)
    return credit_invoice(invoice, actor, reason=reason) if invoice is not None else None


@dataclass(frozen=True)
class Reissue:
    """What reissue_for_change did: the credit note for the old invoice, the new invoice, any surplus paid."""

    old: Invoice
    credit_note: Invoice
    invoice: Invoice
    refund_cents: int  # paid on the old invoice beyond the new one's total: owed back to the client


def reissue_for_change(booking: Booking, actor=None, *, reason: str, now: datetime | None = None) -> Reissue | None:
    """After a confirmed booking's session or dates changed: credit its invoice and issue one for what it is now.

    Under the caller's lock (the booking's session's). Nothing happens (None) when the booking has no live
    invoice, when the business details are no longer complete (no new invoice could be issued, so the old one
    stands), or when an invoice issued now would have the same lines and currency (a time of day changed, not
    the dates): an issued invoice is replaced only when what it says became wrong.

    The rule for money already received: a payment on the old invoice was made for this booking, so it
    moves to the new invoice (same date, same method, "paid on <old number>"), up to the new invoice's
    total. Where the totals match (the usual case: same course, same seats) the new invoice is paid in
    full exactly as the old one was, and nothing is asked of the client. Where the new total is higher,
    the client pays the difference (outstanding_cents, due on the usual terms from today). Where it is
    lower, the new invoice is paid in full and the surplus (refund_cents) is owed back: the caller tells
    the client and the consultant, who refunds it. An unpaid old invoice: the new one is due in full.
    """
    old = live_invoice(booking)
    details = BusinessDetails.current()
    if old is None or booking.price_total is None or not details.complete:
        return None
    _reverse, lines = current_lines(booking, details)
    currency = (booking.session.course.currency or details.currency).upper()
    if [line.as_json() for line in lines] == old.lines and currency == old.currency:
        return None
    note = credit_invoice(old, actor, reason=reason, now=now)
    invoice = issue_invoice(booking, actor, now=now, carried_from=old)
    refund = max(0, old.paid_cents - invoice.paid_cents)
    AuditLog.record(actor, "invoice.reissue", invoice, number=invoice.number, replaces=old.number,
                    credit_note=note.number, carried=money(invoice.paid_cents, invoice.currency),
                    refund_due=money(refund, old.currency))
    return Reissue(old, note, invoice, refund)


def lock_invoice(invoice_id: int, *, begun: bool = False) -> Invoice:
    if not begun:
        begin_write()
    invoice = db.session.scalar(locked(select(Invoice).where(Invoice.id == invoice_id)))
    if invoice is None:
        raise NotAllowed("There is no such invoice.")
    return invoice


def credit_invoice_by_admin(invoice_id: int, actor, reason: str) -> Invoice:
    """The consultant's correction: lock the invoice (and its booking's session, the one lock order), credit it."""
    begin_write()
    booking_id = db.session.scalar(select(Invoice.booking_id).where(Invoice.id == invoice_id))
    if booking_id is not None:
        from blueprints.training.operations import lock_session

        session_id = db.session.scalar(select(Booking.session_id).where(Booking.id == booking_id))
        if session_id is not None:
            lock_session(session_id)
    invoice = lock_invoice(invoice_id, begun=True)  # a second begin_write would end the transaction holding the lock
    note = credit_invoice(invoice, actor, reason=reason)
    if invoice.buyer_email:
        queue_email("invoice_credit_note", to=invoice.buyer_email, to_name=invoice.buyer_name,
                    reply_to=site_settings.current().consultant_email,
                    reply_to_name=site_settings.current().consultant_name, related=f"invoice:{invoice.id}",
                    attachments=[pdf_attachment(note)], invoice=invoice, note=note)
    return note


def record_payment(invoice_id: int, actor, *, amount_cents: int, paid_on: date, method: str = Invoice.BANK,
                   reference: str = "") -> Invoice:
    invoice = lock_invoice(invoice_id)
    invoice.record_payment(amount_cents, paid_on, method, reference)
    db.session.flush()
    AuditLog.record(actor, "invoice.payment", invoice, amount=money(amount_cents, invoice.currency),
                    paid_on=paid_on.isoformat(), method=method, paid_in_full=invoice.is_paid)
    return invoice


def send_reminders(today: date | None = None) -> int:
    """One polite reminder for each overdue invoice that has had none; safe to run twice (cron). The caller commits.

    The rows are locked and their reminder_sent_at re-read under the lock, so two runs at once send
    each reminder once: the second waits, then sees the first one's mark.
    """
    today = today or local_today()
    begin_write()
    due = db.session.scalars(locked(Invoice.overdue_query(today).where(Invoice.reminder_sent_at.is_(None)))).all()
    count = 0
    for invoice in due:
        if invoice.reminder_sent_at is not None or not invoice.buyer_email:
            continue
        invoice.reminder_sent_at = utcnow()
        queue_email("invoice_reminder", to=invoice.buyer_email, to_name=invoice.buyer_name,
                    reply_to=site_settings.current().consultant_email,
                    reply_to_name=site_settings.current().consultant_name, related=f"invoice:{invoice.id}",
                    attachments=[pdf_attachment(invoice)], invoice=invoice, days_late=(today - invoice.due_on).days)
        AuditLog.record(None, "invoice.reminder", invoice, number=invoice.number)
        count += 1
    db.session.flush()
    return count


def save_business_details(actor, **fields) -> BusinessDetails:
    begin_write()
    details = db.session.get(BusinessDetails, BusinessDetails.ROW_ID)
    if details is None:
        details = BusinessDetails.current()
        db.session.add(details)
    changed = sorted(k for k, v in fields.items() if getattr(details, k) != v)
    for key, value in fields.items():
        setattr(details, key, value)
    db.session.flush()
    AuditLog.record(actor, "settings.business", details, changed=changed)
    return details


def export_rows(start: date, end: date) -> tuple[list[str], list[list]]:
    """Invoices and credit notes issued from `start` to `end` (inclusive), for the accountant."""
    header = ["Number", "Type", "Issued", "Due", "Credits invoice", "Client", "Company", "VAT id", "PO reference",
              "Currency", "Net", "Tax", "Gross", "Tax rates", "Reverse charge", "Paid", "Paid on", "Status"]
    invoices = db.session.scalars(select(Invoice).where(Invoice.issued_on >= start, Invoice.issued_on <= end)
                                  .order_by(Invoice.issued_on, Invoice.series, Invoice.sequence)).all()
    rows = []
    for inv in invoices:
        rows.append([
            inv.number, inv.title, inv.issued_on.isoformat(), inv.due_on.isoformat() if inv.due_on else "",
            inv.credits.number if inv.credits is not None else "", inv.buyer_name, inv.buyer_company,
            inv.buyer_vat_id, inv.po_reference, inv.currency, decimal(inv.net_cents), decimal(inv.tax_cents),
            decimal(inv.gross_cents), "; ".join(f"{row['rate']} %" for row in inv.tax_by_rate),
            "yes" if inv.reverse_charge else "no", decimal(inv.paid_cents),
            inv.paid_on.isoformat() if inv.paid_on else "", inv.status_label,
        ])
    return header, rows


def decimal(amount_cents: int) -> str:
    sign = "-" if amount_cents < 0 else ""
    return f"{sign}{abs(amount_cents) // 100}.{abs(amount_cents) % 100:02d}"
