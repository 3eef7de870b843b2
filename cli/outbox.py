"""`flask outbox …`: mail delivery workers and the outbox's state."""
from __future__ import annotations

import click

from extensions import db


@click.group("outbox")
def outbox_group() -> None:
    """Deliver queued email."""


@outbox_group.command("deliver")
@click.option("--loop", is_flag=True, help="Keep running as a worker until SIGTERM or Ctrl-C; SIGHUP restarts it.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between polls with --loop.")
def outbox_deliver(loop: bool, interval: float) -> None:
    """Deliver every due message once (or keep delivering with --loop); safe to run several at once."""
    import signal
    import threading

    from mail import delivery as mailer

    if not loop:
        report = mailer.deliver_pending(worker=mailer.worker_name("cli"))
        click.echo(f"Outbox: {report}.")
        for error in report.errors[:20]:
            click.echo(f"  {error}", err=True)
        return

    stop = threading.Event()
    reload = threading.Event()

    def request_stop(signum, _frame):
        click.echo(f"Outbox worker: {signal.Signals(signum).name} received, stopping after the current message.")
        if signum == signal.SIGHUP:
            reload.set()
        stop.set()

    # SIGHUP is a reload (docs/deploy.md's ExecReload): stop as for SIGTERM, so that the claims go
    # back, then start again in place with the new code, rather than die holding them.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, request_stop)
    worker = mailer.worker_name("loop")
    click.echo(f"Outbox worker {worker} polling every {interval:g} s.")

    def report_pass(report):
        if report.sent or report.retrying or report.failed or report.released:
            click.echo(f"Outbox: {report}.")

    mailer.run_worker(stop, interval, on_pass=report_pass, worker=worker)
    click.echo("Outbox worker stopped.")
    if reload.is_set():
        import os
        import sys

        click.echo("Outbox worker: reloading.")
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])  # noqa: S606 (this very command again)


@outbox_group.command("status")
def outbox_status() -> None:
    """How many messages are pending, sending, sent and failed (and skipped by the per-recipient cap, if any)."""
    from models import OutboxMessage

    counts = OutboxMessage.counts(db.session)
    shown = [s for s in OutboxMessage.STATUSES if s != OutboxMessage.SKIPPED or counts.get(s)]
    click.echo(", ".join(f"{counts.get(s, 0)} {s}" for s in shown))
