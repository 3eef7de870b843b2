"""Delivery off the request path: `flask outbox deliver --loop` workers as real processes, and the thread.

These wait on other processes and threads, so they poll with short sleeps (there is nothing
in-process to wait on); every wait has a deadline and fails the test when it passes.
"""
from __future__ import annotations

import collections
import os
import select
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select

from extensions import db
from mail import thread as outbox_thread
from models import OutboxMessage
from tests.conftest import ROOT
from tests.mail.test_outbox_delivery import queue_row

pytestmark = pytest.mark.slow


def wait_for(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def worker_env(database_url: str, smtp_server, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "OUTBOX_", "DATABASE_URL"))}
    env.update({
        "APP_ENV": "development", "DATABASE_URL": database_url, "SECRET_KEY": "worker-test-secret-key-0123456789",
        "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_server.port), "OUTBOX_THREAD": "0",
        "SITE_URL": "http://localhost", "PYTHONUNBUFFERED": "1",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_worker(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "outbox", "deliver", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def read_until(proc: subprocess.Popen, needle: str, timeout: float = 60.0) -> str:
    """Read the worker's output until a line contains `needle`."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            seen.append(line)
            if needle in line:
                return "".join(seen)
    raise AssertionError(f"worker never printed {needle!r}; output so far: {''.join(seen)!r}")


def count_status(status: str) -> int:
    db.session.rollback()
    return db.session.scalar(sql_select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == status))


def test_a_worker_killed_mid_batch_loses_nothing(app, smtp_server, database_url):
    rows = [queue_row() for _ in range(30)]
    smtp_server.handler.delay = 0.2
    worker = start_worker(worker_env(database_url, smtp_server, OUTBOX_BATCH_SIZE=10), "--loop", "--interval", "0.2")
    try:
        wait_for(lambda: len(smtp_server.messages) >= 4, 60, "the worker to deliver a few messages")
    finally:
        worker.kill()  # SIGKILL: no clean-up at all
        worker.communicate(timeout=10)
    assert count_status(OutboxMessage.SENDING) > 0, "the worker should have died holding claimed messages"
    assert count_status(OutboxMessage.SENT) < 30

    smtp_server.handler.delay = 0
    # The next run treats the dead worker's claims as stale (here at once; by default after 10 minutes).
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "outbox", "deliver"], cwd=ROOT, timeout=120,
        env=worker_env(database_url, smtp_server, OUTBOX_CLAIM_TIMEOUT=0), capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Outbox: sent" in result.stdout
    assert count_status(OutboxMessage.SENT) == 30
    received = collections.Counter(str(m["Message-ID"]) for m in smtp_server.messages)
    assert set(received) == {r.message_id for r in rows}
    # Only the message in flight when the worker died may arrive twice (same Message-ID, so recognisable).
    assert sum(n - 1 for n in received.values()) <= 1


def test_two_workers_at_once_deliver_each_message_once_and_stop_on_sigterm(app, smtp_server, database_url):
    smtp_server.handler.delay = 0.05
    env = worker_env(database_url, smtp_server, OUTBOX_BATCH_SIZE=4)
    workers = [start_worker(env, "--loop", "--interval", "0.2") for _ in range(2)]
    outputs = ["", ""]
    try:
        for i, worker in enumerate(workers):
            outputs[i] += read_until(worker, "polling every")
        rows = [queue_row() for _ in range(40)]
        wait_for(lambda: count_status(OutboxMessage.SENT) == 40, 90, "40 messages to be sent")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for i, worker in enumerate(workers):
            rest, _ = worker.communicate(timeout=30)
            outputs[i] += rest
    for worker, output in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, output
        assert "SIGTERM received" in output and "Outbox worker stopped." in output
    received = collections.Counter(str(m["Message-ID"]) for m in smtp_server.messages)
    assert set(received) == {r.message_id for r in rows}
    assert set(received.values()) == {1}, "a message was delivered twice"
    sent_by = [sum(int(line.split("sent ")[1].split(",")[0]) for line in out.splitlines() if line.startswith("Outbox: sent"))
               for out in outputs]
    assert sum(sent_by) == 40
    assert all(n > 0 for n in sent_by), f"both workers should have delivered some: {sent_by}"


def test_the_background_thread_delivers_after_a_request_commits(thread_app, smtp_server):
    with thread_app.test_request_context("/"):
        row = queue_row()
    wait_for(lambda: len(smtp_server.messages) == 1, 20, "the thread to deliver")
    assert smtp_server.messages[0]["Message-ID"] == row.message_id
    thread = thread_app.extensions[outbox_thread.EXTENSION_KEY]
    assert thread.alive() and thread.thread.daemon
    with thread_app.test_request_context("/"):
        queue_row()
    wait_for(lambda: len(smtp_server.messages) == 2, 20, "the thread to deliver again")
    assert thread_app.extensions[outbox_thread.EXTENSION_KEY] is thread  # one thread per process
