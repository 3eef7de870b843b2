"""Header and body injection through the public forms, read from the bytes the real SMTP server received.

Each public form that sends mail (contact, booking, private-course request, blog comment) is
posted with a name (and company) written to break out of a header: raw CR/LF (on the wire as
%0D%0A), a literal `%0d%0a`, U+2028/U+2029, RFC 2047 Q and B encodings of CR/LF (which
CPython 3.11 before 3.11.10 decodes and writes out, CVE-2024-6923; this suite runs on any
Python the site supports, 3.11.7 included) and overlong names that fold. What a victim would
notice is checked on the received bytes: no Bcc/Cc or other header the site does not set, no
HTML part or link of the attacker's, exactly the intended recipients in the envelope, one
Reply-To holding one address.
"""
from __future__ import annotations

import base64
import logging
import re
from email import message_from_bytes, policy
from email.mime.text import MIMEText

import pytest

from extensions import db
from mail import delivery as mailer
from mail import message as outgoing
from models import OutboxMessage
from tests.factories import make_course, make_post, make_session
from tests.hardening import parse_page
from tests.mail.test_outbox_delivery import fresh, queue_row
from web.spam import issue_form_token


def b_word(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


TEAM = "Team: mallory@evil.example;"
PAYLOADS = {
    "crlf": "Eve\r\nBcc: victim@example.com",
    "lf-html": "Eve\n\n<a href=https://evil.example>Verify</a>",
    "cr": "Eve\rCc: victim@example.com",
    "percent-encoded": "Eve%0d%0aBcc: victim@example.com",
    "u2028": "Eve\u2028Bcc: victim@example.com",
    "u2029": "Eve\u2029Bcc: victim@example.com\u2029",
    "nel": "Eve\x85Bcc: victim@example.com",
    "q-bcc": "=?utf-8?q?Eve=0D=0ABcc:_victim@example.com?=",
    "q-html": "=?utf-8?q?x=0D=0AContent-Type:text/html=0D=0A=0D=0A<a_href=3Dhttps://evil.example>Verify</a>?=",
    "b-bcc": b_word("Eve\r\nBcc: victim@example.com"),
    "b-html": b_word("x\r\nContent-Type: text/html\r\n\r\n<a href=//evil.example>Go</a>"),
    "q-inside-text": "Eve =?utf-8?q?=0D=0ABcc:_victim@example.com?= Smith",
    "long-group": "M" * (95 - len(TEAM) - 1) + " " + TEAM,
    "long-encoded": "Zoë Ñúñez-山田 " * 5 + TEAM,
    "quoted": 'Eve" <victim@example.com>, "x',
}
assert len(PAYLOADS["long-group"]) == 95

CLIENT = "eve@example.org"
VICTIM = re.compile(rb"victim@example\.com|mallory@evil\.example")
# What the site itself puts in a message's header block, and in a MIME part's.
MESSAGE_HEADERS = {"content-type", "mime-version", "content-transfer-encoding", "subject", "from", "to",
                   "date", "message-id", "reply-to", "auto-submitted"}
PART_HEADERS = {"content-type", "mime-version", "content-transfer-encoding", "content-disposition"}


# --- posting each form -----------------------------------------------------------------------

def post_contact(client, name):
    from tests.enquiries.test_enquiries_form import valid_data

    return client.post("/contact", data=valid_data(name=name, company=name, email=CLIENT)), {CLIENT}


def post_booking(client, name):
    session = make_session()
    data = {"name": name, "email": CLIENT, "company": name, "seats": "1", "notes": name, "consent": "y",
            "action": "book", "website": "", "form_token": issue_form_token("booking")}
    return client.post(f"/training/sessions/{session.id}/book", data=data), {CLIENT}


def post_private_course(client, name):
    course = make_course(title="OpenStack")
    data = {"private-name": name, "private-email": CLIENT, "private-company": name,
            "private-preferred_dates": "Any week in March", "private-attendees": "6",
            "private-training_format": "on-site", "private-message": "Two days, please.", "private-consent": "y",
            "private-form_token": issue_form_token("private_training")}
    return client.post(f"/training/{course.slug}", data=data), {CLIENT}


def post_comment(client, name):
    from tests.blog.test_blog_comments import comment_data

    post = make_post()
    return client.post(f"/blog/{post.slug}/comments", data=comment_data(client, post, name=name, email=CLIENT)), set()


FORMS = {"contact": post_contact, "booking": post_booking, "private-course": post_private_course,
         "comment": post_comment}


# --- reading what arrived ---------------------------------------------------------------------

def header_names(block: bytes) -> list[str]:
    names = []
    for line in block.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            continue
        name, colon, _ = line.partition(b":")
        assert colon and re.fullmatch(rb"[!-9;-~]+", name), f"a header line that is no header: {line[:80]!r}"
        names.append(name.decode().lower())
    return names


def assert_as_sent(received, reply_to: str) -> None:
    """One message as a victim's mail client would see it: only our headers, parts and addresses."""
    raw = received.raw
    assert not re.search(rb"\r(?!\n)|(?<!\r)\n", raw), "a bare CR or LF on the wire"
    head = raw.split(b"\r\n\r\n", 1)[0]
    names = header_names(head)
    assert set(names) <= MESSAGE_HEADERS, f"headers the site does not set: {set(names) - MESSAGE_HEADERS}"
    assert len(names) == len(set(names)), f"a header twice: {names}"
    unfolded = re.sub(rb"\r\n[ \t]", b" ", head).split(b"\r\n")
    for line in unfolded:  # a naive reader of an address header: one "@" outside encoded words
        if line.lower().startswith((b"to:", b"reply-to:", b"from:")):
            clear = re.sub(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=", b"", line)
            assert clear.count(b"@") == 1 and not VICTIM.search(clear), line
    (to,) = received["To"].addresses
    assert received.envelope_to == [to.addr_spec]
    assert [a.addr_spec for a in received["Reply-To"].addresses] == [reply_to]
    assert len(received["From"].addresses) == 1
    leaves = [p.get_content_type() for p in received.walk() if not p.is_multipart()]
    assert leaves[:2] == ["text/plain", "text/html"] and set(leaves[2:]) <= {"text/calendar"}, leaves
    for part in received.walk():
        if part is not received:
            assert {k.lower() for k in part.keys()} <= PART_HEADERS
    html = received.get_body(("html",)).get_content()
    links = [v for _, attrs in parse_page(html).tags for k, v in attrs if k == "href" and "evil.example" in (v or "")]
    assert not links, f"an attacker's link in the HTML part: {links}"


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_a_public_form_cannot_add_a_header_or_a_recipient(mail_app, smtp_server, form, payload):
    response, clients = form(mail_app.test_client(), payload)
    assert response.status_code in (200, 303), response.status_code  # taken, not refused: mail is made
    report = mailer.deliver_pending()
    assert report.failed == 0 and report.retrying == 0, report.errors
    consultant = mail_app.config["CONSULTANT_EMAIL"]
    received = smtp_server.messages
    envelope = sorted(rcpt for message in received for rcpt in message.envelope_to)
    assert envelope == sorted([consultant, *clients]), "exactly the intended recipients, once each"
    for message in received:
        to = message.envelope_to[0]
        assert_as_sent(message, reply_to=CLIENT if to == consultant else consultant)
    notification = next(m for m in received if m.envelope_to == [consultant])
    # The name is the client's words as text: readable, whole, in the Reply-To's display name.
    shown = " ".join(notification["Reply-To"].addresses[0].display_name.split())
    assert not re.search(r"[\r\n\u2028\u2029\x85]", shown)
    if "=?" in payload:
        assert "=?" in shown, "an encoded word in the input is shown as text, never decoded"


def test_a_name_too_long_for_the_form_is_a_form_error(mail_app, smtp_server):
    response, _ = post_contact(mail_app.test_client(), "=?utf-8?q?" + "A=0D=0A" * 40 + "?=")
    assert response.status_code == 422
    assert mailer.deliver_pending().sent == 0 and smtp_server.messages == []


# --- the check before sending ----------------------------------------------------------------

def _extra_bcc(msg):
    msg["Bcc"] = "victim@example.com"


def _second_to(msg):
    msg._headers.append(("To", "victim@example.com"))  # as an email-package bug would write it


def _group_in_reply_to(msg):
    msg.replace_header("Reply-To", outgoing.WrittenHeader("Reply-To", [f"{TEAM} <client@example.org>"]))


def _second_reply_to_address(msg):
    msg.replace_header("Reply-To", outgoing.WrittenHeader("Reply-To", ["client@example.org, victim@example.com"]))


def _html_part(msg):
    msg.attach(MIMEText('<a href="https://evil.example">Verify</a>', "html"))


def _header_in_a_part(msg):
    msg.get_payload()[0]["X-Injected"] = "yes"


def _bare_lf(msg):
    msg.replace_header("Subject", outgoing.WrittenHeader("Subject", ["Hello\nBcc: victim@example.com"]))


TAMPERING = {"bcc": _extra_bcc, "second-to": _second_to, "group": _group_in_reply_to,
             "two-reply-to": _second_reply_to_address, "html-part": _html_part, "part-header": _header_in_a_part,
             "bare-lf": _bare_lf}


@pytest.mark.parametrize("tamper", TAMPERING.values(), ids=TAMPERING.keys())
def test_a_message_that_reads_back_differently_is_never_sent(mail_app, smtp_server, monkeypatch, caplog, tamper):
    """Whatever the email package (or a future change) writes that the code did not: failed, logged, not sent."""
    build = outgoing.OutgoingMessage._message

    def tampered(self):
        msg = build(self)
        tamper(msg)
        return msg

    monkeypatch.setattr(outgoing.OutgoingMessage, "_message", tampered)
    row = queue_row(to_name="Zoë Client", reply_to="client@example.org", reply_to_name="Client")
    with caplog.at_level(logging.ERROR, logger="portico.mailer"):
        report = mailer.deliver_pending()
    assert report.failed == 1 and smtp_server.messages == []
    stored = fresh(row.id)
    assert stored.status == OutboxMessage.FAILED and stored.attempts == 1  # permanent: no retry
    (refusal,) = [r for r in caplog.records if "refused before sending" in r.getMessage()]
    line = refusal.getMessage()
    assert row.message_id in line  # ids only: no address, name or header value
    for personal in (row.to_addr, "client@example.org", "Zoë", "victim", "evil"):
        assert personal not in line


def test_an_untampered_message_is_sent_as_the_bytes_that_were_checked(mail_app, smtp_server, monkeypatch):
    checked = []
    check = outgoing.check_serialised
    monkeypatch.setattr(outgoing, "check_serialised", lambda message: checked.append(check(message)) or checked[-1])
    row = queue_row(to_name=PAYLOADS["long-encoded"], reply_to="client@example.org",
                    reply_to_name=PAYLOADS["q-html"], subject="Über " + PAYLOADS["b-bcc"])
    assert mailer.deliver_pending().sent == 1
    (received,) = smtp_server.messages
    assert [received.raw] == checked  # made once: the bytes checked are the bytes handed to smtplib
    raw = received.raw
    assert max(len(line) for line in raw.split(b"\r\n\r\n")[0].split(b"\r\n")) <= 78
    parsed = message_from_bytes(raw, policy=policy.default)
    assert str(parsed["Subject"]) == "Über " + PAYLOADS["b-bcc"]
    assert [a.addr_spec for a in parsed["To"].addresses] == [row.to_addr]
    # Python's address parser keeps the folding space between encoded words (RFC 2047 drops it).
    assert "".join(parsed["Reply-To"].addresses[0].display_name.split()) == "".join(PAYLOADS["q-html"].split())


def test_the_file_transport_checks_too(app, monkeypatch, tmp_path):
    build = outgoing.OutgoingMessage._message

    def tampered(self):
        msg = build(self)
        _extra_bcc(msg)
        return msg

    monkeypatch.setattr(outgoing.OutgoingMessage, "_message", tampered)
    row = queue_row()
    assert mailer.deliver_pending().failed == 1
    assert not list((tmp_path / "mail").glob("*.eml")) and fresh(row.id).status == OutboxMessage.FAILED
    db.session.rollback()
