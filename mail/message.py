"""Building the MIME message of an outbox row: headers through the email package's header API."""
from __future__ import annotations

import base64
import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from models.base import utcnow
from models.outbox import OutboxMessage

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

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


def _content_type(value: str) -> tuple[str, str, dict[str, str]]:
    """'text/calendar; method=REQUEST; charset=utf-8' -> ('text', 'calendar', {...})."""
    main, *params = [part.strip() for part in (value or "application/octet-stream").split(";")]
    maintype, _, subtype = main.lower().partition("/")
    parsed = {}
    for param in params:
        key, _, val = param.partition("=")
        if key.strip():
            parsed[key.strip().lower()] = val.strip().strip('"')
    return maintype or "application", subtype or "octet-stream", parsed


def build_message(row: OutboxMessage, config) -> EmailMessage:
    """The MIME message for an outbox row: headers through the header API, text + HTML, attachments."""
    msg = EmailMessage()
    msg["Subject"] = clean_text(row.subject)
    msg["From"] = sender_address(config)
    msg["To"] = make_address(row.to_addr, row.to_name)
    if row.reply_to:
        msg["Reply-To"] = make_address(row.reply_to, row.reply_to_name)
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = clean_text(row.message_id)
    # RFC 3834: no vacation auto-replies to a machine-sent message.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(row.text_body or "")
    if row.html_body:
        msg.add_alternative(row.html_body, subtype="html")
    for attachment in row.attachments or []:
        maintype, subtype, params = _content_type(attachment.get("content_type", ""))
        msg.add_attachment(
            base64.b64decode(attachment["data"]), maintype=maintype, subtype=subtype,
            filename=clean_text(attachment.get("filename")) or "attachment", params=params,
        )
    return msg
