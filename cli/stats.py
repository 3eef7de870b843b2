"""`flask stats rollup`: count finished days into per-day counters, forget old raw hits and past salts."""
from __future__ import annotations

import time

import click
from flask import current_app

from models import site_settings


@click.group("stats")
def stats_group() -> None:
    """Visit statistics."""


@stats_group.command("rollup")
def stats_rollup() -> None:
    """Count every finished day still held as raw hits, then delete hits older than STATS_KEEP_DAYS (cron: daily).

    Each web process also does this once a day; running it again changes nothing but late hits.
    """
    from extensions import db
    from models import AuditLog, stats
    from models.transactions import begin_write
    from web.stats import Recorder

    recorder: Recorder | None = current_app.extensions.get("stats")
    if recorder is not None:
        recorder.flush()  # this process's own hits first
        today = recorder.today(time.time())
    else:
        from datetime import datetime
        from zoneinfo import ZoneInfo

        today = datetime.now(ZoneInfo(site_settings.current().timezone)).date()
    begin_write()
    counts = stats.rollup(db.session, today, int(current_app.config["STATS_KEEP_DAYS"]))
    AuditLog.record(None, "stats.rollup", None, **counts)  # raw hits and salts deleted: on the record
    db.session.commit()
    click.echo("Rolled up {days} day(s); deleted {hits_deleted} raw hits and {salts_deleted} past salt(s).".format(**counts))
