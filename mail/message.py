"""An outbox row as a Flask-Mail Message, and the check of its bytes before they go to SMTP.

People's words reach four headers (To, Reply-To, Subject, and an attachment's filename). The
email package cannot be trusted to write them: on CPython 3.11 before 3.11.10 (CVE-2024-6923)
policy.SMTP decodes an encoded word such as `=?utf-8?q?Eve=0D=0ABcc:_x@example.com?=` found in
a value and writes the decoded line break out, and on every version we tried a long display
name is refolded without its quotes, so `…Team: mallory@evil.example;` reads as a group holding
another address. So this module writes those headers itself, already folded, and the policy
emits them verbatim (`WrittenHeader`): plain text only when it is short and made of letters,
digits, spaces and `.'-`; otherwise base64 encoded words, which no parser reads as anything but
text. Then `check_serialised` reads the finished bytes back like a receiver and refuses to send
anything that holds a header, an address or a MIME part this code did not put there.

Addresses follow mail/addresses.py: a non-ASCII local part is written in UTF-8 (RFC 6532) and the
message asks for SMTPUTF8, which the transport knows whether the relay offers.
"""
from __future__ import annotations

import base64
import html
import logging
import re
import unicodedata
from email import message_from_string, policy
from email.charset import QP, Charset
from email.headerregistry import Address
from email.utils import parseaddr

from flask_mail import Message

from mail.addresses import NeedsSmtpUtf8, parse_address
from models.base import utcnow
from models.outbox import OutboxMessage

log = logging.getLogger("portico.mailer")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

# UTF-8 with quoted-printable bodies. Flask-Mail 0.10.0 registers utf-8 with no body encoding, so
# its text parts go out as raw 8bit lines of any length, and SMTP servers refuse a line over 998
# characters (a long paragraph in an enquiry). Its `charset` goes to MIMEText, which takes a Charset.
BODY_CHARSET = Charset("utf-8")
BODY_CHARSET.body_encoding = QP

MAX_LINE = 78  # RFC 5322's SHOULD; every header line we write fits
_PLAIN_NAME = re.compile(r"[A-Za-z0-9 .'-]*")  # nothing a parser could read as syntax
_PLAIN_SUBJECT = re.compile(r"[ -~]*")  # printable ASCII; "=?" is refused separately
_WORD_BYTES = 42  # UTF-8 bytes per encoded word: "Reply-To: " + a 68-character word = 78


class UnsafeMessage(ValueError):
    """The serialised message is not exactly what the code built: it must never be sent."""


def clean_text(value: str | None) -> str:
    """One line: control characters and Unicode line/paragraph separators become single spaces.

    Cc covers C0, DEL and C1 (NEL, U+0085); Zl/Zp are U+2028/U+2029. str.splitlines() breaks
    on all of them, and the email package refuses a header value it would split. Only ASCII
    spaces are collapsed and trimmed: a no-break space (French « : », "10 000 €") or an
    ideographic one is part of what was written.
    """
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in value or "")
    return re.sub(" {2,}", " ", text).strip(" ")


def make_address(addr: str, name: str = "", *, smtputf8: bool = True) -> Address:
    """An Address for one plain address (mail/addresses.py's rule), written as the relay can take it.

    ValueError for anything that is not one plain address; NeedsSmtpUtf8 (a ValueError) for a
    non-ASCII local part when `smtputf8` is False.
    """
    local, _, domain = parse_address(addr).for_relay(smtputf8).rpartition("@")
    # username/domain rather than addr_spec: the email package refuses to parse a non-ASCII local part.
    return Address(display_name=clean_text(name)[:100], username=local, domain=domain)


def sender_address(config, *, smtputf8: bool = True) -> Address:
    sender = config.get("MAIL_DEFAULT_SENDER") or "Portico <noreply@localhost>"
    if isinstance(sender, (tuple, list)):
        name, addr = sender
    else:
        name, addr = parseaddr(sender)
    return make_address(addr, name, smtputf8=smtputf8)


