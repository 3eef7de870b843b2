from __future__ import annotations

from sqlalchemy import select

from cli.seeding import load_toml
from extensions import db
from models import Service


def seed_services() -> int:
    existing = set(db.session.scalars(select(Service.slug)))
    added = 0
    for position, item in enumerate(load_toml("services.toml")["service"], start=1):
        if item["slug"] in existing:
            continue
        db.session.add(Service(
            slug=item["slug"], title=item["title"], headline=item.get("headline", ""),
            summary=item.get("summary", ""), body=item.get("body", ""),
            offerings=item.get("offerings", []),
            cta=item.get("cta", "contact"), position=position,
        ))
        added += 1
    return added
