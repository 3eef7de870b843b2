"""Admin workflows: sign-in checks, the enquiry pipeline, content saving, privacy requests.

Routes stay thin and call these; each adds its audit entry in the same transaction
as the change it describes. Functions here never commit unless they say so.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, or_, select
from werkzeug.security import check_password_hash, generate_password_hash

from emails import queue_email
from extensions import db
from models import (
    AdminUser,
    AuditLog,
    Booking,
    Comment,
    Enquiry,
    EnquiryMessage,
    OutboxMessage,
    Post,
    Tag,
    TrainingSession,
    utcnow,
)


class StaleAction(Exception):
    """The thing acted on is no longer in a state that allows the action."""


# --- sign-in -------------------------------------------------------------------------------

_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(generate_password_hash("not a real password"))
    return _DUMMY_HASH[0]


def authenticate(email: str, password: str, now: datetime | None = None) -> AdminUser | None:
    """The account if the password is right and it is not locked; None otherwise (one answer for every failure).

    A wrong password counts towards the lock and is committed here, whatever the caller does next.
    """
    now = now or utcnow()
    email = (email or "").strip().lower()
    user = db.session.scalar(select(AdminUser).where(func.lower(AdminUser.email) == email)) if email else None
    if user is None:
        check_password_hash(_dummy_hash(), password or "")  # same work as a real check: no timing oracle
        return None
    if user.is_locked(now):
        user.check_password(password or "")
        return None
    if not user.check_password(password or ""):
        user.record_failed_login(
            max_failures=current_app.config.get("ADMIN_MAX_FAILED_LOGINS", 5),
            lock_minutes=current_app.config.get("ADMIN_LOCK_MINUTES", 15),
            now=now,
        )
        if user.is_locked(now):
            current_app.logger.warning("admin account locked after failed logins user_id=%s", user.id)
        db.session.commit()
        return None
    user.record_login(now)
    return user


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


# --- enquiries -----------------------------------------------------------------------------

def quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in (text or "").splitlines())


def add_note(enquiry: Enquiry, actor: AdminUser, body: str) -> EnquiryMessage:
    note = EnquiryMessage(enquiry=enquiry, kind=EnquiryMessage.NOTE, body=body.strip(), author_id=actor.id)
    db.session.add(note)
    AuditLog.record(actor, "enquiry.note", enquiry)
    return note


def set_status(enquiry: Enquiry, actor: AdminUser, status: str) -> None:
    if status not in Enquiry.STATUSES:
        raise ValueError(f"unknown status {status!r}")
    if status == enquiry.status:
        raise StaleAction(f"This enquiry is already {status}.")
    previous = enquiry.status
    enquiry.status = status
    AuditLog.record(actor, "enquiry.status", enquiry, previous=previous, status=status)


def reply(enquiry: Enquiry, actor: AdminUser, subject: str, body: str) -> EnquiryMessage:
    """Queue the consultant's reply (Reply-To the consultant, the client's message quoted) and keep it in the thread."""
    config = current_app.config
    message = queue_email(
        "enquiry_reply",
        to=enquiry.email,
        to_name=enquiry.name,
        reply_to=config["CONSULTANT_EMAIL"],
        reply_to_name=config["CONSULTANT_NAME"],
        related=f"enquiry:{enquiry.id}",
        enquiry=enquiry,
        subject=subject,
        body=body.strip(),
        quoted=quote(enquiry.message),
    )
    db.session.flush()
    entry = EnquiryMessage(enquiry=enquiry, kind=EnquiryMessage.REPLY, body=body.strip(), author_id=actor.id,
                           outbox_message_id=message.id)
    db.session.add(entry)
    # A reply moves a new enquiry along the pipeline; it never moves a quoted or won one back.
    if enquiry.status in (Enquiry.NEW, Enquiry.SPAM):
        enquiry.status = Enquiry.REPLIED
        enquiry.spam_reason = None
    AuditLog.record(actor, "enquiry.reply", enquiry, outbox_message_id=message.id)
    return entry


def default_reply_subject(enquiry: Enquiry) -> str:
    if enquiry.kind == Enquiry.PRIVATE_TRAINING:
        title = enquiry.course.title if enquiry.course else "training"
        return f"Re: Private {title} request"
    return f"Re: Your enquiry to {current_app.config['CONSULTANT_NAME']}"


def queue_withheld_notification(enquiry: Enquiry) -> None:
    """The emails a spam trap held back (the consultant's notification, the client's copy), queued as the form does."""
    from blueprints.contact.operations import queue_enquiry_emails

    queue_enquiry_emails(enquiry)


def mark_not_spam(enquiry: Enquiry, actor: AdminUser) -> None:
    if enquiry.status != Enquiry.SPAM:
        raise StaleAction("This enquiry is not marked as spam.")
    reason = enquiry.spam_reason
    enquiry.status = Enquiry.NEW
    enquiry.spam_reason = None
    queue_withheld_notification(enquiry)
    AuditLog.record(actor, "enquiry.not_spam", enquiry, spam_reason=reason)


DATE_PATTERN = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def proposed_start(enquiry: Enquiry) -> datetime | None:
    """The first ISO date in the client's preferred dates, as a naive 09:00 (for prefilling a form)."""
    match = DATE_PATTERN.search(enquiry.preferred_dates or "")
    if not match:
        return None
    try:
        return datetime(int(match[1]), int(match[2]), int(match[3]), 9, 0)
    except ValueError:
        return None


