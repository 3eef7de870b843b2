"""Booking workflows: booking, confirming, declining, cancelling, moving, the waitlist (sessions: schedule.py).

Shared by the public pages, the admin pages and the CLI, on the convention of
models/transactions.py: each function begins a write transaction (begin_write: SQLite
BEGIN IMMEDIATE), locks the session row(s) involved (PostgreSQL SELECT … FOR UPDATE),
applies the model's rules, queues the emails in the same transaction and flushes. The
caller commits once, or rolls back when a rule refused (BookingError, a NotAllowed whose
message is safe to show). Every check comes before the first change, so a refusal has
changed nothing. Seats can never be overbooked, and an email is queued if and only if the
change it reports is stored.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from blueprints.invoices.operations import (
    credit_booking,
    issue_invoice,
    live_invoice,
    pdf_attachment,
    reissue_for_change,
)
from blueprints.payments import stripe_api
from blueprints.training.emails import invite, mail_client, mail_consultant, withdraw_held
from blueprints.training.links import link_token
from extensions import db
from models import AuditLog, Booking, BusinessDetails, TrainingSession, stats, utcnow
from models.audit import ClientActor
from models.bookings import BookingError, BookingStateError, NotEnoughSeats, SessionUnavailable
from models.transactions import begin_write, locked
from web.stats import record_conversion

__all__ = [
    "BookingError", "BookingStateError", "NotEnoughSeats", "SessionUnavailable", "BookingResult",
    "book_session", "confirm_booking", "decline_booking", "cancel_booking", "move_booking", "move_targets",
    "confirm_attendance", "invoice_now", "reinvoice", "end_checkout",
]


# --- locks ----------------------------------------------------------------------------------
# One lock order everywhere (the session, then its bookings), so two writers never deadlock.

def lock_session(session_id: int) -> TrainingSession | None:
    return db.session.scalar(locked(select(TrainingSession).where(TrainingSession.id == session_id)))


def _lock_booking(booking: Booking | int) -> Booking:
    """Begin the write, lock the booking's session, then reload the booking."""
    booking_id = booking if isinstance(booking, int) else booking.id
    begin_write()
    session_id = db.session.scalar(select(Booking.session_id).where(Booking.id == booking_id))
    if session_id is None:
        raise BookingStateError("This booking no longer exists.")
    lock_session(session_id)
    return db.session.scalar(locked(select(Booking).where(Booking.id == booking_id)))


def audit(actor, action: str, target, **detail) -> None:
    if actor is not None:
        AuditLog.record(actor, action, target, **detail)


def as_client(booking: Booking) -> ClientActor:
    """The audit log's actor for what a client does through their booking link."""
    return ClientActor(booking.id)


# --- booking --------------------------------------------------------------------------------

@dataclass
class BookingResult:
    booking: Booking
    token: str

    @property
    def waitlisted(self) -> bool:
        return self.booking.status == Booking.WAITLISTED


def book_session(
    session_id: int, *, name: str, email: str, company: str = "", seats: int = 1, notes: str = "",
    waitlist: bool = False, now: datetime | None = None, billing_address: str = "", vat_id: str = "",
    po_reference: str = "", private_link: bool = False, added_by=None,
) -> BookingResult:
    """Take seats on a session, or join its waitlist when `waitlist` is set and the seats are not there.

    Raises SessionUnavailable (unknown, private, cancelled or past), NotEnoughSeats (the seats
    are not free and `waitlist` is false) or BookingError (a seat count the session cannot take).
    `private_link`: a private session, through its booking link (blueprints/training/private.py) or added by
    the consultant (`added_by`); the seat is confirmed at once (the client agreed the course), with its invite.
    """
    now = now or utcnow()
    begin_write()
    session = lock_session(session_id)
    if session is None:
        raise SessionUnavailable("There is no such session.", 404)
    session.check_bookable(now, private_link=private_link)
    status = session.admit(seats, waitlist=waitlist)
    booking = Booking(
        session=session, name=name.strip(), email=email.strip(), company=(company or "").strip(), seats=seats,
        notes=(notes or "").strip(), status=status, consent_at=now, billing_address=billing_address.strip(),
        vat_id=vat_id.strip(), po_reference=po_reference.strip(),
        waitlisted_at=now if status == Booking.WAITLISTED else None,
        pending_since=now if status == Booking.PENDING else None,
        token_hash=Booking.hash_token(secrets.token_urlsafe(32)),  # replaced below, once the id is known
    )
    db.session.add(booking)
    db.session.flush()
    token = link_token(booking)
    if private_link and status == Booking.PENDING:
        booking.confirm()
        db.session.flush()
        AuditLog.record(added_by or as_client(booking), "booking.confirm", booking, via="private course")
        _mail_confirmed(booking, None)
    else:
        mail_client("booking_received" if status == Booking.PENDING else "booking_waitlisted", booking)
    if added_by is None:  # the consultant who added someone needs no email about it
        mail_consultant("booking_new", booking)
    record_conversion(stats.BOOKING, f"booking:{booking.id}")
    db.session.flush()
    return BookingResult(booking, token)


