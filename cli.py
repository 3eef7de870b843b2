"""Command-line entry points: `flask --app app <command>`. They call the same operations as the web."""
from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select

from extensions import db


def init_app(app: Flask) -> None:
    for command in (seed_command, admin_group, outbox_group, reminders_group, backup_command):
        app.cli.add_command(command)
    app.cli.add_command(posts_group)


@click.command("seed")
@click.option("--demo", is_flag=True, help="Also add a few upcoming demo training sessions.")
def seed_command(demo: bool) -> None:
    """Load content/ into the database (safe to run again: it only adds what is missing)."""
    from seeding import seed_all

    added = seed_all(demo=demo)
    click.echo("Seeded: " + ", ".join(f"{count} {kind}" for kind, count in added.items()) + ".")


@click.group("admin")
def admin_group() -> None:
    """Manage admin accounts."""


@admin_group.command("create")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The password (asked for when not given).")
def admin_create(email: str, password: str) -> None:
    """Create an admin account, or reset the password of an existing one."""
    from models import AdminUser

    email = email.strip().lower()
    if len(password) < 10:
        raise click.BadParameter("use at least 10 characters", param_hint="--password")
    user = db.session.scalar(select(AdminUser).where(AdminUser.email == email))
    created = user is None
    if created:
        user = AdminUser(email=email)
        db.session.add(user)
    user.set_password(password)
    user.rotate_session_token()
    db.session.commit()
    click.echo(f"{'Created' if created else 'Updated'} admin {email}.")


# --- outbox (mail delivery) -------------------------------------------------------------

@click.group("outbox")
def outbox_group() -> None:
    """Deliver queued email."""


@outbox_group.command("deliver")
@click.option("--loop", is_flag=True, help="Keep running as a worker until SIGTERM or Ctrl-C.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between polls with --loop.")
def outbox_deliver(loop: bool, interval: float) -> None:
    """Deliver every due message once (or keep delivering with --loop); safe to run several at once."""
    import signal
    import threading

    import mailer

    if not loop:
        report = mailer.deliver_pending(worker=mailer.worker_name("cli"))
        click.echo(f"Outbox: {report}.")
        for error in report.errors[:20]:
            click.echo(f"  {error}", err=True)
        return

    stop = threading.Event()

    def request_stop(signum, _frame):
        click.echo(f"Outbox worker: {signal.Signals(signum).name} received, stopping after the current message.")
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    worker = mailer.worker_name("loop")
    click.echo(f"Outbox worker {worker} polling every {interval:g} s.")

    def report_pass(report):
        if report.sent or report.retrying or report.failed or report.released:
            click.echo(f"Outbox: {report}.")

    mailer.run_worker(stop, interval, on_pass=report_pass, worker=worker)
    click.echo("Outbox worker stopped.")


@outbox_group.command("status")
def outbox_status() -> None:
    """How many messages are pending, sending, sent and failed."""
    from models import OutboxMessage

    counts = OutboxMessage.counts(db.session)
    click.echo(", ".join(f"{counts.get(s, 0)} {s}" for s in (OutboxMessage.PENDING, OutboxMessage.SENDING,
                                                             OutboxMessage.SENT, OutboxMessage.FAILED)))


# --- posts (blog) ----------------------------------------------------------------------

@click.group("posts")
def posts_group() -> None:
    """Blog posts."""


@posts_group.command("render")
@click.argument("slugs", nargs=-1)
def posts_render(slugs: tuple[str, ...]) -> None:
    """Re-render posts from their Markdown (all, or the SLUGS given), e.g. after a rendering change."""
    from blueprints.blog.operations import render_post
    from models import Post

    query = select(Post).order_by(Post.id)
    if slugs:
        query = query.where(Post.slug.in_(slugs))
    posts = db.session.scalars(query).all()
    missing = set(slugs) - {p.slug for p in posts}
    if missing:
        raise click.ClickException(f"no post with slug {', '.join(sorted(missing))}")
    for post in posts:
        render_post(post)
    db.session.commit()
    click.echo(f"Rendered {len(posts)} post{'' if len(posts) == 1 else 's'}.")


# --- reminders (training) ---------------------------------------------------------------

@click.group("reminders")
def reminders_group() -> None:
    """Training session reminders."""


@reminders_group.command("send")
def reminders_send() -> None:
    """Queue the 48-hour "still coming?" reminders that are due (safe to run from cron every few minutes)."""
    from blueprints.training.operations import send_reminders

    count = send_reminders()
    click.echo(f"Queued {count} reminder{'s' if count != 1 else ''}.")


# --- backup (operations) ----------------------------------------------------------------

@click.command("backup")
@click.argument("destination", required=False, type=click.Path())
def backup_command(destination: str | None) -> None:
    """Back up the database to DESTINATION (default: instance/backups/portico-<UTC time>.db or .dump).

    SQLite: a consistent copy through SQLite's online backup API, safe while the site runs.
    PostgreSQL: pg_dump's custom format (restore with pg_restore). See docs/deploy.md.
    """
    from backups import backup_database

    target = backup_database(destination)
    click.echo(f"Backed up to {target} ({target.stat().st_size} bytes).")
