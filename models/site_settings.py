"""The site's settings (name, tagline, home page hero, consultant, footer, profile links, zone, locale): one row.

Edited at /admin/settings; `flask seed` fills the row from the environment (SITE_NAME, CONSULTANT_NAME,
CONSULTANT_EMAIL, SITE_TIMEZONE), which are only its defaults: until the row exists the same defaults
are shown. `current()` is the one way to read them (pages get it as the Jinja global `site`, emails too):
a snapshot kept per process and per content version, so a request reads no row, and a change made by
any process shows in every other one as soon as it sees the new content version (the table is PUBLIC
in models/content_version.py), at most PAGE_CACHE_CHECK_SECONDS later.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, fields
from datetime import datetime

from flask import Flask, current_app
from sqlalchemy import JSON, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.base import UTCDateTime, utcnow

ROW_ID = 1
MAX_CALLS_TO_ACTION = 2
MAX_PROFILE_LINKS = 4

# What the site said before it had settings: the defaults of the row's text.
DEFAULT_TAGLINE = "Freelance infrastructure consultant"
DEFAULT_HERO_EYEBROW = "Available for freelance work"
DEFAULT_HERO_HEADING = "Cloud, virtualization and network infrastructure that keeps running"
DEFAULT_HERO_TEXT = ("I am an independent infrastructure consultant. I design, fix and run public and private clouds, "
                     "virtualization platforms, container clusters and networks, and I train the teams who look after them.")
DEFAULT_CALLS_TO_ACTION = ({"label": "Tell me about your project", "url": "/contact"},
                           {"label": "See training dates", "url": "/training"})
DEFAULT_FOOTER_TEXT = "Freelance infrastructure consulting and training, available for new work."
DEFAULT_LOCALE = "en"


class SiteSettings(db.Model):
    __tablename__ = "site_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, default=ROW_ID)
    site_name: Mapped[str] = mapped_column(String(100))
    tagline: Mapped[str] = mapped_column(String(200), default="")
    hero_eyebrow: Mapped[str] = mapped_column(String(200), default="")
    hero_heading: Mapped[str] = mapped_column(String(200), default="")
    hero_text: Mapped[str] = mapped_column(Text, default="")
    # [{"label": …, "url": …}], at most MAX_CALLS_TO_ACTION / MAX_PROFILE_LINKS, each URL checked by the form.
    calls_to_action: Mapped[list] = mapped_column(JSON, default=list)
    consultant_name: Mapped[str] = mapped_column(String(200))
    consultant_email: Mapped[str] = mapped_column(String(254))
    footer_text: Mapped[str] = mapped_column(Text, default="")
    profile_links: Mapped[list] = mapped_column(JSON, default=list)
    timezone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(35), default=DEFAULT_LOCALE)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Site:
    """What the pages and emails use; immutable, shared by every request of a process."""

    site_name: str
    tagline: str
    hero_eyebrow: str
    hero_heading: str
    hero_text: str
    calls_to_action: tuple[Link, ...]
    consultant_name: str
    consultant_email: str
    footer_text: str
    profile_links: tuple[Link, ...]
    timezone: str
    locale: str

    @property
    def name(self) -> str:
        return self.site_name

    def as_fields(self) -> dict:
        """The values as the row stores them (links as lists of dicts)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("calls_to_action", "profile_links"):
            values[key] = [{"label": link.label, "url": link.url} for link in values[key]]
        return values


FIELDS = tuple(f.name for f in fields(Site))


def _links(items, limit: int) -> tuple[Link, ...]:
    links = []
    for item in items or ():
        if isinstance(item, dict) and item.get("label") and item.get("url"):
            links.append(Link(str(item["label"]), str(item["url"])))
    return tuple(links[:limit])


