"""`flask reminders send`, `flask bookings expire`: the training area's cron jobs."""
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


@click.group("bookings")
def bookings_group() -> None:
    """Training bookings."""


@bookings_group.command("expire")
def bookings_expire() -> None:
    """Lapse pending bookings unconfirmed for PENDING_BOOKING_HOURS, give their seats to the waitlist, and forget
    used form stamps no form accepts any more (safe to run from cron every few minutes)."""
    from blueprints.payments.operations import release_expired_holds
    from blueprints.training.schedule import expire_pending
    from extensions import db
    from web.spam import purge_used_stamps

    count = expire_pending()
    db.session.commit()  # each lapse with its emails and audit entry
    released = release_expired_holds()  # card holds whose Checkout ran out (the webhook may have been missed)
    db.session.commit()
    purged = purge_used_stamps()
    db.session.commit()
    click.echo(f"Lapsed {count} pending booking{'s' if count != 1 else ''}; released {released} card hold"
               f"{'s' if released != 1 else ''}; forgot {purged} used form stamp"
               f"{'s' if purged != 1 else ''}.")
