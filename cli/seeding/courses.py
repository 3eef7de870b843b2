from __future__ import annotations

from sqlalchemy import select

from cli.seeding import load_toml
from extensions import db
from models import Course


def seed_courses() -> int:
    existing = set(db.session.scalars(select(Course.slug)))
    added = 0
    for position, item in enumerate(load_toml("courses.toml")["course"], start=1):
        if item["slug"] in existing:
            continue
        db.session.add(Course(
            slug=item["slug"], title=item["title"], summary=item.get("summary", ""),
            description=item.get("description", ""),
            duration_days=item.get("duration_days", 1), level=item.get("level", "Beginner"),
            prerequisites=item.get("prerequisites", ""), formats=item.get("formats", []),
            outline=[{"title": m["title"], "topics": m.get("topics", [])} for m in item.get("module", [])],
            tags=item.get("tags", []), price=item.get("price"), currency=item.get("currency"),
            position=position,
        ))
        added += 1
    return added
