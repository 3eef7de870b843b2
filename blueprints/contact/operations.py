"""Contact workflows: store an enquiry and queue its two emails, in one transaction."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from emails import queue_email
from extensions import db
from models import Enquiry, Service
from models.base import utcnow

TRAINING = ("training", "Training")
OTHER = ("other", "Something else")
# Fields of a private-training request (Enquiry.kind == private_training) a caller may pass.
EXTRA_FIELDS = ("course_id", "preferred_dates", "attendees", "training_format")
REPLY_PROMISE = "within two working days"


def topic_choices() -> list[tuple[str, str]]:
    """(value, label) for the topic select: each service, then training and other."""
    services = db.session.execute(select(Service.slug, Service.title).order_by(Service.position, Service.title)).all()
    choices = [(slug, title) for slug, title in services]
    taken = {slug for slug, _ in choices}
    return choices + [choice for choice in (TRAINING, OTHER) if choice[0] not in taken]


def topic_title(topic: str) -> str:
    return dict(topic_choices()).get(topic, topic)


def one_line(value: str | None, limit: int) -> str:
    """Names and companies are single lines: CR/LF and runs of spaces collapse to one space."""
    return " ".join((value or "").split())[:limit]


def submit_enquiry(
    *, name: str, email: str, message: str, company: str = "", topic: str = "",
    kind: str = Enquiry.CONTACT, spam_reason: str | None = None, **extra,
) -> Enquiry:
    """Store an enquiry and, unless it is spam, queue the consultant's notification and the client's copy.

    One commit covers all three rows: either the enquiry and both emails exist, or nothing does.
    `kind` is Enquiry.CONTACT or Enquiry.PRIVATE_TRAINING; `extra` takes EXTRA_FIELDS
    (course_id, preferred_dates, attendees, training_format) for private-training requests.
    A trapped submission (spam_reason set) is stored with status spam and mailed to no one.
    """
    unknown = set(extra) - set(EXTRA_FIELDS)
    if unknown:
        raise TypeError(f"submit_enquiry() got unexpected fields: {', '.join(sorted(unknown))}")
    if kind not in Enquiry.KINDS:
        raise ValueError(f"unknown enquiry kind {kind!r}")
    enquiry = Enquiry(
        kind=kind,
        name=one_line(name, 100),
        email=email.strip(),
        company=one_line(company, 150),
        topic=one_line(topic, 60),
        message=(message or "").strip(),
        consent_at=utcnow(),
        status=Enquiry.SPAM if spam_reason else Enquiry.NEW,
        spam_reason=spam_reason[:100] if spam_reason else None,
        **extra,
    )
    begin_write()
    db.session.add(enquiry)
    try:
        db.session.flush()  # the id, for the admin link and `related`
        if not spam_reason:
            queue_enquiry_emails(enquiry)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return enquiry


def begin_write() -> None:
    """Start the write in a transaction of its own: on SQLite, BEGIN IMMEDIATE.

    A request's read-only transaction (the topic list) holds an old snapshot; upgrading it to a
    write after another process committed (the outbox thread, a worker) fails with "database is
    locked" at once. Ending it and beginning IMMEDIATE waits for the lock instead.
    """
    session = db.session()  # the request's Session itself, not the scoped proxy
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            return  # the caller has changes of its own in this transaction; they commit together
        session.commit()
    session.connection(execution_options={"sqlite_immediate": True})


def queue_enquiry_emails(enquiry: Enquiry) -> None:
    config = current_app.config
    context = {
        "enquiry": enquiry,
        "topic_title": topic_title(enquiry.topic) if enquiry.topic else "",
        "admin_url": f"{config['SITE_URL']}/admin/enquiries/{enquiry.id}",
        "reply_promise": REPLY_PROMISE,
    }
    related = f"enquiry:{enquiry.id}"
    queue_email(
        "enquiry_notification", to=config["CONSULTANT_EMAIL"], to_name=config["CONSULTANT_NAME"],
        reply_to=enquiry.email, reply_to_name=enquiry.name, related=related, **context,
    )
    queue_email(
        "enquiry_acknowledgement", to=enquiry.email, to_name=enquiry.name,
        reply_to=config["CONSULTANT_EMAIL"], reply_to_name=config["CONSULTANT_NAME"], related=related, **context,
    )