# --- writing the headers ourselves -------------------------------------------------------------

class WrittenHeader(str):
    """A header value written and folded here. EmailPolicy stores and emits any value that has a
    `name` and a `fold()` as it is, so the policy never parses, decodes or refolds it."""

    def __new__(cls, name: str, lines: list[str]):
        self = super().__new__(cls, " ".join(line.strip() for line in lines))
        self.name, self.lines = name, lines
        return self

    def fold(self, *, policy) -> str:
        return f"{self.name}: " + (policy.linesep + " ").join(self.lines) + policy.linesep


def encoded_words(text: str) -> list[str]:
    """`text` as RFC 2047 base64 words of at most 42 UTF-8 bytes each.

    A word ends after a space where it can (a space is kept inside the word before it, as RFC
    2047 decoders drop the folding whitespace between words; Python's address parser keeps it
    as a second space), never splits a character, and never begins with whitespace: a word
    longer than one encoded word keeps its space with its last character.
    """
    chunks, chunk = [], b""
    for piece in re.findall(r"\S+\s*|\s+", text):
        data = piece.encode("utf-8")
        if chunk and len(chunk) + len(data) > _WORD_BYTES:
            chunks.append(chunk)
            chunk = b""
        if len(data) <= _WORD_BYTES - len(chunk):
            chunk += data
            continue
        word = piece.rstrip()
        units = [*word[:-1], piece[len(word) - 1:]] if word else [piece]
        for unit in units:  # a word longer than one encoded word
            data = unit.encode("utf-8")
            if len(chunk) + len(data) > _WORD_BYTES:
                chunks.append(chunk)
                chunk = b""
            chunk += data
    chunks.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(c).decode('ascii')}?=" for c in chunks if c]


def fold_tokens(name: str, tokens: list[str]) -> list[str]:
    """Tokens joined by spaces, a new line wherever the next one would pass MAX_LINE."""
    lines = [tokens[0]]
    width = len(name) + 2 + len(tokens[0])
    for token in tokens[1:]:
        if width + 1 + len(token) > MAX_LINE:
            lines.append(token)
            width = 1 + len(token)
        else:
            lines[-1] += " " + token
            width += 1 + len(token)
    return lines


def address_header(name: str, address: Address) -> WrittenHeader:
    """`"Plain Name" <addr>` when that is short and plain; otherwise the name in encoded words."""
    display, angle = clean_text(address.display_name), f"<{address.addr_spec}>"
    if not display:
        return WrittenHeader(name, [address.addr_spec])
    plain = f'"{display}" {angle}'
    if _PLAIN_NAME.fullmatch(display) and len(name) + 2 + len(plain) <= MAX_LINE:
        return WrittenHeader(name, [plain])
    return WrittenHeader(name, fold_tokens(name, [*encoded_words(display), angle]))


def subject_header(subject: str) -> WrittenHeader:
    """Printable ASCII as it is (folded at spaces); anything else, or any `=?`, in encoded words."""
    subject = clean_text(subject)
    if _PLAIN_SUBJECT.fullmatch(subject) and "=?" not in subject:
        return WrittenHeader("Subject", fold_tokens("Subject", subject.split(" ")))
    return WrittenHeader("Subject", fold_tokens("Subject", encoded_words(subject)))


