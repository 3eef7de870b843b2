"""Jinja filters and globals shared by pages and emails."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask

from models import site_settings


def in_zone(value: datetime, zone: str) -> datetime:
    return value.astimezone(ZoneInfo(zone))


def zone_label(local: datetime) -> str:
    """The zone of a local time, said once with its offset: 'GMT (UTC+00:00)', or 'UTC'.

    Zones without a real abbreviation (tzdata writes '-03' for São Paulo, '+1030' for Lord Howe)
    are named by their IANA name instead, so the offset is never printed twice.
    """
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    utc = f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    abbreviation = local.tzname() or ""
    key = getattr(local.tzinfo, "key", None) or abbreviation
    if minutes == 0 and key in ("UTC", "Etc/UTC", "Z"):
        return "UTC"
    if abbreviation.isalpha() and abbreviation != "UTC":
        return f"{abbreviation} ({utc})"
    return f"({key}, {utc})"


def format_datetime(value: datetime, zone: str = "UTC") -> str:
    """'Tue 3 March 2026, 09:00 CET (UTC+01:00)': the zone once, the offset explicit (pages, emails, .ics)."""
    local = in_zone(value, zone)
    return f"{local:%a} {local.day} {local:%B %Y, %H:%M} {zone_label(local)}"


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

    from models.media import ASIDE_SIZES, PROSE_SIZES

    # The `sizes` of an image in the page's main column (models/media.py), for imported macros too.
    app.jinja_env.globals.update(aside_sizes=ASIDE_SIZES, prose_sizes=PROSE_SIZES)

    @app.context_processor
    def site_context():
        # `site`: the settings edited at /admin/settings (models/site_settings.py). The three short names are
        # the same values, kept for the templates that use them.
        site = site_settings.current()
        return {
            "site": site,
            "site_name": site.site_name,
            "consultant_name": site.consultant_name,
            "consultant_email": site.consultant_email,
            "site_url": app.config["SITE_URL"],
        }