def defaults(config=None) -> dict:
    """The seed values: today's environment (config.py), and the site's own words for the rest."""
    config = config if config is not None else current_app.config
    return {
        "site_name": config["SITE_NAME"],
        "tagline": DEFAULT_TAGLINE,
        "hero_eyebrow": DEFAULT_HERO_EYEBROW,
        "hero_heading": DEFAULT_HERO_HEADING,
        "hero_text": DEFAULT_HERO_TEXT,
        "calls_to_action": [dict(item) for item in DEFAULT_CALLS_TO_ACTION],
        "consultant_name": config["CONSULTANT_NAME"],
        "consultant_email": config["CONSULTANT_EMAIL"],
        "footer_text": DEFAULT_FOOTER_TEXT,
        "profile_links": [],
        "timezone": config["SITE_TIMEZONE"],
        "locale": DEFAULT_LOCALE,
    }


def snapshot(values: dict) -> Site:
    values = dict(values)
    values["calls_to_action"] = _links(values.get("calls_to_action"), MAX_CALLS_TO_ACTION)
    values["profile_links"] = _links(values.get("profile_links"), MAX_PROFILE_LINKS)
    return Site(**{name: values[name] for name in FIELDS})


def load(session=None) -> Site:
    """Read the row now (the defaults when there is none yet)."""
    session = session if session is not None else db.session
    row = session.execute(select(SiteSettings.__table__).where(SiteSettings.id == ROW_ID)).mappings().first()
    if row is None:
        return snapshot(defaults())
    return snapshot({name: row[name] for name in FIELDS})


class SettingsCache:
    """One process's snapshot, kept while the content version it was read under is current."""

    def __init__(self, app: Flask, check_every: float) -> None:
        self.app = app
        self.check_every = check_every
        self._held: tuple[int, Site] | None = None
        self._counter = 0
        self._checked = 0.0
        self._stale = True

    def invalidate(self) -> None:
        """This process committed a change to public content: look again before the next use."""
        self._stale = True

    def counter(self) -> int:
        """The content version now, read through the request's own session (a second connection would wait for
        the write lock a POST's session holds on SQLite), and never older than the version the page cache in
        front last read: a page it keeps under that version shows the settings of that version or later."""
        now = time.monotonic()
        if self._stale or now - self._checked >= self.check_every:
            self._stale = False  # before the read: a commit during it marks it stale again
            self._counter = _read_counter()
            self._checked = now
        page_cache = self.app.extensions.get("page_cache")
        seen = page_cache.seen if page_cache is not None else None
        return max(self._counter, seen.counter) if seen is not None else self._counter

    def get(self) -> Site:
        from sqlalchemy.exc import SQLAlchemyError

        held = self._held
        try:
            counter = self.counter()
            if held is not None and held[0] >= counter:
                return held[1]
            # The counter first, then the row: the row is never older than the version it is kept under.
            loaded_under = _read_counter()
            site = load()
        except SQLAlchemyError:
            # The database is down (the 503 page still needs a name) or not migrated yet: what we had, else the defaults.
            db.session.rollback()
            self._stale = True
            return held[1] if held is not None else snapshot(defaults(self.app.config))
        self._held = (loaded_under, site)
        return site


def _read_counter() -> int:
    from models.content_version import ROW_ID as VERSION_ROW
    from models.content_version import ContentVersion

    return db.session.scalar(select(ContentVersion.counter).where(ContentVersion.id == VERSION_ROW)) or 0


def cache_for(app: Flask) -> SettingsCache:
    cache = app.extensions.get("site_settings")
    if cache is None:
        from models import content_version

        cache = SettingsCache(app, float(app.config.get("PAGE_CACHE_CHECK_SECONDS", 1)))
        app.extensions["site_settings"] = cache
        content_version.after_each_bump(db.engine, cache.invalidate)  # called in the app's context
    return cache


def current() -> Site:
    """The site's settings, for pages, emails, feeds and commands (needs an app context)."""
    return cache_for(current_app._get_current_object()).get()


def startup(app: Flask) -> Site:
    """The settings as a process starts (what is fixed for its lifetime, e.g. the statistics' day);
    the defaults when the database has no such table yet (before `flask db upgrade`)."""
    from sqlalchemy.exc import SQLAlchemyError

    with app.app_context():
        try:
            return load()
        except SQLAlchemyError:
            db.session.rollback()
            return snapshot(defaults(app.config))