def schedule_private_session(enquiry: Enquiry, actor: AdminUser, *, course_id: int, starts_at: datetime,
                             ends_at: datetime, timezone: str, mode: str, location: str,
                             capacity: int) -> TrainingSession:
    if enquiry.kind != Enquiry.PRIVATE_TRAINING:
        raise StaleAction("Only a private-training request can be scheduled.")
    session = TrainingSession(
        course_id=course_id, starts_at=starts_at, ends_at=ends_at, timezone=timezone, mode=mode,
        location=location or "", capacity=capacity, is_private=True, enquiry_id=enquiry.id,
    )
    db.session.add(session)
    db.session.flush()
    AuditLog.record(actor, "enquiry.schedule", enquiry, session_id=session.id)
    return session


# --- content -------------------------------------------------------------------------------

def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "tag"


def set_post_tags(post: Post, names: list[str]) -> None:
    tags = []
    for name in names:
        slug = slugify(name)
        tag = db.session.scalar(select(Tag).where(Tag.slug == slug))
        if tag is None:
            tag = Tag(slug=slug, name=name)
            db.session.add(tag)
        if tag not in tags:
            tags.append(tag)
    post.tags = tags


def render_post_body(post: Post) -> Post:
    """The blog's renderer: body_html, table of contents and reading time, all at save time."""
    from blueprints.blog.operations import render_post

    return render_post(post)


def render_preview(body: str) -> str:
    """The post body as it would be published, without saving anything."""
    return render_post_body(Post(body=body or "")).body_html


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
    return {"email": email, "enquiries": enquiries, "bookings": bookings, "comments": comments, "outbox": outbox}


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
        "emails": [
            {"to": m.to_addr, "reply_to": m.reply_to, "subject": m.subject, "body": m.text_body,
             "status": m.status, "created_at": _iso(m.created_at), "sent_at": _iso(m.sent_at)}
            for m in found["outbox"]
        ],
    }


def erase_person(email: str, actor: AdminUser) -> dict[str, int]:
    """Anonymise the person everywhere; rows stay so counts (seats, statistics) are unchanged."""
    found = find_person(email)
    for e in found["enquiries"]:
        e.name, e.email, e.company, e.message, e.preferred_dates = ERASED, ERASED_EMAIL, "", ERASED, ""
        for m in e.messages:
            m.body = ERASED
    for b in found["bookings"]:
        b.name, b.email, b.company, b.notes = ERASED, ERASED_EMAIL, "", ""
    for c in found["comments"]:
        c.author_name, c.author_email, c.body = ERASED, ERASED_EMAIL, ERASED
    for m in found["outbox"]:
        if (m.to_addr or "").lower() == found["email"]:
            m.to_addr, m.to_name = ERASED_EMAIL, ERASED
        if (m.reply_to or "").lower() == found["email"]:
            m.reply_to, m.reply_to_name = ERASED_EMAIL, ERASED
        m.subject, m.text_body, m.html_body, m.attachments = ERASED, ERASED, "", []
    counts = {key: len(found[key]) for key in ("enquiries", "bookings", "comments", "outbox")}
    AuditLog.record(actor, "privacy.erase", None, email_sha256=email_hash(found["email"]), **counts)
    return counts

