"""`flask privacy purge`: retention, as the privacy page promises it."""
from __future__ import annotations

import click


@click.group("privacy")
def privacy_group() -> None:
    """Personal data."""


@privacy_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Say what would go; change nothing.")
def privacy_purge(dry_run: bool) -> None:
    """Erase what has been kept as long as the privacy page says (safe to run from cron daily)."""
    from blueprints.admin.retention import purge
    from extensions import db

    counts = purge(dry_run=dry_run)
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()  # the changes and their audit entry together
    click.echo(("Would purge" if dry_run else "Purged") + ": {enquiries} enquiries and {bookings} bookings anonymised, "
               "{comments} rejected or spam comments deleted, {invoices} invoices and credit notes past their retention "
               "deleted, {outbox} emails about them anonymised, "
               "{login_failures} failed sign-in records deleted.".format(**counts))
