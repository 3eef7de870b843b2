"""`flask aftercare run`: the training aftercare's timed jobs (go/no-go emails, feedback requests, lapsed interest)."""
from __future__ import annotations

import click


@click.group("aftercare")
def aftercare_group() -> None:
    """After-booking jobs: minimum class size, feedback, interest lists."""


@aftercare_group.command("run")
def aftercare_run() -> None:
    """Queue due go/no-go emails and feedback requests, and delete interest entries never confirmed (safe from cron)."""
    from blueprints.training.feedback import send_feedback_requests
    from blueprints.training.interest import expire_interest
    from blueprints.training.minimum import send_decision_requests
    from extensions import db

    asked = send_decision_requests()
    db.session.commit()
    requested = send_feedback_requests()
    db.session.commit()
    expired = expire_interest()
    db.session.commit()
    click.echo(f"Go/no-go emails: {asked}; feedback requests: {requested}; unconfirmed interest entries deleted: {expired}.")