def promote_waitlist(session: TrainingSession) -> list[Booking]:
    """Give freed seats to waitlisted bookings in the order they joined, each one that fits.

    The emails are queued after every promotion is flushed, so each one counts the seats left as they now are.
    """
    if not session.is_open():
        return []
    promoted = []
    left = session.seats_left
    for waiting in session.waitlist():
        if left <= 0:
            break
        if waiting.seats <= left:
            waiting.promote()
            left -= waiting.seats
            promoted.append(waiting)
    db.session.flush()
    for waiting in promoted:
        mail_client("booking_promoted", waiting)
        mail_consultant("booking_new", waiting, promoted=True)
    db.session.flush()
    return promoted


def confirm_booking(booking: Booking, actor, message: str = "") -> Booking:
    """pending -> confirmed, while the session is open; emails the client an invite (METHOD:REQUEST).

    A priced booking is invoiced in the same transaction (the invoice number is taken under the lock), and
    the invoice PDF rides with the confirmation.
    """
    booking = _lock_booking(booking)
    booking.confirm()
    audit(actor, "booking.confirm", booking, note=message.strip())
    # A private course is quoted to the client as a whole, not invoiced per seat.
    invoice = None if booking.session.is_private else issue_invoice(booking, actor)
    _mail_confirmed(booking, invoice, message=message.strip())
    db.session.flush()
    return booking


def invoice_now(booking: Booking, actor, message: str = "") -> Booking:
    """Issue and email the invoice a confirmed priced booking lacks (confirmed before the business details were
    filled in, or before the course had a price, or its invoice was credited as a correction)."""
    booking = _lock_booking(booking)
    if booking.status != Booking.CONFIRMED:
        raise BookingStateError(f"This booking is {booking.status_label.lower()}; only a confirmed booking is invoiced.")
    if booking.price_total is None:
        raise BookingStateError("This course has no price, so there is nothing to invoice. Set its price first.")
    if not BusinessDetails.current().complete:
        raise BookingStateError("Fill in your business details (legal name, address, IBAN) before issuing an invoice.")
    if (existing := live_invoice(booking)) is not None:
        raise BookingStateError(f"This booking already has invoice {existing.number}; nothing was issued.")
    invoice = issue_invoice(booking, actor)
    mail_client("invoice_issued", booking, attachments=[pdf_attachment(invoice)], invoice=invoice)
    audit(actor, "booking.invoice_now", booking, invoice=invoice.number)
    db.session.flush()
    return booking


def reinvoice(booking: Booking, actor, *, what: str, reason: str) -> None:
    """A confirmed booking's dates changed (`what` says how, to the client): if its invoice now names the wrong
    ones, credit it and issue the right one (reissue_for_change states the rule for money already paid), and
    send the client one email with both PDFs saying what to pay. Under the session's lock."""
    if booking.status != Booking.CONFIRMED:
        return
    done = reissue_for_change(booking, actor, reason=reason)
    if done is None:
        return
    context = dict(old=done.old, note=done.credit_note, invoice=done.invoice, refund_cents=done.refund_cents, what=what)
    mail_client("invoice_reissued", booking, attachments=[pdf_attachment(done.credit_note), pdf_attachment(done.invoice)],
                **context)
    if done.refund_cents:
        mail_consultant("invoice_refund_due", booking, **context)


def when(session: TrainingSession) -> str:
    start = session.local_starts_at
    return f"{start.day} {start:%B %Y}"


def _mail_confirmed(booking: Booking, invoice, **context) -> None:
    attachments = invite(booking) + ([pdf_attachment(invoice)] if invoice is not None else [])
    mail_client("booking_confirmed", booking, attachments=attachments, invoice=invoice, **context)


def end_checkout(booking: Booking) -> None:
    """A pending booking ends (declined, cancelled) while its Stripe Checkout may be open: close that page.

    Its id stays on the booking, so a payment that was already under way is still recognised, and refunded
    rather than confirming a dead booking (payments.operations._paid).
    """
    if booking.checkout_session_id and (booking.checkout_url or booking.hold_expires_at):
        stripe_api.expire_after_commit(db.session(), booking.checkout_session_id)
        booking.checkout_url = None
        booking.hold_expires_at = None


def decline_booking(booking: Booking, actor, message: str = "") -> Booking:
    """pending -> declined; frees the seats for the waitlist (and closes an open card Checkout)."""
    booking = _lock_booking(booking)
    booking.decline()
    end_checkout(booking)
    db.session.flush()
    mail_client("booking_declined", booking, message=message.strip())
    audit(actor, "booking.decline", booking, note=message.strip())
    promote_waitlist(booking.session)
    return booking


