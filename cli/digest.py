"""`flask digest send`: the consultant's daily digest, for cron (blueprints/admin/digest.py)."""
from __future__ import annotations

import click


@click.group("digest")
def digest_group() -> None:
    """The consultant's daily digest."""


@digest_group.command("send")
@click.option("--any-hour", is_flag=True, help="Send now even before DIGEST_HOUR (still once a day).")
def digest_send(any_hour: bool) -> None:
    """Queue today's digest to the consultant's address (/admin/settings) if there is something in it (run hourly from cron: it sends once a
    day, from DIGEST_HOUR in the site settings' time zone; a second run that day sends nothing)."""
    from blueprints.admin.digest import send_digest

    outcome = send_digest(any_hour=any_hour)  # commits what it did
    click.echo(outcome.message)
