"""Jinja filters and globals shared by pages and emails."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask


def in_zone(value: datetime, zone: str) -> datetime:
    return value.astimezone(ZoneInfo(zone))


def format_datetime(value: datetime, zone: str = "UTC") -> str:
    """'Tue 3 March 2026, 09:00 CET (UTC+01:00)': the zone named, the offset explicit."""
    local = in_zone(value, zone)
    offset = local.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    return f"{local:%a} {local.day} {local:%B %Y, %H:%M} {local.tzname()} ({offset})"


def format_date(value: datetime, zone: str = "UTC") -> str:
    local = in_zone(value, zone)
    return f"{local.day} {local:%B %Y}"


def format_time(value: datetime, zone: str = "UTC") -> str:
    return f"{in_zone(value, zone):%H:%M}"


def iso_datetime(value: datetime) -> str:
    """For <time datetime>: ISO 8601 to the second (HTML allows at most three digits of a fraction)."""
    return value.isoformat(timespec="seconds")


def init_app(app: Flask) -> None:
    app.add_template_filter(format_datetime, "datetime")
    app.add_template_filter(format_date, "date")
    app.add_template_filter(format_time, "time")
    app.add_template_filter(in_zone, "in_zone")
    app.add_template_filter(iso_datetime, "iso")

    @app.context_processor
    def site_context():
        return {
            "site_name": app.config["SITE_NAME"],
            "consultant_name": app.config["CONSULTANT_NAME"],
            "consultant_email": app.config["CONSULTANT_EMAIL"],
            "site_url": app.config["SITE_URL"],
        }
