"""`flask reminders send`: training reminders."""
from __future__ import annotations

import click


@click.group("reminders")
def reminders_group() -> None:
    """Training session reminders."""


@reminders_group.command("send")
def reminders_send() -> None:
    """Queue the 48-hour "still coming?" reminders that are due (safe to run from cron every few minutes)."""
    from blueprints.training.schedule import send_reminders
    from extensions import db

    count = send_reminders()
    db.session.commit()  # the claims and their emails together: each reminder goes once
    click.echo(f"Queued {count} reminder{'s' if count != 1 else ''}.")
