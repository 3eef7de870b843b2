"""Training courses from content/courses.toml."""
from __future__ import annotations

from cli.seeding import add_missing, load_toml
from models import Course


def course(item: dict, position: int) -> Course:
    return Course(
        slug=item["slug"], title=item["title"], summary=item.get("summary", ""),
        description=item.get("description", ""),
        duration_days=item.get("duration_days", 1), level=item.get("level", "Beginner"),
        prerequisites=item.get("prerequisites", ""), formats=item.get("formats", []),
        outline=[{"title": m["title"], "topics": m.get("topics", [])} for m in item.get("module", [])],
        tags=item.get("tags", []), price=item.get("price"), currency=item.get("currency"),
        position=position,
    )


def seed_courses() -> int:
    return add_missing(Course, load_toml("courses.toml")["course"], course)
