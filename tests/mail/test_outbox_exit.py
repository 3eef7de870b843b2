"""A delivery worker that exits gives back what it claimed at once, instead of leaving it `sending` for the claim timeout.

The thread under gunicorn's worker_exit hook and at interpreter exit, and `flask outbox deliver --loop`
on SIGHUP (a supervisor's reload: it stops, gives back, and starts again in place). Real processes and a slow real SMTP server.
"""
from __future__ import annotations

import collections
import runpy
import signal
import subprocess
import sys
import textwrap

import pytest

from extensions import db
from mail import thread as outbox_thread
from models import OutboxMessage
from models.base import utcnow
from tests.conftest import ROOT
from tests.mail.test_outbox_delivery import queue_row
from tests.mail.test_outbox_workers import count_status, read_until, start_worker, wait_for, worker_env

pytestmark = pytest.mark.slow


def gunicorn_hook(name: str):
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))[name]


def test_gunicorn_worker_exit_stops_the_thread_and_gives_back_its_claims(thread_app, smtp_server):
    smtp_server.handler.delay = 0.5
    with thread_app.test_request_context("/"):
        rows = [queue_row() for _ in range(6)]
    wait_for(lambda: smtp_server.messages and count_status(OutboxMessage.SENDING) >= 2, 20,
             "the thread to be delivering a batch")
    thread = thread_app.extensions[outbox_thread.EXTENSION_KEY]

    gunicorn_hook("worker_exit")(None, None)  # what gunicorn calls in a worker leaving on SIGTERM or HUP
    assert not thread.thread.is_alive() and outbox_thread.EXTENSION_KEY not in thread_app.extensions
    assert count_status(OutboxMessage.SENDING) == 0, "the exiting worker left claims behind"
    assert count_status(OutboxMessage.SENT) == len(smtp_server.messages) >= 1
    assert count_status(OutboxMessage.PENDING) == len(rows) - len(smtp_server.messages)


def test_claims_a_failed_pass_left_behind_go_back_when_the_thread_stops(thread_app, smtp_server):
    with thread_app.test_request_context("/"):
        queue_row()
    wait_for(lambda: count_status(OutboxMessage.SENT) == 1, 20, "the thread to start")
    thread = thread_app.extensions[outbox_thread.EXTENSION_KEY]
    # As a pass that died on a database error while it held two messages leaves them.
    held = [queue_row(status=OutboxMessage.SENDING, claimed_by=thread.worker, claimed_at=utcnow()) for _ in range(2)]
    outbox_thread.stop_all()
    assert count_status(OutboxMessage.SENDING) == 0
    db.session.rollback()
    assert {db.session.get(OutboxMessage, r.id).status for r in held} == {OutboxMessage.PENDING}


def test_a_gunicorn_hup_reload_gives_back_what_the_old_workers_thread_held(app, smtp_server, database_url, tmp_path):
    import urllib.request

    from tests.smtp import free_port

    rows = [queue_row() for _ in range(8)]
    smtp_server.handler.delay = 0.5
    port = free_port()
    env = worker_env(database_url, smtp_server, OUTBOX_THREAD=1, OUTBOX_BATCH_SIZE=10, PORT=port, WEB_CONCURRENCY=1,
                     STATIC_BUILD_DIR=tmp_path / "static-build")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "app:create_app()"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):  # noqa: S310
                    return True
            except OSError:
                return False

        wait_for(answers, 60, "gunicorn to answer")  # the first request starts the worker's outbox thread
        wait_for(lambda: len(smtp_server.messages) >= 1, 30, "the thread to deliver")
        server.send_signal(signal.SIGHUP)  # docs/deploy.md's reload: the old worker gets SIGTERM and exits
        wait_for(lambda: count_status(OutboxMessage.SENDING) == 0, 30, "the old worker to give back its claims")
        assert count_status(OutboxMessage.SENT) == len(smtp_server.messages) < len(rows)
        assert count_status(OutboxMessage.PENDING) == len(rows) - len(smtp_server.messages)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=60)
    assert "Worker exiting" in output


