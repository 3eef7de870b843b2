"""Admin workflows that belong to no feature: sign-in checks, privacy requests and the site settings.

Routes stay thin and call these; each adds its audit entry in the same transaction
as the change it describes. Functions here never commit unless they say so.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, inspect, or_, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db
from models import (
    AdminUser,
    AuditLog,
    Booking,
    Comment,
    Enquiry,
    Invoice,
    LoginFailure,
    OutboxMessage,
    SiteSettings,
    site_settings,
    utcnow,
)
from models.transactions import begin_write
from models.users import client_network, password_hash_method

# --- sign-in -------------------------------------------------------------------------------

_DUMMY_HASHES: dict[str, str] = {}


def _dummy_hash() -> str:
    """A hash made the same way as real ones, so an unknown address costs the same time as a known one."""
    method = password_hash_method()
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash("not a real password", method=method)
    return _DUMMY_HASHES[method]


def authenticate(email: str, password: str, address: str | None = None, now: datetime | None = None) -> AdminUser | None:
    """The account if the password is right and its client network is not waiting; None otherwise.

    One answer for every failure, and the same hashing work for each. A wrong password counts
    against (account, network) only, and is committed here whatever the caller does next.
    """
    now = now or utcnow()
    email = (email or "").strip().lower()
    network = client_network(address)
    user = db.session.scalar(select(AdminUser).where(func.lower(AdminUser.email) == email)) if email else None
    if user is None:
        check_password_hash(_dummy_hash(), password or "")  # same work as a real check: no timing oracle
        return None
    failure = db.session.scalar(select(LoginFailure).where(LoginFailure.user_id == user.id,
                                                           LoginFailure.network == network))
    if failure is not None and failure.is_locked(now):
        user.check_password(password or "")
        return None
    if not user.check_password(password or ""):
        _record_failure(user, network, now)
        return None
    if failure is not None:
        db.session.delete(failure)  # this network knows the password: its count starts afresh
    user.record_login(now)
    return user


def _record_failure(user: AdminUser, network: str, now: datetime) -> None:
    config = current_app.config
    for attempt in range(2):  # a concurrent first failure from the same network may insert the row first
        failure = db.session.scalar(select(LoginFailure).where(LoginFailure.user_id == user.id,
                                                               LoginFailure.network == network))
        if failure is None:
            failure = LoginFailure(user_id=user.id, network=network, failures=0, first_at=now, last_at=now)
            db.session.add(failure)
        failure.record(now, max_failures=config.get("ADMIN_MAX_FAILED_LOGINS", 5),
                       max_lock_minutes=config.get("ADMIN_LOCK_MINUTES", 15))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            if attempt:
                raise
            continue
        if failure.is_locked(now):
            current_app.logger.warning("admin sign-in slowed down user_id=%s network=%s failures=%s until=%s",
                                       user.id, network, failure.failures, failure.locked_until.isoformat())
        return


def failed_logins(now: datetime | None = None, limit: int = 10) -> dict:
    """What the dashboard shows: recent wrong passwords, in total and per (account, network)."""
    since = (now or utcnow()) - LoginFailure.WINDOW
    recent = select(LoginFailure).where(LoginFailure.last_at > since)
    rows = db.session.scalars(recent.order_by(LoginFailure.last_at.desc(), LoginFailure.id.desc()).limit(limit)).all()
    total, networks, last_at = db.session.execute(
        select(func.coalesce(func.sum(LoginFailure.failures), 0), func.count(LoginFailure.id),
               func.max(LoginFailure.last_at)).where(LoginFailure.last_at > since)).one()
    return {"rows": rows, "total": int(total), "networks": networks, "last_at": last_at, "now": now or utcnow()}


def is_safe_next(target: str | None) -> bool:
    """Only a path on this site: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target or len(target) > 2000:
        return False
    if any(ord(c) < 32 or c == "\\" for c in target):
        return False
    if not target.startswith("/") or target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


# --- privacy requests ----------------------------------------------------------------------

