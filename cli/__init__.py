"""Every `flask` command. Each calls the same operations as the web.

seed.py      flask seed [--demo]            (loaders in seeding/, content in content/)
admin.py     flask admin create EMAIL
outbox.py    flask outbox deliver [--loop], flask outbox status
training.py  flask reminders send, flask bookings expire
invoices.py  flask invoices remind
posts.py     flask posts render [SLUG…]
backup.py    flask backup [PATH]
assets.py    flask assets build
privacy.py   flask privacy purge [--dry-run]
digest.py    flask digest send [--any-hour]
stats.py     flask stats rollup
wordpress.py flask import wordpress EXPORT.xml [--media-dir DIR] [--dry-run]
aftercare.py flask aftercare run
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from cli import admin, assets, backup, digest, invoices, outbox, posts, privacy, seed, stats, training, wordpress
    from cli.aftercare import aftercare_group

    for command in (seed.seed_command, admin.admin_group, outbox.outbox_group, training.reminders_group,
                    training.bookings_group, backup.backup_command, posts.posts_group, assets.assets_group,
                    privacy.privacy_group, stats.stats_group, wordpress.import_group, invoices.invoices_group,
                    digest.digest_group, aftercare_group):
        app.cli.add_command(command)
