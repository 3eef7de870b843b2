"""Composing email: render a template pair and queue it in the outbox.

This module never talks SMTP (that is mail/delivery.py). A message is queued in the
caller's transaction, so it is stored if and only if the change it reports is.

Automatic mail to an address nobody has verified (what a stranger can make the site send to anyone
by typing that address into a form) is capped per recipient here, once for every caller: over the
cap the row is still stored, as `skipped` with the reason, and never delivered.
"""
from __future__ import annotations

import base64
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, render_template
from sqlalchemy import select, text

from extensions import db
from mail.addresses import ascii_domain
from mail.message import clean_text
from models import OutboxMessage, site_settings
from models.base import utcnow

log = logging.getLogger("portico.mailer")

# Sent to whatever address a visitor typed, before anyone has shown they own it. Their subjects
# carry none of the visitor's words (templates/email/<name>.subject.txt), so a capped few cannot
# carry a message either.
AUTOMATIC_TO_UNVERIFIED = frozenset({"enquiry_acknowledgement", "booking_received", "booking_waitlisted"})


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar; method=REQUEST; charset=utf-8"
    data: bytes

    def as_json(self) -> dict:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "data": base64.b64encode(self.data).decode("ascii"),
        }


def new_message_id() -> str:
    """A Message-ID on the site's own host, fixed when the message is queued.

    From uuid4 (os.urandom), not email.utils.make_msgid, whose random part comes from the `random`
    module: anything that seeds it (a test framework, a forked worker) would repeat ids.
    """
    return f"<{uuid.uuid4().hex}@{current_app.config['SITE_HOST']}>"


def queue_email(
    template: str,
    *,
    to: str,
    to_name: str = "",
    reply_to: str | None = None,
    reply_to_name: str = "",
    related: str = "",
    attachments: list[Attachment] | None = None,
    automatic: bool | None = None,
    thread: Thread | None = None,
    list_unsubscribe: str | None = None,
    **context,
) -> OutboxMessage:
    """Render templates/email/<template>.{subject.txt,txt,html} and add an outbox row.

    The caller commits. Addresses and names are stored as given; mail/message.py makes each
    one line before Flask-Mail writes the headers, so CR/LF in them can never add a header.
    `automatic` (by default: the template is in AUTOMATIC_TO_UNVERIFIED) puts the message under
    the per-recipient cap. `thread` (from thread_for) makes it a reply within that thread.
    `list_unsubscribe` (an https/http URL of the site) makes it list mail with a one-click unsubscribe (RFC 8058).
    """
    context.setdefault("site_url", current_app.config["SITE_URL"])
    site = site_settings.current()
    context.setdefault("site_name", site.site_name)
    context.setdefault("consultant_name", site.consultant_name)
    context.setdefault("consultant_email", site.consultant_email)
    subject = render_template(f"email/{template}.subject.txt", **context)
    message = OutboxMessage(
        message_id=new_message_id(),
        template=template,
        to_addr=to,
        to_name=to_name,
        reply_to=reply_to,
        reply_to_name=reply_to_name,
        subject=clean_text(subject)[:300].rstrip(" "),  # as written: a no-break space stays (mail/message.py)
        text_body=render_template(f"email/{template}.txt", **context),
        html_body=render_template(f"email/{template}.html", **context),
        attachments=[a.as_json() for a in attachments or []],
        related=related,
        list_unsubscribe=list_unsubscribe,
    )
    if thread is not None:
        message.in_reply_to = thread.in_reply_to
        message.thread_references = " ".join(thread.references) or None
    if automatic is None:
        automatic = template in AUTOMATIC_TO_UNVERIFIED
    if automatic:
        message.recipient_key = recipient_key(to)
        reason = over_cap(message.recipient_key)
        if reason:
            message.status = OutboxMessage.SKIPPED
            message.last_error = reason
            log.warning("automatic mail %s (%s) not queued: %s", template, related or "-", reason)
    db.session.add(message)
    return message


# A References header stays short (RFC 5322 3.6.4 allows trimming): the thread's first ids and its latest ones.
MAX_REFERENCES = 12


@dataclass(frozen=True)
class Thread:
    """The mails about one thing so far, as the thread a new message to one recipient continues."""

    subject: str  # the first subject that recipient got ("" if none)
    in_reply_to: str | None  # the latest message that recipient got
    references: tuple[str, ...]  # every message of the thread, oldest first

    def reply_subject(self, fallback: str) -> str:
        """"Re: " and the subject the thread began with, as mail programs match threads by it."""
        subject = self.subject or fallback
        while subject[:3].lower() == "re:":
            subject = subject[3:].lstrip()
        return f"Re: {subject}"


def thread_for(related: str, recipient: str) -> Thread:
    """The thread of the mails about `related` (e.g. "enquiry:12") that a new one to `recipient` continues.

    The client's mailbox has the mails sent to them (the acknowledgement, earlier replies): a new
    reply answers the latest of those. References also name the consultant's notification, so a
    client's answer threads in the consultant's mail program too. Skipped mails were never sent.
    """
    rows = db.session.execute(
        select(OutboxMessage.message_id, OutboxMessage.to_addr, OutboxMessage.subject)
        .where(OutboxMessage.related == related, OutboxMessage.status != OutboxMessage.SKIPPED)
        .order_by(OutboxMessage.id)
    ).all()
    theirs = [row for row in rows if row.to_addr.strip().lower() == recipient.strip().lower()]
    ids = [row.message_id for row in rows]
    if len(ids) > MAX_REFERENCES:
        ids = ids[:2] + ids[-(MAX_REFERENCES - 2):]
    return Thread(subject=theirs[0].subject if theirs else "", in_reply_to=theirs[-1].message_id if theirs else None,
                  references=tuple(ids))


def recipient_key(address: str) -> str:
    """One key per mailbox: case, a +tag and the IDN spelling of the domain do not make another one."""
    local, _, domain = address.strip().rpartition("@")
    local = local.split("+", 1)[0].lower()
    domain = domain.strip().rstrip(".").lower()
    try:
        domain = ascii_domain(domain)
    except ValueError:
        pass  # not a valid IDN: the lower-cased text is key enough
    return f"{local}@{domain}"[:320]


def over_cap(key: str) -> str | None:
    """Why one more automatic mail to this recipient would be too many, or None."""
    config = current_app.config
    if db.session.get_bind().dialect.name == "postgresql":
        # Two requests for the same recipient count one after the other (SQLite: begin_write already does).
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
    now = utcnow()
    for setting, window, words in (("AUTOMATIC_MAIL_PER_HOUR", timedelta(hours=1), "an hour"),
                                   ("AUTOMATIC_MAIL_PER_DAY", timedelta(days=1), "a day")):
        limit = int(config[setting])
        if OutboxMessage.automatic_since(db.session, key, now - window) >= limit:
            return f"not sent: this address already had {limit} automatic emails in {words} ({setting})"
    return None
