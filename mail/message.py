"""An outbox row as a Flask-Mail Message: the row's recipient, Reply-To, both bodies, attachments, Message-ID."""
from __future__ import annotations

import base64
import re
from email.charset import QP, Charset
from email.headerregistry import Address
from email.utils import parseaddr

from flask_mail import Message

from models.base import utcnow
from models.outbox import OutboxMessage

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

# UTF-8 with quoted-printable bodies. Flask-Mail 0.10.0 registers utf-8 with no body encoding, so
# its text parts go out as raw 8bit lines of any length, and SMTP servers refuse a line over 998
# characters (a long paragraph in an enquiry). Its `charset` goes to MIMEText, which takes a Charset.
BODY_CHARSET = Charset("utf-8")
BODY_CHARSET.body_encoding = QP


def clean_text(value: str | None) -> str:
    """One line: CR, LF and other control characters become spaces, so no header can be added."""
    return " ".join(_CONTROL.sub(" ", value or "").split())


def make_address(addr: str, name: str = "") -> Address:
    """An Address built by the email package; refuses anything that is not one plain address."""
    addr = (addr or "").strip()
    if not addr or _CONTROL.search(addr) or any(c in addr for c in " ,;<>\"()"):
        raise ValueError(f"not a single email address: {addr!r}")
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"not an email address: {addr!r}")
    if not local.isascii():
        # It would need SMTPUTF8, which Flask-Mail 0.10.0 cannot send (the forms refuse such addresses).
        raise ValueError(f"a non-ASCII local part cannot be sent: {addr!r}")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise ValueError(f"bad domain in {addr!r}") from error
    return Address(display_name=clean_text(name)[:100], addr_spec=f"{local}@{domain}")


def sender_address(config) -> Address:
    sender = config.get("MAIL_DEFAULT_SENDER") or "Portico <noreply@localhost>"
    if isinstance(sender, (tuple, list)):
        name, addr = sender
    else:
        name, addr = parseaddr(sender)
    return make_address(addr, name)


class OutgoingMessage(Message):
    """Flask-Mail's Message, but the headers that carry people's words are the email package's.

    Flask-Mail 0.10.0 pre-encodes names and subjects with email.header.Header and then emits with
    policy.SMTP, which re-parses every header longer than a line and (CPython 3.11) writes it back
    decoded: "Eve Bcc: victim@example.net" comes out unquoted, a group holding another address,
    and a long non-ASCII subject gets encoded words glued to plain text
    (tests/mail/test_flask_mail_gaps.py). From, To, Reply-To and Subject are therefore set from
    Address objects and the subject text, as EmailMessage does; the rest is Flask-Mail's.
    """

    def __init__(self, *, sender: Address, to: Address, reply_to: Address | None, **fields) -> None:
        # Bare addresses for Flask-Mail: the envelope is exactly `to`, never a name parsed back.
        super().__init__(sender=sender.addr_spec, recipients=[to.addr_spec],
                         reply_to=reply_to.addr_spec if reply_to else None, **fields)
        self.address_headers = {"From": sender, "To": to, "Reply-To": reply_to}

    def _message(self):
        msg = super()._message()  # its policy is policy.SMTP by now, so headers below are parsed objects
        for name, address in self.address_headers.items():
            if address is not None:
                msg.replace_header(name, address)
        if self.subject:
            msg.replace_header("Subject", self.subject)
        return msg


def _content_type(value: str | None) -> str:
    """The stored type with its parameters, e.g. 'text/calendar; method=REQUEST; charset=utf-8'.

    Flask-Mail splits it once at '/' and writes the rest verbatim after the subtype, so the
    parameters reach the Content-Type header; anything that could break that is refused.
    """
    value = (value or "application/octet-stream").strip()
    if _CONTROL.search(value) or value.count("/") != 1:
        raise ValueError(f"not a content type Flask-Mail can attach: {value!r}")
    return value


def build_message(row: OutboxMessage, config) -> OutgoingMessage:
    """The Flask-Mail Message for an outbox row (needs an app context, as Flask-Mail does)."""
    message = OutgoingMessage(
        sender=sender_address(config),
        to=make_address(row.to_addr, row.to_name),
        reply_to=make_address(row.reply_to, row.reply_to_name) if row.reply_to else None,
        subject=clean_text(row.subject),
        body=row.text_body or "",
        html=row.html_body or None,
        date=utcnow().timestamp(),
        charset=BODY_CHARSET,
        # RFC 3834: no vacation auto-replies to a machine-sent message.
        extra_headers={"Auto-Submitted": "auto-generated"},
    )
    message.msgId = clean_text(row.message_id)  # fixed when queued: a retry is the same message
    for attachment in row.attachments or []:
        message.attach(
            filename=clean_text(attachment.get("filename")) or "attachment",
            content_type=_content_type(attachment.get("content_type")),
            data=base64.b64decode(attachment["data"]),
        )
    return message
