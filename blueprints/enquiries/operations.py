"""Enquiry workflows: store an enquiry and queue its two emails in one transaction; the consultant's pipeline."""
from __future__ import annotations

import re
from datetime import datetime

from flask import url_for
from sqlalchemy import select

from extensions import db
from mail.compose import queue_email, thread_for
from models import AdminUser, AuditLog, Enquiry, EnquiryMessage, Service, site_settings, stats
from models.base import utcnow
from models.enquiries import FIXED_TOPICS
from models.transactions import begin_write
from web.stats import record_conversion

# Fields of a private-training request (Enquiry.kind == private_training) a caller may pass.
EXTRA_FIELDS = ("course_id", "preferred_dates", "attendees", "training_format")
REPLY_PROMISE = "within two working days"


def topic_choices() -> list[tuple[str, str]]:
    """(value, label) for the topic select: each service, then training and other."""
    services = db.session.execute(select(Service.slug, Service.title).where(Service.live())
                                .order_by(Service.position, Service.title)).all()
    choices = [(slug, title) for slug, title in services]
    taken = {slug for slug, _ in choices}
    return choices + [choice for choice in FIXED_TOPICS.items() if choice[0] not in taken]


def one_line(value: str | None, limit: int) -> str:
    """Names and companies are single lines: CR/LF and runs of spaces collapse to one space."""
    return " ".join((value or "").split())[:limit]


def submit_enquiry(
    *, name: str, email: str, message: str, company: str = "", topic: str = "",
    kind: str = Enquiry.CONTACT, spam_reason: str | None = None, **extra,
) -> Enquiry:
    """Store an enquiry and, unless it is spam, queue the consultant's notification and the client's copy.

    The caller commits once: either the enquiry and both emails are stored, or nothing is.
    `kind` is Enquiry.CONTACT or Enquiry.PRIVATE_TRAINING; `extra` takes EXTRA_FIELDS
    (course_id, preferred_dates, attendees, training_format) for private-training requests.
    A trapped submission (spam_reason set) is mailed to no one: stored as spam, or held for the
    consultant's review when only its speed looked like a bot's (Enquiry.status_for).
    """
    unknown = set(extra) - set(EXTRA_FIELDS)
    if unknown:
        raise TypeError(f"submit_enquiry() got unexpected fields: {', '.join(sorted(unknown))}")
    if kind not in Enquiry.KINDS:
        raise ValueError(f"unknown enquiry kind {kind!r}")
    begin_write()
    enquiry = Enquiry(
        kind=kind,
        name=one_line(name, 100),
        email=email.strip(),
        company=one_line(company, 150),
        topic=one_line(topic, 60),
        message=(message or "").strip(),
        consent_at=utcnow(),
        status=Enquiry.status_for(spam_reason),
        spam_reason=spam_reason[:100] if spam_reason else None,
        **extra,
    )
    db.session.add(enquiry)
    db.session.flush()  # the id, for the admin link and `related`
    if enquiry.status == Enquiry.NEW:
        queue_enquiry_emails(enquiry)
        record_conversion(stats.ENQUIRY, f"enquiry:{enquiry.id}")  # held and spam ones convert nothing
    return enquiry


def queue_enquiry_emails(enquiry: Enquiry) -> None:
    site = site_settings.current()
    context = {
        "enquiry": enquiry,
        "topic_title": enquiry.topic_label,
        "admin_url": url_for("admin.enquiry", enquiry_id=enquiry.id, _external=True),
        "reply_promise": REPLY_PROMISE,
    }
    related = f"enquiry:{enquiry.id}"
    queue_email(
        "enquiry_notification", to=site.consultant_email, to_name=site.consultant_name,
        reply_to=enquiry.email, reply_to_name=enquiry.name, related=related, **context,
    )
    queue_email(
        "enquiry_acknowledgement", to=enquiry.email, to_name=enquiry.name,
        reply_to=site.consultant_email, reply_to_name=site.consultant_name, related=related, **context,
    )


# --- the pipeline (admin) -----------------------------------------------------------------------

def quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in (text or "").splitlines())


def add_note(enquiry: Enquiry, actor: AdminUser, body: str) -> EnquiryMessage:
    note = EnquiryMessage(enquiry=enquiry, kind=EnquiryMessage.NOTE, body=body.strip(), author_id=actor.id)
    db.session.add(note)
    AuditLog.record(actor, "enquiry.note", enquiry)
    return note


def set_status(enquiry: Enquiry, actor: AdminUser, status: str) -> None:
    """Move the enquiry along the pipeline (NotAllowed when it is already there or held as spam)."""
    previous = enquiry.move_to(status)
    AuditLog.record(actor, "enquiry.status", enquiry, previous=previous, status=status)


def reply(enquiry: Enquiry, actor: AdminUser, subject: str, body: str) -> EnquiryMessage:
    """Queue the consultant's reply (Reply-To the consultant, the client's message quoted) and keep it in the thread."""
    site = site_settings.current()
    message = queue_email(
        "enquiry_reply",
        thread=thread_for(f"enquiry:{enquiry.id}", enquiry.email),  # threads with what the client already has
        to=enquiry.email,
        to_name=enquiry.name,
        reply_to=site.consultant_email,
        reply_to_name=site.consultant_name,
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
    enquiry.record_reply()
    AuditLog.record(actor, "enquiry.reply", enquiry, outbox_message_id=message.id)
    return entry


def default_reply_subject(enquiry: Enquiry) -> str:
    """"Re: " and the subject of the acknowledgement the client got, so the reply threads with it."""
    if enquiry.kind == Enquiry.PRIVATE_TRAINING:
        title = enquiry.course.title if enquiry.course else "training"
        fallback = f"Private {title} request"
    else:
        fallback = f"Your enquiry to {site_settings.current().consultant_name}"
    return thread_for(f"enquiry:{enquiry.id}", enquiry.email).reply_subject(fallback)


def release(enquiry: Enquiry, actor: AdminUser) -> None:
    """A held enquiry was a person: to the inbox, and the client's copy and the notification go out now."""
    reason = enquiry.spam_reason
    enquiry.release()
    queue_enquiry_emails(enquiry)
    AuditLog.record(actor, "enquiry.release", enquiry, spam_reason=reason)


def mark_not_spam(enquiry: Enquiry, actor: AdminUser) -> bool:
    """Move it to the inbox; True when the emails the spam trap held back were queued now."""
    reason = enquiry.mark_not_spam()
    if reason is not None:
        queue_enquiry_emails(enquiry)
    AuditLog.record(actor, "enquiry.not_spam", enquiry, spam_reason=reason)
    return reason is not None


ONLY_PRIVATE_TRAINING = "Only a private-training request can be scheduled."
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
