"""`flask seed`: load content/ into the database, idempotently.

Rows are matched by slug and only ever inserted: running it twice changes
nothing, and what the consultant edited in the admin is never overwritten.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

CONTENT_DIR = Path(__file__).resolve().parents[2] / "content"


def load_toml(name: str) -> dict:
    with open(CONTENT_DIR / name, "rb") as handle:
        return tomllib.load(handle)


def seed_all(*, demo: bool = False) -> dict[str, int]:
    """Seed everything; returns how many rows of each kind were added."""
    from cli.seeding.courses import seed_courses
    from cli.seeding.posts import seed_posts
    from cli.seeding.services import seed_services
    from cli.seeding.site_settings import seed_site_settings
    from extensions import db

    added = {"services": seed_services(), "courses": seed_courses(), "posts": seed_posts(),
             "site settings": seed_site_settings()}
    if demo:
        from cli.seeding.demo import seed_demo_case_study, seed_demo_sessions

        added["demo sessions"] = seed_demo_sessions()
        added["demo case studies"] = seed_demo_case_study()
    db.session.commit()
    return added


def add_missing(model, items: list[dict], build) -> int:
    """Insert each item whose slug is not in the table yet (`build(item, position)` makes the row); returns how many."""
    from sqlalchemy import select

    from extensions import db

    existing = set(db.session.scalars(select(model.slug)))
    added = 0
    for position, item in enumerate(items, start=1):
        if item["slug"] not in existing:
            db.session.add(build(item, position))
            added += 1
    return added
