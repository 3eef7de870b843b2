"""Retention: what the privacy page (templates/site/privacy.html, "How long it is kept") promises, done.

`flask privacy purge` runs it from cron. Each limit is the page's own words; tests/admin/test_retention.py
checks the page still says them.
"""
from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, or_, select

from blueprints.admin.operations import ERASED_EMAIL, erase_booking, erase_enquiry, erase_message
from extensions import db
from models import AuditLog, Booking, Comment, Enquiry, Invoice, LoginFailure, OutboxMessage, TrainingSession, utcnow
from models.invoices import local_today

# "Enquiries that do not lead to work: 24 months after the last message, then erased."
ENQUIRY_MONTHS = 24
# "Enquiries and bookings that lead to work: for as long as accounting and tax rules require (usually 6 years)."
WORK_YEARS = 6
# "Comments: for as long as they are published; rejected and spam comments are deleted within 30 days."
REJECTED_COMMENT_DAYS = 30
# "Invoices and credit notes: INVOICE_RETENTION_YEARS years after the end of the year they were issued in":
# the setting itself, read by invoice_cutoff (an erasure request leaves them; this deletes them only after).
# "Server logs with IP addresses: 14 days." The failed sign-ins on the dashboard hold addresses too.
LOGIN_FAILURE_DAYS = 14


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the month's last day when it is shorter)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def invoice_cutoff(today: date) -> date:
    """Invoices issued before this date have been kept INVOICE_RETENTION_YEARS after the end of their year.

    "Invoices and credit notes: N years after the end of the year they were issued in" (the tax-law period
    runs from the end of the calendar year): in 2037 with N = 10, those of 2026 and before may go.
    """
    return date(today.year - current_app.config["INVOICE_RETENTION_YEARS"], 1, 1)


def _expired_invoices(today: date) -> list[Invoice]:
    """Invoices and credit notes past their retention, an invoice only with its credit note (which references it)."""
    cutoff = invoice_cutoff(today)
    young_notes = select(Invoice.id).where(Invoice.kind == Invoice.CREDIT_NOTE, Invoice.issued_on >= cutoff)
    return list(db.session.scalars(
        select(Invoice).where(Invoice.issued_on < cutoff,
                              or_(Invoice.credited_by.is_(None), Invoice.credited_by.not_in(young_notes)))
        .order_by(Invoice.id)))


def _last_message_at(enquiry: Enquiry) -> datetime:
    return max([enquiry.created_at] + [m.created_at for m in enquiry.messages])


def _messages_about(keys: list[str]) -> list[OutboxMessage]:
    found = []
    for start in range(0, len(keys), 500):
        found += db.session.scalars(select(OutboxMessage).where(OutboxMessage.related.in_(keys[start:start + 500])))
    return found


def purge(now: datetime | None = None, dry_run: bool = False) -> dict[str, int]:
    """Erase or delete what has been kept as long as the privacy page says; the counts of what went.

    Anonymised like an erasure request (rows stay, so seats and statistics add up); rejected and
    spam comments are deleted. The emails about each row are anonymised with it. Never commits.
    """
    now = now or utcnow()
    enquiry_cutoff, work_cutoff = months_before(now, ENQUIRY_MONTHS), months_before(now, 12 * WORK_YEARS)

    enquiries = [
        e for e in db.session.scalars(select(Enquiry).where(Enquiry.created_at < enquiry_cutoff,
                                                            Enquiry.email != ERASED_EMAIL).order_by(Enquiry.id))
        if _last_message_at(e) < (work_cutoff if e.status == Enquiry.WON else enquiry_cutoff)
    ]
    # A booking is the training that took place: its accounting clock starts when the session ends.
    bookings = db.session.scalars(
        select(Booking).join(TrainingSession, Booking.session_id == TrainingSession.id)
        .where(TrainingSession.ends_at < work_cutoff, Booking.created_at < work_cutoff, Booking.email != ERASED_EMAIL)
        .order_by(Booking.id)).all()
    comments = db.session.scalars(
        select(Comment).where(Comment.status.in_((Comment.REJECTED, Comment.SPAM)),
                              func.coalesce(Comment.moderated_at, Comment.created_at)
                              < now - timedelta(days=REJECTED_COMMENT_DAYS))
        .order_by(Comment.id)).all()
    about = {f"enquiry:{e.id}": e.email.lower() for e in enquiries}
    about |= {f"booking:{b.id}": b.email.lower() for b in bookings}
    about |= {f"comment:{c.id}": c.author_email.lower() for c in comments}
    invoices = _expired_invoices(local_today(now))
    about |= {f"invoice:{i.id}": i.buyer_email.lower() for i in invoices}
    messages = _messages_about(sorted(about))
    old_failures = LoginFailure.last_at < now - timedelta(days=LOGIN_FAILURE_DAYS)
    counts = {
        "enquiries": len(enquiries), "bookings": len(bookings), "comments": len(comments), "invoices": len(invoices),
        "outbox": len(messages),
        "login_failures": db.session.scalar(select(func.count()).select_from(LoginFailure).where(old_failures)),
    }
    if dry_run:
        return counts
    for e in enquiries:
        erase_enquiry(e)
    for b in bookings:
        erase_booking(b)
    for m in messages:
        erase_message(m, about[m.related])
    for c in comments:
        db.session.delete(c)
    db.session.execute(delete(LoginFailure).where(old_failures))
    # The one place an invoice row is ever deleted, and only past INVOICE_RETENTION_YEARS: a bulk DELETE, which
    # the ORM guard against changing an issued invoice (models/invoices.py) does not see. Credit notes first
    # (they reference their invoice); an invoice whose credit note is younger waits for it (_expired_invoices).
    ids = [i.id for i in invoices]
    notes = [i.id for i in invoices if i.is_credit_note]
    for start in range(0, len(ids), 500):
        db.session.execute(delete(Invoice).where(Invoice.id.in_(notes[start:start + 500]))
                           .execution_options(synchronize_session=False))
    for start in range(0, len(ids), 500):
        db.session.execute(delete(Invoice).where(Invoice.id.in_(ids[start:start + 500]))
                           .execution_options(synchronize_session=False))
    for invoice in invoices:
        db.session.expunge(invoice)
    if any(counts.values()):  # run daily from cron: an entry only when something went
        AuditLog.record(None, "privacy.purge", None, **counts)
    return counts
