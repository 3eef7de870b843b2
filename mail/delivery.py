"""Delivery passes: claim due outbox rows, send them, record the outcome.

Delivery always runs off the request path, in a session of its own:
- `flask outbox deliver [--loop]` (cli/) calls `deliver_pending` / `run_worker`;
- in the one-process default (OUTBOX_THREAD), the background thread (mail/thread.py) does the same.
The rules for claiming, retrying and backing off live with the data in models/outbox.py.

Recording an outcome (sent, failed, handed back) is retried through a short database outage. An
outcome that still cannot be recorded is kept in the app (`unrecorded`) and recorded first by the
next pass in this process, before anything is claimed: a message the relay accepted stays claimed
by this worker meanwhile and is then marked sent, never sent again. A pass that stops early hands
back at once every message it claimed and did not try.
"""
from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from email.errors import HeaderParseError, MessageError

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from extensions import db, mail
from mail.addresses import NeedsSmtpUtf8
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
    unrecorded: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"sent {self.sent}, will retry {self.retrying}, failed {self.failed}"
        text += f", left for later {self.released}" if self.released else ""
        return text + (f", not yet recorded {self.unrecorded}" if self.unrecorded else "")


# Pauses between tries at recording an outcome: together they ride out a database blip of several seconds.
BOOKKEEPING_PAUSES = (0.25, 0.5, 1.0, 2.0, 4.0)
UNRECORDED_KEY = "portico.outbox_unrecorded"


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed message, to be written to its row."""

    message_id: int
    worker: str
    kind: str  # "sent", "failed" or "release" (handed back untried)
    error: str = ""
    permanent: bool = False


class BookkeepingFailed(Exception):
    """The database did not take an outcome after every retry; it waits in `unrecorded`."""


def unrecorded(app=None) -> dict[int, Outcome]:
    """Outcomes this process has not managed to write yet, by outbox row id (one dict per app)."""
    app = app or current_app._get_current_object()
    return app.extensions.setdefault(UNRECORDED_KEY, {})


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
    untried: list[int] = []  # claimed by this pass and not yet handed to SMTP
    try:
        record_unrecorded(session, max_attempts)
        sender = sender_address(config).addr_spec
        while not stopping():
            batch = OutboxMessage.claim_batch(
                session, worker, limit=int(config.get("OUTBOX_BATCH_SIZE", 10)), max_attempts=max_attempts,
                stale_after=timedelta(seconds=int(config.get("OUTBOX_CLAIM_TIMEOUT", 600))),
            )
            if not batch:
                break
            untried = [row.id for row in batch]
            with transport_for(config, mail) as transport:  # one SMTP connection per batch
                for row in batch:
                    if stopping():
                        break
                    untried.remove(row.id)
                    _deliver_one(session, transport, row, sender, worker, max_attempts, report)
            report.released += _hand_back(session, untried, worker, max_attempts)
            untried = []
    except BookkeepingFailed as exc:
        # The database is away: give the rest back as soon as it answers (or the next pass does).
        report.errors.append(str(exc))
        _hand_back(session, untried, worker, max_attempts, quiet=True)
        report.unrecorded = len(unrecorded())
        log.error("outbox pass stopped: %s; %d outcome(s) kept for the next pass", exc, report.unrecorded)
    except BaseException:
        # Anything else (Ctrl-C, a database error while claiming): the untried messages go back now;
        # the one in flight, if any, is left to the claim timeout (the relay may have taken it).
        _hand_back(session, untried, worker, max_attempts, quiet=True)
        raise
    finally:
        session.close()
    return report


def _hand_back(session, message_ids, worker, max_attempts, *, quiet: bool = False) -> int:
    """Release claims this pass did not try; once the database refuses one, the rest wait in `unrecorded`."""
    handed = 0
    for index, message_id in enumerate(message_ids):
        try:
            _record(session, Outcome(message_id, worker, "release"), max_attempts)
        except BookkeepingFailed:
            unrecorded().update({i: Outcome(i, worker, "release") for i in message_ids[index + 1:]})
            if not quiet:
                raise
            break
        handed += 1
    return handed


def record_unrecorded(session: Session, max_attempts: int) -> None:
    """Write the outcomes earlier passes of this process could not (raises BookkeepingFailed if it still cannot)."""
    pending = unrecorded()
    for outcome in list(pending.values()):
        _record(session, outcome, max_attempts, pauses=())
        pending.pop(outcome.message_id, None)


def _record(session: Session, outcome: Outcome, max_attempts: int, *, pauses=None):
    """Write one outcome, retrying through a short outage; the result of the OutboxMessage method."""
    pauses = BOOKKEEPING_PAUSES if pauses is None else pauses
    for attempt in range(len(pauses) + 1):
        try:
            if outcome.kind == "sent":
                result = OutboxMessage.mark_sent(session, outcome.message_id, outcome.worker)
            elif outcome.kind == "failed":
                result = OutboxMessage.mark_failed(session, outcome.message_id, outcome.worker, outcome.error,
                                                   max_attempts=max_attempts, permanent=outcome.permanent)
            else:
                result = OutboxMessage.release(session, outcome.message_id, outcome.worker)
        except SQLAlchemyError as exc:
            unrecorded()[outcome.message_id] = outcome  # kept even if the pass is interrupted while waiting
            try:
                session.rollback()
            except SQLAlchemyError:  # the connection is gone; the pool gives a new one next time
                session.close()
            if attempt == len(pauses):
                raise BookkeepingFailed(
                    f"could not record {outcome.kind} for outbox message {outcome.message_id}: "
                    f"{exc.__class__.__name__}") from exc
            log.warning("outbox: recording %s for message %d failed (%s); trying again in %g s",
                        outcome.kind, outcome.message_id, exc.__class__.__name__, pauses[attempt])
            time.sleep(pauses[attempt])
        else:
            unrecorded().pop(outcome.message_id, None)
            return result
    return None  # not reached


def release_held(worker: str) -> int:
    """A worker exiting: write what it could not yet, then give back every claim it still holds."""
    session = delivery_session()
    try:
        record_unrecorded(session, int(current_app.config.get("OUTBOX_MAX_ATTEMPTS", 8)))
        released = OutboxMessage.release_all(session, worker)
    except (SQLAlchemyError, BookkeepingFailed):
        log.exception("outbox worker %s exiting: could not give back its claims (the claim timeout will)", worker)
        return 0
    finally:
        session.close()
    if released:
        log.info("outbox worker %s exiting: gave back %d claimed message(s)", worker, released)
    return released


def _deliver_one(session, transport, row, sender, worker, max_attempts, report) -> None:
    error: str | None = None
    permanent = False
    try:
        message = build_message(row, current_app.config, smtputf8=transport.offers_smtputf8())
        transport.send(message, envelope_from=sender)
    except NeedsSmtpUtf8 as exc:  # this relay can never take it: a sentence for the outbox, no exception name
        error, permanent = str(exc), True
    except PermanentError as exc:  # a 5xx refusal
        error, permanent = f"{exc.__class__.__name__}: {exc}", True
    except OSError as exc:  # refused, 4xx, timed out, TLS: the server's state, not the message's
        # (before ValueError: a failed certificate check is both)
        error = f"{exc.__class__.__name__}: {exc}"
    except (ValueError, TypeError, HeaderParseError, MessageError) as exc:
        # The message cannot be built (Flask-Mail builds the MIME parts as it sends).
        error, permanent = f"{exc.__class__.__name__}: {exc}", True
    if error is None:
        _record(session, Outcome(row.id, worker, "sent"), max_attempts)
        report.sent += 1
        return
    updated = _record(session, Outcome(row.id, worker, "failed", error, permanent), max_attempts)
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
    release_held(worker)
