"""What Flask-Mail 0.10.0 cannot do on its own, case by case, and that the mailer's way round each works.

Each test first shows plain Flask-Mail failing, then the outbox delivering correctly (the
workarounds are in mail/message.py and mail/transport.py, each with its reason).
"""
from __future__ import annotations

import re
import smtplib
import socket
import subprocess
import threading
from email import message_from_bytes, policy

import flask_mail
import pytest

from extensions import mail
from mail import delivery as mailer
from models import OutboxMessage
from tests.conftest import running_app
from tests.mail.test_outbox_delivery import bring_back, fresh, queue_row

EVIL = "Eve Bcc: victim@example.net X-Injected: yes"


def plain(**fields) -> flask_mail.Message:
    """A message built by Flask-Mail alone."""
    fields = {"sender": "noreply@localhost", "recipients": ["someone@example.com"], "body": "Body", **fields}
    return flask_mail.Message(**fields)


def parse(raw: bytes):
    return message_from_bytes(raw, policy=policy.default)


def test_a_display_name_never_becomes_another_address(app):
    raw = plain(reply_to=(EVIL, "client@example.org")).as_bytes()
    # Flask-Mail's encoded name is refolded back to plain text, unquoted: a group with victim@ in it.
    assert re.search(rb"\r\nReply-To:\s+Eve Bcc: victim@example\.net", raw)
    assert "victim@example.net" in [a.addr_spec for a in parse(raw)["Reply-To"].addresses]

    row = queue_row(to_name=EVIL, reply_to="client@example.org", reply_to_name=EVIL)
    parsed = parse(mailer.build_message(row, app.config).as_bytes())
    for header, addr in (("To", row.to_addr), ("Reply-To", "client@example.org")):
        # " ".join(split()): Python's parser keeps the folding space between two encoded words.
        assert [(" ".join(a.display_name.split()), a.addr_spec) for a in parsed[header].addresses] == [(EVIL, addr)]


def test_a_long_word_in_a_subject_stays_a_proper_encoded_word(app):
    subject = "Neue Anfrage von Müller: Donaudampfschifffahrtsgesellschaftskapitänsmützenhalter"
    glued = re.compile(rb"\S=\?utf-8\?")  # RFC 2047: an encoded word follows whitespace, never text
    assert glued.search(plain(subject=subject).as_bytes().split(b"\r\n\r\n")[0])

    raw = mailer.build_message(queue_row(subject=subject), app.config).as_bytes()
    assert not glued.search(raw.split(b"\r\n\r\n")[0])
    assert parse(raw)["Subject"] == subject


def test_a_line_longer_than_smtp_allows_is_still_delivered(mail_app, smtp_server):
    paragraph = "A long paragraph without a line break, as clients write them. " * 40
    raw = plain(body=paragraph).as_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) > 998  # Flask-Mail's utf-8 bodies are raw 8bit
    with mail.connect() as connection, pytest.raises(smtplib.SMTPDataError) as refused:
        connection.send(plain(body=paragraph))
    assert refused.value.smtp_code == 500 and smtp_server.messages == []

    row = queue_row(text_body=paragraph + "\nGrüße", html_body=f"<p>{paragraph}</p>")
    assert mailer.deliver_pending().sent == 1
    (received,) = smtp_server.messages
    assert received.get_body(("plain",)).get_content().replace("\r\n", "\n") == paragraph + "\nGrüße"
    assert paragraph in received.get_body(("html",)).get_content()
    assert fresh(row.id).status == OutboxMessage.SENT


def test_a_non_ascii_local_part_goes_out_with_smtputf8(mail_app, smtp_server):
    with pytest.raises(UnicodeEncodeError):  # Flask-Mail has no SMTPUTF8: it cannot even name the recipient
        flask_mail.sanitize_address("jürgen@example.com")
    row = queue_row(to_addr="jürgen@example.com", to_name="Jürgen")
    assert mailer.deliver_pending().sent == 1
    assert fresh(row.id).status == OutboxMessage.SENT
    (received,) = smtp_server.messages
    assert received.envelope_to == ["jürgen@example.com"]
    assert b"\r\nTo: =?utf-8?b?SsO8cmdlbg==?= <j\xc3\xbcrgen@example.com>\r\n" in received.raw