def safe_filename(value: str | None) -> str:
    """An attachment filename made of [A-Za-z0-9._-] (ours are `invite.ics`): nothing to encode."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", clean_text(value)).strip("._")[:60]
    return name or "attachment"


class OutgoingMessage(Message):
    """Flask-Mail's Message, with From, To, Reply-To, Subject and the thread headers written by this module.

    Flask-Mail 0.10.0 pre-encodes names and subjects with email.header.Header and then emits with
    policy.SMTP, which re-parses and rewrites them (see the module docstring and
    tests/mail/test_flask_mail_gaps.py). Its bytes are made once (`as_bytes`), so the bytes
    `check_serialised` reads are the bytes Connection.send hands to smtplib (MIME boundaries
    are random per serialisation). `smtputf8`: an address in it is UTF-8, so it must go out with
    SMTPUTF8 (mail/transport.py asks for it) and its headers are written as UTF-8.
    """

    def __init__(self, *, sender: Address, to: Address, reply_to: Address | None,
                 in_reply_to: str = "", references: tuple[str, ...] = (), **fields) -> None:
        # Bare addresses for Flask-Mail: the envelope is exactly `to`, never a name parsed back.
        super().__init__(sender=sender.addr_spec, recipients=[to.addr_spec],
                         reply_to=reply_to.addr_spec if reply_to else None, **fields)
        self.address_headers = {"From": sender, "To": to, "Reply-To": reply_to}
        self.thread_headers = {"In-Reply-To": [in_reply_to] if in_reply_to else [], "References": list(references)}
        self.smtputf8 = not all(a.addr_spec.isascii() for a in self.address_headers.values() if a is not None)
        self._wire: bytes | None = None

    def _message(self):
        # Flask-Mail runs every address through email.utils.formataddr, which refuses a non-ASCII
        # one; it gets a stand-in here, and the real headers replace its own just below.
        real = self.sender, self.recipients, self.reply_to
        stand_in = "stand-in@invalid"
        self.sender, self.recipients, self.reply_to = stand_in, [stand_in], stand_in if self.reply_to else None
        try:
            msg = super()._message()  # its policy is policy.SMTP by now
        finally:
            self.sender, self.recipients, self.reply_to = real
        if self.smtputf8:
            msg.policy = policy.SMTPUTF8  # headers as UTF-8 bytes (RFC 6532); the bodies stay 7-bit
        for name, address in self.address_headers.items():
            if address is not None:
                msg.replace_header(name, address_header(name, address))
        if self.subject:
            msg.replace_header("Subject", subject_header(self.subject))
        for name, ids in self.thread_headers.items():
            if ids:
                msg[name] = WrittenHeader(name, fold_tokens(name, ids))
        return msg

    def as_bytes(self) -> bytes:
        if self._wire is None:
            self._wire = super().as_bytes()
        return self._wire


def _content_type(value: str | None) -> str:
    """The stored type with its parameters, e.g. 'text/calendar; method=REQUEST; charset=utf-8'.

    Flask-Mail splits it once at '/' and writes the rest verbatim after the subtype, so the
    parameters reach the Content-Type header; anything that could break that is refused.
    """
    value = (value or "application/octet-stream").strip()
    if _CONTROL.search(value) or value.count("/") != 1 or not value.isascii() or "=?" in value:
        raise ValueError(f"not a content type Flask-Mail can attach: {value!r}")
    return value


# Mail a person wrote (the consultant's reply): no Auto-Submitted, so it reads and is answered as a person's.
WRITTEN_BY_A_PERSON = frozenset({"enquiry_reply"})
_MESSAGE_ID = re.compile(r"<[!-;=?-~]+@[!-;=?-~]+>")  # RFC 5322 msg-id, printable ASCII without <>


def message_ids(value: str | None) -> tuple[str, ...]:
    """The well-formed msg-ids in a stored In-Reply-To/References value; anything else is dropped."""
    return tuple(token for token in clean_text(value).split(" ") if _MESSAGE_ID.fullmatch(token))


def unreachable_notice(name: str, address: str) -> tuple[str, str]:
    """What the consultant reads (text, HTML) when the client's address cannot be a Reply-To on this relay."""
    who = f"{clean_text(name)} ({address})" if clean_text(name) else address
    text = (f"Replying to this email will not reach {who}: the site's mail server does not accept "
            "international addresses (SMTPUTF8), so this email has no Reply-To, and any copy the site sent "
            "them was not delivered. Write to them from a mail program that supports international addresses.")
    markup = ('<p style="margin:0 0 16px;padding:12px 16px;background:#fff4e5;border-left:4px solid #b35c00;'
              f'color:#1c2733;">{html.escape(text)}</p>')
    return text, markup


