"""Transports: SMTP through Flask-Mail, or files under instance/mail/ when no MAIL_SERVER is set."""
from __future__ import annotations

import logging
import re
import smtplib
import ssl
import uuid
from contextlib import ExitStack
from pathlib import Path

import flask_mail
from flask import current_app

log = logging.getLogger("portico.mailer")


def check_serialised(message: flask_mail.Message) -> bytes:
    """mail.message's check of the bytes (imported here: message.py needs the models, which need us)."""
    from mail.message import check_serialised

    return check_serialised(message)


class PermanentError(Exception):
    """The message can never be delivered as it is (bad address, 5xx refusal): fail without retrying."""


class Mail(flask_mail.Mail):
    """Flask-Mail's Mail, with the two changes the outbox needs.

    - TESTING does not suppress sending: MAIL_SERVER decides (unset: .eml files), so the
      tests' own SMTP server receives real mail. MAIL_SUPPRESS_SEND still works if set.
    - `connect()` gives an `SmtpConnection`, which times out and checks certificates.
    """

    def init_mail(self, config, debug: bool | int = False, testing: bool = False):
        state = super().init_mail(config, debug, testing=False)
        state.timeout = config.get("MAIL_TIMEOUT", 30)
        return state

    def connect(self) -> SmtpConnection:
        return SmtpConnection(current_app.extensions["mail"])


class SmtpConnection(flask_mail.Connection):
    """Flask-Mail's Connection, opened with MAIL_TIMEOUT and a certificate-checking TLS context.

    Flask-Mail 0.10.0 opens smtplib.SMTP with neither: a server that accepts the connection and
    never answers hangs the worker, and STARTTLS or SSL accept any certificate
    (tests/mail/test_flask_mail_gaps.py shows both). Nor can it send to an international address:
    its `send` rewrites the envelope through email.utils.formataddr, which refuses one, and never
    asks for SMTPUTF8.
    """

    def offers_smtputf8(self) -> bool:
        """Whether the relay takes UTF-8 addresses and headers (RFC 6531), from its EHLO answer."""
        if self.host is None:  # MAIL_SUPPRESS_SEND: nothing is sent, so nothing is refused
            return True
        self.host.ehlo_or_helo_if_needed()
        return self.host.has_extn("smtputf8")

    def send(self, message, envelope_from=None) -> None:
        """Flask-Mail's send, with the envelope exactly as mail/message.py built it, and SMTPUTF8 when needed."""
        assert message.send_to, "No recipients have been added"
        envelope_from = envelope_from or message.sender
        if message.has_bad_headers():
            raise flask_mail.BadHeaderError
        if self.host is not None:
            options = list(message.mail_options)
            if getattr(message, "smtputf8", False):
                # smtplib refuses (SMTPNotSupportedError) if the relay does not offer it.
                options.append("SMTPUTF8")
                self.host.ehlo_or_helo_if_needed()
                if self.host.has_extn("8bitmime"):
                    options.append("BODY=8BITMIME")  # the UTF-8 headers are 8-bit data
            self.host.sendmail(envelope_from, sorted(message.send_to), message.as_bytes(), options,
                               message.rcpt_options)
        flask_mail.email_dispatched.send(current_app._get_current_object(), message=message)

    def configure_host(self) -> smtplib.SMTP:
        mail = self.mail
        context = ssl.create_default_context()
        if mail.use_ssl:
            host = smtplib.SMTP_SSL(mail.server, mail.port, timeout=mail.timeout, context=context)
        else:
            host = smtplib.SMTP(mail.server, mail.port, timeout=mail.timeout)
        try:
            host.set_debuglevel(int(mail.debug))
            if mail.use_tls:
                host.starttls(context=context)
            if mail.username and mail.password:
                host.login(mail.username, mail.password)
        except BaseException:
            host.close()
            raise
        return host


def is_permanent(error: OSError) -> bool:
    """A 5xx answer means this message will never go; a refused login is ours to fix, so it retries."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    return (isinstance(error, smtplib.SMTPResponseException) and 500 <= error.smtp_code < 600
            and not isinstance(error, smtplib.SMTPAuthenticationError))


class SmtpTransport:
    """One Flask-Mail Connection for a batch: opened on the first message, reopened after it breaks."""

    def __init__(self, mail: Mail) -> None:
        self.mail = mail
        self.connection: SmtpConnection | None = None
        self._open = ExitStack()

    def offers_smtputf8(self) -> bool:
        """Whether the relay takes international addresses (opens the batch's connection if need be)."""
        try:
            return self._connection().offers_smtputf8()
        except OSError:
            self._forget_if_closed()
            raise

    def _connection(self) -> SmtpConnection:
        if self.connection is None:
            self.connection = self._open.enter_context(self.mail.connect())
        return self.connection

    def _forget_if_closed(self) -> None:
        host = self.connection.host if self.connection is not None else None
        if host is not None and host.sock is None:
            # smtplib closed the session (a timeout, a disconnect, a 421): the next message reconnects.
            self._forget()

    def send(self, message: flask_mail.Message, envelope_from: str) -> None:
        """Send to the message's recipients only (the envelope never comes from its headers)."""
        check_serialised(message)  # UnsafeMessage, a ValueError: a permanent failure, nothing sent
        try:
            self._connection().send(message, envelope_from)
        except flask_mail.BadHeaderError as error:
            raise PermanentError("a header would contain a line break") from error
        except OSError as error:  # smtplib's exceptions are OSErrors too
            self._forget_if_closed()
            if is_permanent(error):
                raise PermanentError(f"{error.__class__.__name__}: {error}") from error
            raise

    def _forget(self) -> None:
        self._open.pop_all()  # no QUIT on a closed session
        self.connection = None

    def close(self) -> None:
        try:
            self._open.close()  # Connection.__exit__: QUIT
        except OSError:
            if self.connection is not None and self.connection.host is not None:
                self.connection.host.close()
        self._forget()

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class FileTransport:
    """No mail server configured: write each message to MAIL_DIR/<Message-ID>.eml and log one line."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def offers_smtputf8(self) -> bool:
        return True  # a file holds UTF-8 headers as well as any mail program reads them (RFC 6532)

    def send(self, message: flask_mail.Message, envelope_from: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9._@-]", "_", message.msgId.strip().strip("<>")) or uuid.uuid4().hex
        path = self.directory / f"{name}.eml"
        partial = path.with_suffix(".eml.part")
        partial.write_bytes(check_serialised(message))  # what Connection.send would hand to smtplib
        partial.replace(path)
        log.info("mail %s written to %s (no MAIL_SERVER set)", message.msgId, path)  # ids, no names or addresses

    def close(self) -> None:
        pass

    def __enter__(self) -> FileTransport:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def transport_for(config, mail: Mail) -> SmtpTransport | FileTransport:
    return SmtpTransport(mail) if config.get("MAIL_SERVER") else FileTransport(config["MAIL_DIR"])
