"""`flask reminders send`: training reminders."""
from __future__ import annotations

import click


@click.group("reminders")
def reminders_group() -> None:
    """Training session reminders."""


@reminders_group.command("send")
def reminders_send() -> None:
    """Queue the 48-hour "still coming?" reminders that are due (safe to run from cron every few minutes)."""
    from blueprints.training.operations import send_reminders

    count = send_reminders()
    click.echo(f"Queued {count} reminder{'s' if count != 1 else ''}.")