def _with_notice(html_body: str, markup: str) -> str:
    """The notice first in the HTML body: after the opening <body> tag, or at the very start."""
    match = re.search(r"<body\b[^>]*>", html_body, re.IGNORECASE)
    at = match.end() if match else 0
    return html_body[:at] + markup + html_body[at:]


# A one-click unsubscribe address: the site's own http(s) URL, nothing a header could be broken with.
_UNSUBSCRIBE_URL = re.compile(r"https?://[A-Za-z0-9.:\[\]-]+/[A-Za-z0-9/_.~%-]*")


def _extra_headers(row: OutboxMessage, personal: bool) -> dict | None:
    headers = {} if personal else {"Auto-Submitted": "auto-generated"}
    url = row.list_unsubscribe
    if url:
        if not _UNSUBSCRIBE_URL.fullmatch(url) or len(url) > 400:
            raise UnsafeMessage("a List-Unsubscribe address that is not a plain URL of the site")
        # RFC 2369 + RFC 8058: a mail provider POSTs List-Unsubscribe=One-Click to the URL, no sign-in.
        headers["List-Unsubscribe"] = f"<{url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers or None


def build_message(row: OutboxMessage, config, *, smtputf8: bool = True) -> OutgoingMessage:
    """The Flask-Mail Message for an outbox row (needs an app context, as Flask-Mail does).

    `smtputf8`: whether the relay offers it (the transport knows). Without it, a To with a non-ASCII
    local part raises NeedsSmtpUtf8 (the message can never go through this relay); such a Reply-To
    (the client, on a notification to the consultant) is left out and the message says why.
    """
    text_body, html_body = row.text_body or "", row.html_body or ""
    reply_to = None
    if row.reply_to:
        try:
            reply_to = make_address(row.reply_to, row.reply_to_name, smtputf8=smtputf8)
        except NeedsSmtpUtf8 as missing:
            text_notice, html_notice = unreachable_notice(row.reply_to_name, missing.address)
            text_body = f"{text_notice}\n\n{text_body}"
            html_body = _with_notice(html_body, html_notice) if html_body else ""
    personal = row.template in WRITTEN_BY_A_PERSON
    references = message_ids(row.thread_references)
    in_reply_to = message_ids(row.in_reply_to)
    message = OutgoingMessage(
        sender=sender_address(config, smtputf8=smtputf8),
        to=make_address(row.to_addr, row.to_name, smtputf8=smtputf8),
        reply_to=reply_to,
        in_reply_to=in_reply_to[0] if in_reply_to else "",
        references=references,
        subject=clean_text(row.subject),
        body=text_body,
        html=html_body or None,
        date=utcnow().timestamp(),
        charset=BODY_CHARSET,
        # RFC 3834: no vacation auto-replies to a machine-sent message.
        extra_headers=_extra_headers(row, personal),
    )
    message.msgId = clean_text(row.message_id)  # fixed when queued: a retry is the same message
    for attachment in row.attachments or []:
        message.attach(
            filename=safe_filename(attachment.get("filename")),
            content_type=_content_type(attachment.get("content_type")),
            data=base64.b64decode(attachment["data"]),
        )
    return message


# --- reading the bytes back before they are sent -------------------------------------------------

# Every header name the code sets on the message itself (Flask-Mail's and ours), and on a MIME part.
MESSAGE_HEADERS = {"content-type", "mime-version", "content-transfer-encoding", "subject", "from", "to",
                   "date", "message-id", "reply-to", "auto-submitted", "in-reply-to", "references"}
