"""`flask import wordpress EXPORT.xml [--media-dir DIR] [--dry-run]`: move a WordPress blog in."""
from __future__ import annotations

from pathlib import Path

import click

from extensions import db


@click.group("import")
def import_group() -> None:
    """Bring content in from another site."""


@import_group.command("wordpress")
@click.argument("export", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--media-dir", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="A copy of the old site's wp-content/uploads: its images are copied in and the bodies point to them.")
@click.option("--dry-run", is_flag=True, help="Print what would be imported and write nothing.")
def import_wordpress(export: Path, media_dir: Path | None, dry_run: bool) -> None:
    """Import posts, pages (as drafts), comments and images from a WordPress export (Tools → Export),
    and make every old permalink answer 301 to its new address. Safe to run again: nothing is duplicated,
    and a post edited here since is left alone."""
    from blueprints.blog.wordpress import wxr
    from blueprints.blog.wordpress.importer import run_import
    from models.transactions import begin_write

    try:
        parsed = wxr.read(export)
    except wxr.ExportError as error:
        raise click.ClickException(f"{error}. Nothing was imported.") from None
    begin_write()
    try:
        report = run_import(parsed, media_dir=media_dir, dry_run=dry_run)
    except Exception:
        db.session.rollback()
        raise
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    click.echo(report.text())
