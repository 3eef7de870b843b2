"""Consultancy services from content/services.toml."""
from __future__ import annotations

from cli.seeding import add_missing, load_toml
from models import Service


def service(item: dict, position: int) -> Service:
    return Service(
        slug=item["slug"], title=item["title"], headline=item.get("headline", ""),
        summary=item.get("summary", ""), body=item.get("body", ""), offerings=item.get("offerings", []),
        cta=item.get("cta", "contact"), position=position,
    )


def seed_services() -> int:
    return add_missing(Service, load_toml("services.toml")["service"], service)
