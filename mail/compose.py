"""Composing email: render a template pair and queue it in the outbox.

This module never talks SMTP (that is mail/delivery.py). A message is queued in the
caller's transaction, so it is stored if and only if the change it reports is.
"""
from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

from flask import current_app, render_template

from extensions import db
from models import OutboxMessage


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
    **context,
) -> OutboxMessage:
    """Render templates/email/<template>.{subject.txt,txt,html} and add an outbox row.

    The caller commits. Addresses and names are stored as given; mail/message.py makes each
    one line before Flask-Mail writes the headers, so CR/LF in them can never add a header.
    """
    context.setdefault("site_url", current_app.config["SITE_URL"])
    context.setdefault("site_name", current_app.config["SITE_NAME"])
    context.setdefault("consultant_name", current_app.config["CONSULTANT_NAME"])
    context.setdefault("consultant_email", current_app.config["CONSULTANT_EMAIL"])
    subject = render_template(f"email/{template}.subject.txt", **context)
    message = OutboxMessage(
        message_id=new_message_id(),
        template=template,
        to_addr=to,
        to_name=to_name,
        reply_to=reply_to,
        reply_to_name=reply_to_name,
        subject=" ".join(subject.split())[:300],
        text_body=render_template(f"email/{template}.txt", **context),
        html_body=render_template(f"email/{template}.html", **context),
        attachments=[a.as_json() for a in attachments or []],
        related=related,
    )
    db.session.add(message)
    return message
