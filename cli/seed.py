"""`flask seed`: load content/ into the database (cli/seeding/ has the loaders)."""
from __future__ import annotations

import click


@click.command("seed")
@click.option("--demo", is_flag=True, help="Also add a few upcoming demo training sessions and an example case study.")
def seed_command(demo: bool) -> None:
    """Load content/ into the database (safe to run again: it only adds what is missing)."""
    from cli.seeding import seed_all

    added = seed_all(demo=demo)
    click.echo("Seeded: " + ", ".join(f"{count} {kind}" for kind, count in added.items()) + ".")
