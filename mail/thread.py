"""The background delivery thread of the one-process default, woken after commits that queue mail.

A process that exits stops its threads first (gunicorn's worker_exit hook calls stop_all; so does
atexit), so that what they claimed goes back to the outbox at once rather than after the claim timeout.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref

from flask import Flask, current_app, has_app_context, has_request_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from mail.delivery import deliver_pending, delivery_session, release_held, worker_name
from models.base import utcnow
from models.outbox import OutboxMessage

log = logging.getLogger("portico.mailer")


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
        with self.app.app_context():
            release_held(self.worker)

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
_apps: weakref.WeakSet[Flask] = weakref.WeakSet()  # apps with a thread in this process, for stop_all


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
            _apps.add(app)
            current.start()
    return current


def stop_thread(app: Flask) -> None:
    """Stop the app's thread after the message in flight; it gives back the rest of what it claimed."""
    current = app.extensions.pop(EXTENSION_KEY, None)
    _apps.discard(app)
    if current is not None and current.pid == os.getpid():
        current.stop()


def stop_all() -> None:
    """Stop every delivery thread of this process (a gunicorn worker exiting, the interpreter ending)."""
    for app in list(_apps):
        stop_thread(app)


# A daemon thread is simply frozen at interpreter exit; atexit runs before that, while it still can stop.
atexit.register(stop_all)


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