ERASED = "(erased)"
ERASED_EMAIL = "erased@erased.invalid"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def email_hash(email: str) -> str:
    """Lets the audit log say which request was handled without keeping the address it erased."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def find_person(email: str) -> dict:
    """Every stored row about an email address."""
    email = email.strip().lower()
    enquiries = db.session.scalars(
        select(Enquiry).where(func.lower(Enquiry.email) == email).order_by(Enquiry.created_at)).all()
    bookings = db.session.scalars(
        select(Booking).where(func.lower(Booking.email) == email).order_by(Booking.created_at)).all()
    comments = db.session.scalars(
        select(Comment).where(func.lower(Comment.author_email) == email).order_by(Comment.created_at)).all()
    # Messages to the person, and messages about them: the consultant's notifications carry Reply-To the
    # client, and every message names what it is about in `related` ("booking:7").
    related = [f"enquiry:{e.id}" for e in enquiries] + [f"booking:{b.id}" for b in bookings] + [
        f"comment:{c.id}" for c in comments]
    outbox = db.session.scalars(
        select(OutboxMessage)
        .where(or_(func.lower(OutboxMessage.to_addr) == email, func.lower(OutboxMessage.reply_to) == email,
                   OutboxMessage.related.in_(related)))
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    ).all()
    # Invoices and credit notes issued to the address: shown, exported, never erased (tax law; retention.py).
    invoices = db.session.scalars(
        select(Invoice).where(func.lower(Invoice.buyer_email) == email).order_by(Invoice.issued_on, Invoice.id)).all()
    return {"email": email, "enquiries": enquiries, "bookings": bookings, "comments": comments, "outbox": outbox,
            "invoices": invoices}


def export_person(email: str) -> dict:
    """The JSON a person receives for an access request: their data, nothing about anyone else, no secrets."""
    found = find_person(email)
    return {
        "email": found["email"],
        "exported_at": utcnow().isoformat(),
        "enquiries": [
            {
                "kind": e.kind, "status": e.status, "name": e.name, "email": e.email, "company": e.company,
                "topic": e.topic, "message": e.message, "preferred_dates": e.preferred_dates,
                "attendees": e.attendees, "training_format": e.training_format,
                "course": e.course.title if e.course else None,
                "consent_at": _iso(e.consent_at), "created_at": _iso(e.created_at),
                "messages": [{"kind": m.kind, "body": m.body, "created_at": _iso(m.created_at)} for m in e.messages],
            }
            for e in found["enquiries"]
        ],
        "bookings": [
            {
                "course": b.session.course.title, "session_starts_at": _iso(b.session.starts_at),
                "name": b.name, "email": b.email, "company": b.company, "seats": b.seats, "notes": b.notes,
                "status": b.status, "consent_at": _iso(b.consent_at), "created_at": _iso(b.created_at),
                "confirmed_at": _iso(b.confirmed_at), "cancelled_at": _iso(b.cancelled_at),
            }
            for b in found["bookings"]
        ],
        "comments": [
            {"post": c.post.title, "author_name": c.author_name, "author_email": c.author_email, "body": c.body,
             "status": c.status, "created_at": _iso(c.created_at)}
            for c in found["comments"]
        ],
        "invoices": [
            {"number": i.number, "kind": i.kind, "issued_on": i.issued_on.isoformat(), "buyer_name": i.buyer_name,
             "buyer_company": i.buyer_company, "buyer_address": i.buyer_address, "buyer_vat_id": i.buyer_vat_id,
             "currency": i.currency, "gross": i.gross_cents / 100}
            for i in found["invoices"]
        ],
        "emails": [
            {"to": m.to_addr, "reply_to": m.reply_to, "subject": m.subject, "body": m.text_body,
             "status": m.status, "created_at": _iso(m.created_at), "sent_at": _iso(m.sent_at)}
            for m in found["outbox"]
        ],
    }


def erase_enquiry(e: Enquiry) -> None:
    e.name, e.email, e.company, e.message, e.preferred_dates = ERASED, ERASED_EMAIL, "", ERASED, ""
    for m in e.messages:
        m.body = ERASED


def erase_booking(b: Booking) -> None:
    # Issued invoices keep their own copy of the billing details: tax law requires keeping them as issued.
    b.name, b.email, b.company, b.notes = ERASED, ERASED_EMAIL, "", ""
    b.billing_address, b.vat_id, b.po_reference = "", "", ""


def erase_comment(c: Comment) -> None:
    c.author_name, c.author_email, c.body = ERASED, ERASED_EMAIL, ERASED


def erase_message(m: OutboxMessage, email: str) -> None:
    """An email to or about the person: their address goes, and so does everything it said."""
    if (m.to_addr or "").lower() == email:
        m.to_addr, m.to_name = ERASED_EMAIL, ERASED
    if (m.reply_to or "").lower() == email:
        m.reply_to, m.reply_to_name = ERASED_EMAIL, ERASED
    m.subject, m.text_body, m.html_body, m.attachments = ERASED, ERASED, "", []


def erase_person(email: str, actor: AdminUser) -> dict[str, int]:
    """Anonymise the person everywhere; rows stay so counts (seats, statistics) are unchanged.

    Their invoices and credit notes are not touched: tax law requires keeping them as issued for
    INVOICE_RETENTION_YEARS (the privacy page says so); retention.purge deletes them after that.
    """
    found = find_person(email)
    for e in found["enquiries"]:
        erase_enquiry(e)
    for b in found["bookings"]:
        erase_booking(b)
    for c in found["comments"]:
        erase_comment(c)
    for m in found["outbox"]:
        erase_message(m, found["email"])
    counts = {key: len(found[key]) for key in ("enquiries", "bookings", "comments", "outbox")}
    AuditLog.record(actor, "privacy.erase", None, email_sha256=email_hash(found["email"]), **counts,
                    invoices_kept=len(found["invoices"]))
    counts["invoices_kept"] = len(found["invoices"])
    return counts


# --- site settings -------------------------------------------------------------------------

def save_site_settings(actor: AdminUser, values: dict) -> list[str]:
    """Store the settings (the row is made from the defaults the first time); audited with the fields that changed."""
    begin_write()
    row = db.session.get(SiteSettings, site_settings.ROW_ID)
    if row is None:
        row = SiteSettings(id=site_settings.ROW_ID, **site_settings.defaults())
        db.session.add(row)
    before = site_settings.snapshot({name: getattr(row, name) for name in site_settings.FIELDS}).as_fields()
    changed = sorted(name for name in site_settings.FIELDS if name in values and values[name] != before[name])
    for name in changed:
        setattr(row, name, values[name])
    if changed or inspect(row).pending:
        db.session.flush()
        AuditLog.record(actor, "settings.site", row, changed=changed)
    return changed