PART_HEADERS = {"content-type", "mime-version", "content-transfer-encoding", "content-disposition"}
_FIELD = re.compile(rb"([!-9;-~]+):")  # RFC 5322 field name, then the colon


def _header_names(block: bytes) -> list[str]:
    """Field names of a header block, read as raw lines (a continuation starts with WSP)."""
    names = []
    for line in block.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            continue
        field = _FIELD.match(line)
        if field is None:
            raise UnsafeMessage("a header line that is no header field")
        names.append(field.group(1).decode("ascii").lower())
    return names


def _refuse(message: Message, reason: str) -> UnsafeMessage:
    # Ids only: the reason names no person, address or header value.
    log.error("mail %s refused before sending: %s", message.msgId, reason)
    return UnsafeMessage(reason)


def check_serialised(message: OutgoingMessage) -> bytes:
    """The bytes to send, once they read back as exactly what was built; else UnsafeMessage.

    Read twice, like two kinds of receiver: line by line (every field name, every line ending)
    and with the email package (each address header holds its one address; the MIME parts are
    the ones built, so no header-made HTML part).
    """
    raw = message.as_bytes()
    try:
        # UTF-8 only in the headers of an SMTPUTF8 message (RFC 6532); bodies are quoted-printable or base64.
        text = raw.decode("ascii" if not message.smtputf8 else "utf-8")
    except UnicodeDecodeError:
        raise _refuse(message, "8-bit bytes in a message that does not use SMTPUTF8") from None
    if re.search(rb"\r(?!\n)|(?<!\r)\n", raw):
        raise _refuse(message, "a bare CR or LF")
    if any(len(line) > 998 for line in raw.split(b"\r\n")):
        raise _refuse(message, "a line over 998 characters")
    head = raw.split(b"\r\n\r\n", 1)[0]
    try:
        names = _header_names(head)
    except UnsafeMessage as error:
        raise _refuse(message, str(error)) from None
    allowed = MESSAGE_HEADERS | {name.lower() for name in message.extra_headers or {}}
    if set(names) - allowed:
        raise _refuse(message, f"{len(set(names) - allowed)} header name(s) the code did not set")
    for name in sorted(set(names)):
        if names.count(name) > 1:
            raise _refuse(message, f"{names.count(name)} {name} headers")

    try:
        # From text: the bytes parser would read UTF-8 addresses as undecodable bytes.
        _check_parsed(message, message_from_string(text, policy=policy.default))
    except UnsafeMessage:
        raise
    except Exception as error:  # the parser itself choked (e.g. AttributeError on a group): not ours  # noqa: BLE001
        raise _refuse(message, f"unreadable as mail ({error.__class__.__name__})") from error
    return raw


def _check_parsed(message: OutgoingMessage, parsed) -> None:
    expected = {name: address for name, address in message.address_headers.items() if address is not None}
    for name in ("From", "To", "Reply-To"):
        header = parsed[name]
        if name not in expected:
            if header is not None:
                raise _refuse(message, f"a {name} header the code did not set")
            continue
        found = [a.addr_spec for a in getattr(header, "addresses", ())]
        if found != [expected[name].addr_spec]:
            raise _refuse(message, f"{name} does not hold exactly its one address ({len(found)} found)")
    if set(message.send_to) != {message.address_headers["To"].addr_spec}:
        raise _refuse(message, "the envelope is not exactly the To address")

    wanted = ["text/plain"] + (["text/html"] if message.html else [])
    wanted += [a.content_type.split(";")[0].strip().lower() for a in message.attachments]
    leaves = [part for part in parsed.walk() if not part.is_multipart()]
    if [part.get_content_type() for part in leaves] != wanted:
        raise _refuse(message, "MIME parts other than the ones built")
    for part in parsed.walk():
        if part is not parsed and set(k.lower() for k in part.keys()) - PART_HEADERS:
            raise _refuse(message, "a MIME part header the code did not set")