def test_testing_mode_does_not_swallow_mail(mail_app, smtp_server):
    assert flask_mail.Mail().init_mail(mail_app.config, testing=True).suppress is True
    assert mail_app.testing and mail_app.extensions["mail"].suppress is False
    queue_row()
    assert mailer.deliver_pending().sent == 1 and len(smtp_server.messages) == 1


# --- a server that never answers ------------------------------------------------------------

class SilentServer:
    """Listens on the test SMTP server's port (so the SMTP guard lets us in) and never says a word."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)

    def close(self) -> None:
        self.sock.close()  # resets the connections still waiting in its queue


@pytest.fixture
def silent_server(smtp_server):
    smtp_server.controller.stop()
    server = SilentServer(smtp_server.port)
    yield server
    server.close()
    bring_back(smtp_server)


@pytest.fixture
def silent_app(silent_server, database_url, tmp_path, postgres):
    config = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": silent_server.port, "MAIL_TIMEOUT": 1}
    yield from running_app(database_url, tmp_path, config, postgres)


def test_a_server_that_never_answers_times_out_and_the_message_waits(silent_app, silent_server):
    state = flask_mail.Mail().init_mail({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": silent_server.port})
    outcome = []

    def open_with_flask_mail():
        try:
            flask_mail.Connection(state).configure_host()
        except OSError as error:
            outcome.append(error)

    waiting = threading.Thread(target=open_with_flask_mail, daemon=True)
    waiting.start()
    waiting.join(2)
    assert waiting.is_alive(), "Flask-Mail's own Connection has no timeout: it is still waiting"

    row = queue_row()
    reports = []

    def deliver():
        with silent_app.app_context():
            reports.append(mailer.deliver_pending())

    delivering = threading.Thread(target=deliver, daemon=True)
    delivering.start()
    delivering.join(15)  # MAIL_TIMEOUT is 1 s
    assert not delivering.is_alive(), "the mailer is still waiting for a server that never answers"
    assert reports[0].retrying == 1
    stored = fresh(row.id)
    assert stored.status == OutboxMessage.PENDING and "timed out" in stored.last_error

    silent_server.close()
    waiting.join(10)
    assert not waiting.is_alive() and outcome


# --- STARTTLS with a certificate nobody vouches for ----------------------------------------------

@pytest.fixture
def tls_server(smtp_server, tmp_path):
    """The test SMTP server again, now offering STARTTLS with a self-signed certificate."""
    import ssl

    from aiosmtpd.controller import Controller

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=30)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    smtp_server.controller.stop()
    smtp_server.controller = Controller(smtp_server.handler, hostname="127.0.0.1", port=smtp_server.port,
                                        tls_context=context)
    smtp_server.controller.start()
    return smtp_server


@pytest.fixture
def tls_app(tls_server, database_url, tmp_path, postgres):
    config = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": tls_server.port, "MAIL_USE_TLS": True, "MAIL_TIMEOUT": 5}
    yield from running_app(database_url, tmp_path, config, postgres)


def test_starttls_refuses_a_certificate_it_cannot_verify(tls_app, tls_server):
    state = flask_mail.Mail().init_mail({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": tls_server.port,
                                         "MAIL_USE_TLS": True})
    with flask_mail.Connection(state) as connection:
        connection.send(plain(subject="Sent to anyone who answers"))
    assert len(tls_server.messages) == 1, "Flask-Mail's own STARTTLS accepts any certificate"

    row = queue_row()
    assert mailer.deliver_pending().retrying == 1
    stored = fresh(row.id)
    assert stored.status == OutboxMessage.PENDING and "CERTIFICATE_VERIFY_FAILED" in stored.last_error
    assert len(tls_server.messages) == 1
