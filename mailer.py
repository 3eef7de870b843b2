"""The mailer: the only code that talks SMTP. It turns outbox rows into MIME messages and delivers them.

Delivery always runs off the request path, in a session of its own:
- `flask outbox deliver [--loop]` (cli.py) calls `deliver_pending` / `run_worker`;
- in the one-process default (OUTBOX_THREAD), one daemon thread per process, woken after
  every commit that queued a message, does the same.
The rules for claiming, retrying and backing off live with the data in models/outbox.py.
With no MAIL_SERVER, each message is written to MAIL_DIR/<Message-ID>.eml instead.
"""
from __future__ import annotations

import base64
import logging
import os
import re
import smtplib
import socket
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from email.errors import HeaderParseError, MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path

from flask import Flask, current_app, has_app_context, has_request_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, sessionmaker

from extensions import db
from models.base import utcnow
from models.outbox import OutboxMessage

log = logging.getLogger("portico.mailer")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


# --- composing the MIME message -----------------------------------------------------------

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


# --- transports ---------------------------------------------------------------------------

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


# --- one delivery pass --------------------------------------------------------------------

@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"sent {self.sent}, will retry {self.retrying}, failed {self.failed}"
        return text + (f", left for later {self.released}" if self.released else "")


def worker_name(kind: str = "worker") -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{kind}:{uuid.uuid4().hex[:8]}"


def delivery_session() -> Session:
    """A session of the delivery's own, apart from any request's; rows stay readable after commit."""
    return sessionmaker(bind=db.engine, expire_on_commit=False)()


def deliver_pending(*, worker: str | None = None, should_stop=None, transport=None) -> DeliveryReport:
    """Claim and deliver every due message, batch by batch, until none is left (needs an app context)."""
    config = current_app.config
    worker = worker or worker_name("pass")
    stopping = should_stop or (lambda: False)
    max_attempts = int(config.get("OUTBOX_MAX_ATTEMPTS", 8))
    report = DeliveryReport()
    transport = transport or transport_for(config)
    session = delivery_session()
    try:
        sender = sender_address(config)
        while not stopping():
            batch = OutboxMessage.claim_batch(
                session, worker, limit=int(config.get("OUTBOX_BATCH_SIZE", 10)), max_attempts=max_attempts,
                stale_after=timedelta(seconds=int(config.get("OUTBOX_CLAIM_TIMEOUT", 600))),
            )
            if not batch:
                break
            for index, row in enumerate(batch):
                if stopping():
                    for rest in batch[index:]:
                        OutboxMessage.release(session, rest.id, worker)
                        report.released += 1
                    break
                _deliver_one(session, transport, row, sender, worker, max_attempts, report)
    finally:
        transport.close()
        session.close()
    return report


def _deliver_one(session, transport, row, sender, worker, max_attempts, report) -> None:
    error: str | None = None
    permanent = False
    try:
        msg = build_message(row, current_app.config)
        transport.send(msg, sender.addr_spec, [msg["To"].addresses[0].addr_spec])
    except (ValueError, TypeError, HeaderParseError, MessageError, PermanentError) as exc:
        error, permanent = f"{exc.__class__.__name__}: {exc}", True
    except (smtplib.SMTPException, OSError) as exc:
        error = f"{exc.__class__.__name__}: {exc}"
    if error is None:
        OutboxMessage.mark_sent(session, row.id, worker)
        report.sent += 1
        return
    updated = OutboxMessage.mark_failed(
        session, row.id, worker, error, max_attempts=max_attempts, permanent=permanent
    )
    report.errors.append(f"{row.message_id}: {error}")
    if updated is not None and updated.status == OutboxMessage.FAILED:
        report.failed += 1
        log.error("mail %s to %s failed for good after %d attempts: %s", row.message_id, row.to_addr, updated.attempts, error)
    else:
        report.retrying += 1
        log.warning("mail %s to %s not delivered, will retry: %s", row.message_id, row.to_addr, error)


