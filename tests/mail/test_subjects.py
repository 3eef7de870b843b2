"""Every subject decodes exactly as written: read from the bytes a real SMTP server received, by two decoders.

Python's email parser, and a strict RFC 5322 + RFC 2047 reading written here (unfold: remove each
CRLF before whitespace; the whitespace between two encoded words is dropped, all else kept), so a
subject that only Python's parser happens to read right still fails. The way the email package
folds a long subject itself ("Subject:" and the first word on the next line, as plain Flask-Mail
writes it) decodes with a leading space: the mailer writes its subjects itself (mail/message.py).
"""
from __future__ import annotations

import base64
import quopri
import re
from email import message_from_bytes, policy

import flask_mail
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mail import delivery as mailer
from tests.mail.test_outbox_delivery import queue_row

WORDS = ["Grüße", "Über", "café", "naïve", "Ñúñez", "Ångström", "Nguyễn", "שלום", "مرحبا", "עברית", "日本語",
         "件名", "😀", "👩‍💻", "🇩🇪", "e\u0301", "Donaudampfschifffahrtsgesellschaftskapitänsmützenhalter",
         "Re:", "Fwd:", "=?", "?=", "=?utf-8?q?x?=", "(test)", '"quoted"', "<b>", "a;b", "x@example.com",
         "\u00a0", "\u202f", "10\u00a0000\u00a0€", "\u200f", "\u200e", "\u3000", "-", "–", "Booking", "request"]


def subjects():
    word = st.one_of(st.sampled_from(WORDS), st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
                                                     min_size=1, max_size=12))
    return st.lists(word, min_size=1, max_size=30).map(" ".join).map(lambda s: re.sub(" +", " ", s).strip(" ")) \
        .filter(bool).map(lambda s: s[:300].rstrip(" "))


def raw_subject(raw: bytes) -> str:
    """The Subject field's value as it was on the wire, folding included (after "Subject:")."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8")
    (match,) = re.findall(r"^Subject:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.MULTILINE)
    return match


_WORD = re.compile(r"=\?([^?]+)\?([bBqQ])\?([^?]*)\?=")


def strict_decode(value: str) -> str:
    """RFC 5322 unfolding, then RFC 2047: encoded words decoded, whitespace between two of them dropped."""
    value = re.sub(r"\r\n(?=[ \t])", "", value)
    if value[:1] == " ":
        value = value[1:]  # the one space after the colon is the field's, not the subject's
    out, previous_encoded = [], False
    for space, token in re.findall(r"([ \t]*)(\S+)", value):
        match = _WORD.fullmatch(token)
        if match:
            charset, kind, text = match.groups()
            data = base64.b64decode(text) if kind in "bB" else quopri.decodestring(text.replace("_", " "), header=True)
            out.append(("" if previous_encoded else space) + data.decode(charset))
        else:
            out.append(space + token)
        previous_encoded = bool(match)
    return "".join(out)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(subjects(), min_size=1, max_size=8))
def test_every_subject_decodes_exactly_as_written(mail_app, smtp_server, batch):
    smtp_server.handler.messages.clear()
    rows = {queue_row(subject=subject).message_id: subject for subject in batch}
    assert mailer.deliver_pending().sent == len(batch)
    for message in smtp_server.messages:
        written = rows[str(message["Message-ID"])]
        assert str(message["Subject"]) == written
        assert strict_decode(raw_subject(message.raw)) == written
        # No encoded word after the first starts with whitespace: a decoder that trims words cannot move a space.
        for charset, kind, text in _WORD.findall(raw_subject(message.raw))[1:]:
            assert kind in "bB" and not base64.b64decode(text).decode(charset)[:1].isspace()


def test_the_email_packages_own_folding_is_not_what_the_mailer_writes(app):
    """Plain Flask-Mail (Header, then policy.SMTP refolding) loses a space; its "Subject:" + fold reads with a leading one."""
    subject = "aZ日本語éשלום😀YZ Yüc Xשלום üDonaudampfschifffahrtsgesellschaftZשלוםbYécYשלום céZ ZéüYbשלום"
    raw = flask_mail.Message(subject=subject, sender="a@example.com", recipients=["b@example.com"], body="x").as_bytes()
    assert str(message_from_bytes(raw, policy=policy.default)["Subject"]) != subject
    folded = b"Subject:\r\n =?utf-8?b?w5xiZXI=?=\r\n\r\nx"  # the first word moved to a line of its own
    assert str(message_from_bytes(folded, policy=policy.default)["Subject"]) == " Über"

    row = queue_row(subject=subject)
    raw = mailer.build_message(row, app.config).as_bytes()
    assert re.search(rb"\r\nSubject: =\?utf-8\?b\?", raw)  # the first word on the field's own line
    assert str(message_from_bytes(raw, policy=policy.default)["Subject"]) == subject


def test_a_no_break_space_in_a_subject_is_kept(mail_app, smtp_server):
    """French typography: a (narrow) no-break space before « : », and one inside a number."""
    subject = "Réservation\u202f: 10\u00a0000\u00a0€ pour Zoë"
    queue_row(subject=subject)
    mailer.deliver_pending()
    (message,) = smtp_server.messages
    assert str(message["Subject"]) == subject and strict_decode(raw_subject(message.raw)) == subject
