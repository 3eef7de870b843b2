"""Transports: SMTP, or files under instance/mail/ when no MAIL_SERVER is set."""
from __future__ import annotations

import logging
import re
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from pathlib import Path

log = logging.getLogger("portico.mailer")


class PermanentError(Exception):
    """The message can never be delivered as it is (bad address, 5xx refusal): fail without retrying."""


class SmtpTransport:
    """One SMTP connection reused for a batch, opened on the first message, reopened after an error."""

    def __init__(self, config) -> None:
        self.host = config["MAIL_SERVER"]
        self.port = int(config.get("MAIL_PORT") or (465 if config.get("MAIL_USE_SSL") else 25))
        self.use_ssl = bool(config.get("MAIL_USE_SSL"))
        self.use_tls = bool(config.get("MAIL_USE_TLS"))
        self.username = config.get("MAIL_USERNAME")
        self.password = config.get("MAIL_PASSWORD") or ""
        self.timeout = config.get("MAIL_TIMEOUT", 30)
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.use_ssl:
            connection = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.use_tls:
                connection.starttls(context=context)
        if self.username:
            connection.login(self.username, self.password)
        return connection

    def send(self, msg: EmailMessage, from_addr: str, to_addrs: list[str]) -> None:
        try:
            if self.connection is None:
                self.connection = self._connect()
            # The envelope is explicit: headers never decide who receives the message.
            self.connection.send_message(msg, from_addr=from_addr, to_addrs=to_addrs)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            if codes and all(500 <= code < 600 for code in codes):
                raise PermanentError(f"recipient refused: {error.recipients}") from error
            raise
        except smtplib.SMTPResponseException as error:
            if 500 <= error.smtp_code < 600 and not isinstance(error, smtplib.SMTPAuthenticationError):
                raise PermanentError(f"{error.smtp_code} {error.smtp_error!r}") from error
            raise
        except (smtplib.SMTPServerDisconnected, OSError):
            self.close()
            raise

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (smtplib.SMTPException, OSError):
                self.connection.close()
            self.connection = None


class FileTransport:
    """No mail server configured: write each message to MAIL_DIR/<Message-ID>.eml and log one line."""

    def __init__(self, config) -> None:
        self.directory = Path(config["MAIL_DIR"])

    def send(self, msg: EmailMessage, from_addr: str, to_addrs: list[str]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9._@-]", "_", str(msg["Message-ID"]).strip().strip("<>")) or uuid.uuid4().hex
        path = self.directory / f"{name}.eml"
        partial = path.with_suffix(".eml.part")
        partial.write_bytes(msg.as_bytes())
        partial.replace(path)
        log.info("mail to=%s subject=%r written to %s (no MAIL_SERVER set)", ",".join(to_addrs), str(msg["Subject"]), path)

    def close(self) -> None:
        pass


def transport_for(config):
    return SmtpTransport(config) if config.get("MAIL_SERVER") else FileTransport(config)