def run_worker(stop: threading.Event, interval: float = 5.0, *, on_pass=None, worker: str | None = None) -> None:
    """Deliver until `stop` is set, polling every `interval` seconds; stops after the current message."""
    worker = worker or worker_name("loop")
    while not stop.is_set():
        try:
            report = deliver_pending(worker=worker, should_stop=stop.is_set)
        except Exception:  # a database hiccup must not end the worker  # noqa: BLE001
            log.exception("outbox pass failed; trying again in %s s", interval)
            db.session.remove()
        else:
            if on_pass is not None:
                on_pass(report)
        stop.wait(interval)


# --- the background thread (one-process default) ------------------------------------------

class OutboxThread:
    """A daemon thread per process and app that delivers whenever it is woken, and polls now and then."""

    POLL_SECONDS = 30.0

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.wakeup = threading.Event()
        self.stopping = threading.Event()
        self.pid = os.getpid()
        self.worker = worker_name("thread")
        self.thread = threading.Thread(target=self._run, name="portico-outbox", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        self.wakeup.set()

    def stop(self, timeout: float | None = 10) -> None:
        self.stopping.set()
        self.wakeup.set()
        if self.thread.is_alive():
            self.thread.join(timeout)

    def alive(self) -> bool:
        return self.thread.is_alive() and self.pid == os.getpid()

    def _run(self) -> None:
        timeout = 0.0
        while not self.stopping.is_set():
            self.wakeup.wait(timeout)
            self.wakeup.clear()
            if self.stopping.is_set():
                break
            timeout = self.POLL_SECONDS
            try:
                with self.app.app_context():
                    deliver_pending(worker=self.worker, should_stop=self.stopping.is_set)
                    timeout = self._seconds_until_due()
            except Exception:  # never let the thread die: the next wake-up tries again  # noqa: BLE001
                log.exception("outbox thread: delivery pass failed")

    def _seconds_until_due(self) -> float:
        session = delivery_session()
        try:
            due = OutboxMessage.next_due(session)
        finally:
            session.close()
        if due is None:
            return self.POLL_SECONDS
        return min(self.POLL_SECONDS, max(1.0, (due - utcnow()).total_seconds()))


_thread_lock = threading.Lock()
EXTENSION_KEY = "portico.outbox_thread"


def ensure_thread(app: Flask) -> OutboxThread | None:
    """The app's delivery thread in this process, started if needed (after a fork too)."""
    if not app.config.get("OUTBOX_THREAD"):
        return None
    current = app.extensions.get(EXTENSION_KEY)
    if current is not None and current.alive():
        return current
    with _thread_lock:
        current = app.extensions.get(EXTENSION_KEY)
        if current is None or not current.alive():
            current = OutboxThread(app)
            app.extensions[EXTENSION_KEY] = current
            current.start()
    return current


def stop_thread(app: Flask) -> None:
    current = app.extensions.pop(EXTENSION_KEY, None)
    if current is not None:
        current.stop()


def _mark_queued(session, flush_context) -> None:
    """after_flush: note whether this transaction queued (or re-queued) a message."""
    queued = any(isinstance(obj, OutboxMessage) for obj in session.new) or any(
        isinstance(obj, OutboxMessage) and OutboxMessage.PENDING in inspect(obj).attrs.status.history.added
        for obj in session.dirty
    )
    if queued:
        session.info["portico.outbox_queued"] = True


def _wake_after_commit(session) -> None:
    if not session.info.pop("portico.outbox_queued", False):
        return
    # Only requests wake the thread: a CLI command exits at once and would kill it mid-delivery
    # (its messages are picked up by the web process's next poll or by a worker).
    if has_app_context() and has_request_context():
        thread = ensure_thread(current_app._get_current_object())
        if thread is not None:
            thread.wake()


def _forget_queued(session, *args) -> None:
    session.info.pop("portico.outbox_queued", None)


_listening = False


def init_app(app: Flask) -> None:
    """Listen for commits that queue mail (once per process) and start the thread with the first request."""
    global _listening
    if not _listening:
        event.listen(Session, "after_flush", _mark_queued)
        event.listen(Session, "after_commit", _wake_after_commit)
        event.listen(Session, "after_rollback", _forget_queued)
        _listening = True

    if app.config.get("OUTBOX_THREAD"):
        @app.before_request
        def _start_outbox_thread():
            ensure_thread(app)