def cancel_booking(booking: Booking, actor=None, message: str = "") -> Booking:
    """pending/confirmed/waitlisted -> cancelled, by the consultant (actor) or the client (actor None).

    A confirmed booking's calendar entry is withdrawn with METHOD:CANCEL; freed seats go to the waitlist
    before the consultant is told, so their email counts the seats as they end up and names who got them.
    """
    booking = _lock_booking(booking)
    by_client = actor is None
    was_confirmed = booking.status == Booking.CONFIRMED
    booking.cancel(Booking.CLIENT if by_client else Booking.CONSULTANT)
    end_checkout(booking)
    # A move notice still held in the outbox is moot now: the cancellation is the one email about it.
    withdraw_held(booking)
    booking.moved_from_session_id = booking.moved_from_status = None
    db.session.flush()
    attachments = None
    credit_note = None
    if was_confirmed:
        booking.ics_sequence += 1
        attachments = invite(booking, cancel=True)
        # An issued invoice never changes: the cancellation is a credit note that references it.
        credit_note = credit_booking(booking, actor, reason="Booking cancelled" + (" by the client" if by_client else ""))
        if credit_note is not None:
            attachments.append(pdf_attachment(credit_note))
    mail_client("booking_cancelled", booking, attachments=attachments, message=message.strip(),
                by_client=by_client, credit_note=credit_note)
    AuditLog.record(as_client(booking) if by_client else actor, "booking.cancel", booking, note=message.strip())
    promoted = promote_waitlist(booking.session)
    if by_client:
        mail_consultant("booking_client_changed", booking, change="cancelled", promoted=promoted)
    return booking


def move_targets(booking: Booking, now: datetime | None = None) -> dict[TrainingSession, int]:
    """Other upcoming public sessions of the same course with enough seats for this booking, with their seats left."""
    query = TrainingSession.upcoming(now).where(
        TrainingSession.course_id == booking.session.course_id, TrainingSession.id != booking.session_id,
        TrainingSession.seats_left >= booking.seats,
    )
    return {session: left for session, left in db.session.execute(query.add_columns(TrainingSession.seats_left))}


def move_booking(booking: Booking, target_session_id: int, now: datetime | None = None) -> Booking:
    """Self-service: move a pending, confirmed or waitlisted booking to another session of the same course."""
    now = now or utcnow()
    booking_id = booking.id
    begin_write()
    current_id = db.session.scalar(select(Booking.session_id).where(Booking.id == booking_id))
    if current_id is None:
        raise BookingStateError("This booking no longer exists.")
    for session_id in sorted({current_id, target_session_id}):  # one lock order: no deadlock
        lock_session(session_id)
    booking = db.session.scalar(locked(select(Booking).where(Booking.id == booking_id)))
    old_session = booking.session
    target = db.session.get(TrainingSession, target_session_id)
    booking.check("move")
    if target is None or target.id == old_session.id or target.course_id != old_session.course_id:
        raise BookingStateError("That session is not one this booking can move to.")
    try:
        target.check_bookable(now)
    except SessionUnavailable as error:  # the booking page, not the session's 404/410 page
        raise BookingStateError(str(error)) from error
    if target.seats_left < booking.seats:
        raise NotEnoughSeats(target.seats_left)
    was_holding = booking.holds_seats
    # Where the client last heard the booking was: before this move, or before the first of a run of
    # moves whose notices are still held (withdrawn here; one notice about the end result replaces them).
    origin_id, origin_status = old_session.id, booking.status
    if withdraw_held(booking) and booking.moved_from_session_id is not None:
        origin_id, origin_status = booking.moved_from_session_id, booking.moved_from_status
    if booking.status == Booking.WAITLISTED:
        booking.promote()
    booking.session = target
    booking.reminder_sent_at = None
    booking.client_moved_at = now
    attachments = None
    if booking.status == Booking.CONFIRMED:
        booking.ics_sequence += 1  # same UID, later SEQUENCE: the calendar entry moves
    db.session.flush()
    AuditLog.record(as_client(booking), "booking.move", booking, from_session=old_session.id, to_session=target.id)
    # Its invoice names the old dates: credited, and the new dates invoiced (one email, not held: issued is issued).
    reinvoice(booking, as_client(booking), what=f"Your booking moved to the session on {when(target)}",
              reason="Booking moved to another session")
    # Freed seats go to the old session's waitlist first, so the consultant's email counts seats as they end up.
    promoted = promote_waitlist(old_session) if was_holding else []
    if booking.session_id == origin_id and booking.status == origin_status:
        # Back where the client last heard it was: nothing to tell anyone.
        booking.moved_from_session_id = booking.moved_from_status = None
    else:
        booking.moved_from_session_id, booking.moved_from_status = origin_id, origin_status
        origin = db.session.get(TrainingSession, origin_id) or old_session
        if booking.status == Booking.CONFIRMED:
            attachments = invite(booking)
        mail_client("booking_moved", booking, attachments=attachments, old_session=origin, hold=True)
        mail_consultant("booking_client_changed", booking, change="moved", old_session=origin, hold=True,
                        left_session=old_session, left_seats_left=old_session.seats_left, promoted=promoted)
    db.session.flush()
    return booking


def confirm_attendance(booking: Booking) -> Booking:
    """The client answered a reminder: still coming. Recorded for the consultant; the booking is unchanged."""
    booking = _lock_booking(booking)
    booking.attend()
    AuditLog.record(as_client(booking), "booking.attendance_confirmed", booking)
    db.session.flush()
    return booking
