"""`flask invoices remind`: the one polite reminder for each overdue invoice (cron, safe to run twice)."""
from __future__ import annotations

import click


@click.group("invoices")
def invoices_group() -> None:
    """Invoices and credit notes."""


@invoices_group.command("remind")
def invoices_remind() -> None:
    """Queue one reminder for each invoice past its due date that has had none (safe to run from cron daily)."""
    from blueprints.invoices.operations import send_reminders
    from extensions import db

    count = send_reminders()
    db.session.commit()  # each reminder with its mark: a second run finds none to send
    click.echo(f"Queued {count} invoice reminder{'s' if count != 1 else ''}.")
