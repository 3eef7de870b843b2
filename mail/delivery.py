"""Delivery passes: claim due outbox rows, send them, record the outcome.

Delivery always runs off the request path, in a session of its own:
- `flask outbox deliver [--loop]` (cli/) calls `deliver_pending` / `run_worker`;
- in the one-process default (OUTBOX_THREAD), the background thread (mail/thread.py) does the same.
The rules for claiming, retrying and backing off live with the data in models/outbox.py.
"""
from __future__ import annotations

import logging
import os
import re
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from email.errors import HeaderParseError, MessageError

from flask import current_app
from sqlalchemy.orm import Session, sessionmaker

from extensions import db, mail
from mail.message import build_message, sender_address
from mail.transport import PermanentError, transport_for
from models.outbox import OutboxMessage

log = logging.getLogger("portico.mailer")


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


def deliver_pending(*, worker: str | None = None, should_stop=None) -> DeliveryReport:
    """Claim and deliver every due message, batch by batch, until none is left (needs an app context)."""
    config = current_app.config
    worker = worker or worker_name("pass")
    stopping = should_stop or (lambda: False)
    max_attempts = int(config.get("OUTBOX_MAX_ATTEMPTS", 8))
    report = DeliveryReport()
    session = delivery_session()
    try:
        sender = sender_address(config).addr_spec
        while not stopping():
            batch = OutboxMessage.claim_batch(
                session, worker, limit=int(config.get("OUTBOX_BATCH_SIZE", 10)), max_attempts=max_attempts,
                stale_after=timedelta(seconds=int(config.get("OUTBOX_CLAIM_TIMEOUT", 600))),
            )
            if not batch:
                break
            with transport_for(config, mail) as transport:  # one SMTP connection per batch
                for index, row in enumerate(batch):
                    if stopping():
                        for rest in batch[index:]:
                            OutboxMessage.release(session, rest.id, worker)
                            report.released += 1
                        break
                    _deliver_one(session, transport, row, sender, worker, max_attempts, report)
    finally:
        session.close()
    return report


def _deliver_one(session, transport, row, sender, worker, max_attempts, report) -> None:
    error: str | None = None
    permanent = False
    try:
        transport.send(build_message(row, current_app.config), envelope_from=sender)
    except PermanentError as exc:  # a 5xx refusal
        error, permanent = f"{exc.__class__.__name__}: {exc}", True
    except OSError as exc:  # refused, 4xx, timed out, TLS: the server's state, not the message's
        # (before ValueError: a failed certificate check is both)
        error = f"{exc.__class__.__name__}: {exc}"
    except (ValueError, TypeError, HeaderParseError, MessageError) as exc:
        # The message cannot be built (Flask-Mail builds the MIME parts as it sends).
        error, permanent = f"{exc.__class__.__name__}: {exc}", True
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
        # Ids only in logs: the address is in the outbox row, and masked where the relay's error quotes it.
        log.error("mail %s (outbox %s) failed for good after %d attempts: %s", row.message_id, row.id,
                  updated.attempts, re.sub(r"[^\s<>@]+@[^\s<>]+", "<address>", str(error)))
    else:
        report.retrying += 1
        log.warning("mail %s (outbox %s) not delivered, will retry: %s", row.message_id, row.id,
                    re.sub(r"[^\s<>@]+@[^\s<>]+", "<address>", str(error)))


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