EXITING_PROCESS = textwrap.dedent("""
    import time
    from sqlalchemy import func, select
    from app import create_app
    from extensions import db
    from mail.thread import ensure_thread
    from models import OutboxMessage

    app = create_app()
    with app.test_request_context("/"):
        ensure_thread(app).wake()
    with app.app_context():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            db.session.rollback()
            sent = db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                     .where(OutboxMessage.status == "sent"))
            if sent:
                break
            time.sleep(0.05)
        db.session.remove()
    print("main thread done", flush=True)  # the interpreter exits here, the delivery thread mid-batch
""")


def test_the_thread_gives_back_its_claims_when_the_interpreter_exits(app, smtp_server, database_url):
    rows = [queue_row() for _ in range(6)]
    smtp_server.handler.delay = 0.5
    result = subprocess.run([sys.executable, "-c", EXITING_PROCESS], cwd=ROOT, timeout=90, capture_output=True, text=True,
                            env=worker_env(database_url, smtp_server, OUTBOX_THREAD=1, OUTBOX_BATCH_SIZE=10))
    assert result.returncode == 0 and "main thread done" in result.stdout, result.stdout + result.stderr
    assert count_status(OutboxMessage.SENDING) == 0, "the process exited holding claims"
    assert count_status(OutboxMessage.SENT) == len(smtp_server.messages) >= 1
    assert count_status(OutboxMessage.PENDING) == len(rows) - len(smtp_server.messages) > 0


def test_a_loop_worker_reloads_on_sighup_giving_back_its_claims_and_sends_each_message_once(app, smtp_server,
                                                                                           database_url):
    rows = [queue_row() for _ in range(10)]
    smtp_server.handler.delay = 0.3
    worker = start_worker(worker_env(database_url, smtp_server, OUTBOX_BATCH_SIZE=10), "--loop", "--interval", "0.2")
    try:
        read_until(worker, "polling every")
        wait_for(lambda: len(smtp_server.messages) >= 2, 60, "the worker to deliver a few")
        worker.send_signal(signal.SIGHUP)
        output = read_until(worker, "Outbox worker: reloading.")
        assert "SIGHUP received" in output and "Outbox worker stopped." in output
        held = count_status(OutboxMessage.SENDING)
        assert held == 0, f"the reloading worker left {held} claims behind"
        assert count_status(OutboxMessage.SENT) < len(rows)
        output = read_until(worker, "polling every")  # the same process, started again
        smtp_server.handler.delay = 0
        wait_for(lambda: count_status(OutboxMessage.SENT) == len(rows), 60, "the reloaded worker to deliver the rest")
        assert worker.poll() is None
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, output
    copies = collections.Counter(str(m["Message-ID"]) for m in smtp_server.messages)
    assert copies == {r.message_id: 1 for r in rows}


def test_a_pass_interrupted_by_ctrl_c_gives_back_what_it_did_not_try(mail_app, smtp_server, monkeypatch):
    from mail import delivery as mailer

    rows = [queue_row() for _ in range(4)]
    original = mailer._deliver_one
    calls = []

    def interrupted_after_one(*args):
        if calls:
            raise KeyboardInterrupt  # as Ctrl-C lands between two messages
        calls.append(True)
        return original(*args)

    monkeypatch.setattr(mailer, "_deliver_one", interrupted_after_one)
    with pytest.raises(KeyboardInterrupt):
        mailer.deliver_pending()
    assert count_status(OutboxMessage.SENT) == 1
    # The one Ctrl-C landed on may have reached the relay: it waits for the claim timeout; the rest go back now.
    assert count_status(OutboxMessage.SENDING) == 1
    assert count_status(OutboxMessage.PENDING) == len(rows) - 2
