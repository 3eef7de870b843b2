"""`flask backup`: database backups: SQLite's online backup API, or pg_dump for PostgreSQL.

Restoring is described (and tested) in docs/deploy.md: for SQLite, stop the site and put
the file back in place of the database; for PostgreSQL, pg_restore into an empty database.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from sqlalchemy.engine import make_url


def backup_database(destination: str | None = None) -> Path:
    """Back up the app's database; returns the file written."""
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    chosen = Path(destination) if destination else None
    if url.get_backend_name() == "sqlite":
        source = url.database
        if not source or source == ":memory:" or not Path(source).exists():
            raise click.ClickException(f"there is no SQLite database file to back up ({source or 'in memory'})")
        target = backup_target(chosen, ".db")
        backup_sqlite(Path(source), target)
    elif url.get_backend_name() == "postgresql":
        target = backup_target(chosen, ".dump")
        backup_postgres(url, target)
    else:
        raise click.ClickException(f"don't know how to back up a {url.get_backend_name()} database")
    return target


def backup_target(destination: Path | None, suffix: str) -> Path:
    """The file to write: DESTINATION, a file inside DESTINATION if it is a folder, or a timestamped default."""
    name = f"portico-{datetime.now(UTC):%Y%m%d-%H%M%S}{suffix}"
    if destination is None:
        destination = Path(current_app.instance_path) / "backups" / name
    elif destination.is_dir():
        destination = destination / name
    if destination.exists():
        raise click.ClickException(f"{destination} already exists; not overwriting it")
    destination.parent.mkdir(parents=True, exist_ok=True)
    return destination


def backup_sqlite(source: Path, target: Path) -> None:
    """Page-by-page copy by SQLite itself: consistent even while other processes write."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
        if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise click.ClickException(f"the copy in {target} failed SQLite's integrity check")
    finally:
        dst.close()
        src.close()
    target.chmod(0o600)  # it holds every enquiry: personal data


def backup_postgres(url, target: Path) -> None:
    pg_dump = shutil.which("pg_dump")
    database = url.database or ""
    if pg_dump is None:
        raise click.ClickException(
            "pg_dump is not installed here. Back up PostgreSQL with "
            f"`pg_dump --format=custom --no-owner --file={target} {database}` "
            "(same major version as the server), and restore with "
            "`pg_restore --no-owner --clean --if-exists --dbname=DATABASE FILE`."
        )
    # Connection details through libpq's variables, so the password never shows in `ps`.
    env = {**os.environ, "PGDATABASE": database}
    for variable, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                            ("PGPASSWORD", url.password), ("PGSSLMODE", url.query.get("sslmode"))):
        if value is not None:
            env[variable] = str(value)
    result = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
        [pg_dump, "--format=custom", "--no-owner", f"--file={target}"],
        env=env, capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        target.unlink(missing_ok=True)
        raise click.ClickException(f"pg_dump failed: {result.stderr.strip()}")
    target.chmod(0o600)


@click.command("backup")
@click.argument("destination", required=False, type=click.Path())
def backup_command(destination: str | None) -> None:
    """Back up the database to DESTINATION (default: instance/backups/portico-<UTC time>.db or .dump).

    SQLite: a consistent copy through SQLite's online backup API, safe while the site runs.
    PostgreSQL: pg_dump's custom format (restore with pg_restore). See docs/deploy.md.
    """
    target = backup_database(destination)
    click.echo(f"Backed up to {target} ({target.stat().st_size} bytes).")
