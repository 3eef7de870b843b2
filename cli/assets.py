"""`flask assets build`: fingerprinted, compressed static files."""
from __future__ import annotations

from pathlib import Path

import click

from web.static_build import DEFAULT_BUILD_DIR, build


@click.group("assets")
def assets_group() -> None:
    """Static files."""


@assets_group.command("build")
def assets_build() -> None:
    """Fingerprint and compress static/ into STATIC_BUILD_DIR (gunicorn.conf.py does this at startup)."""
    from flask import current_app

    folder = build(Path(current_app.static_folder), Path(current_app.config.get("STATIC_BUILD_DIR") or DEFAULT_BUILD_DIR))
    click.echo(f"Static files built in {folder}.")
