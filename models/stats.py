"""Visit statistics: raw hits for a few days, counters per day for ever, conversions with their attribution.

What a day's numbers mean is decided here, once, by `aggregate`: the rollup (`flask stats rollup`, and
each web process once a day) stores its result as counters; the statistics page applies it to the raw
hits of days not rolled up yet (today). A visitor is a keyed hash of (the day's salt, client network,
user agent, site) made by web/stats.py: it means "the same browser on the same day" and nothing once
the day's salt is deleted, which happens the first time any process notices the day is over.

Bots: a hit of kind crawler/prefetch/head is filtered when it is recorded; a visitor whose views came
with no sign of a browser (no asset fetched, no revalidation from a browser cache, no fetch metadata of a
navigation) is filtered here, as "no assets". Each reason is counted and shown.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from extensions import db
from models.base import UTCDateTime, utcnow

VIEW, ASSET = "view", "asset"
CRAWLER, PREFETCH, HEAD, NO_ASSETS = "crawler", "prefetch", "head", "no-assets"
FILTERED_AT_RECORD = (CRAWLER, PREFETCH, HEAD)
FILTER_REASONS = {CRAWLER: "Known crawler or script user agent", PREFETCH: "Prefetch (not shown to anyone yet)",
                  HEAD: "HEAD request (no page shown)", NO_ASSETS: "Never fetched the stylesheet or behaved like a browser"}
ENQUIRY, BOOKING, INVOICE = "enquiry", "booking", "invoice"
CONVERSION_KINDS = (ENQUIRY, BOOKING, INVOICE)
DIRECT, UNKNOWN = "(direct)", "(unknown)"
# Counter dimensions: one table, one row per (day, dimension, key, target).
SITE, PAGE, ENTRY, SOURCE, REFERRER, CLICK, FILTERED = "site", "page", "entry", "source", "referrer", "click", "filtered"
ARTICLE_PREFIX, COURSE_PREFIX = "/blog/", "/training/"
NOT_ARTICLES = ("/blog/tag/",)
PATH_LENGTH = 300
TEXT_LENGTH = 200


class StatsSalt(db.Model):
    """The day's random key of the visitor hash; deleted once the day is over, so yesterday's hashes link to no one."""

    __tablename__ = "stats_salts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    salt: Mapped[str] = mapped_column(String(64))


class StatsHit(db.Model):
    """One counted request (a page view, a filtered one, or a visitor's first asset fetch); kept a few days."""

    __tablename__ = "stats_hits"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))
    visitor: Mapped[str | None] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(PATH_LENGTH), default="")
    referrer: Mapped[str] = mapped_column(String(TEXT_LENGTH), default="")  # another site's host (grouped)
    came_from: Mapped[str] = mapped_column(String(PATH_LENGTH), default="")  # this site's page linking here
    source: Mapped[str] = mapped_column(String(TEXT_LENGTH), default="")  # utm_* campaign, else the referrer
    browser: Mapped[bool] = mapped_column(Boolean, default=False)  # revalidated, or a browser's navigation


class StatsCounter(db.Model):
    """A day's count for one dimension (site, page, entry, source, referrer, click, filtered) and key."""

    __tablename__ = "stats_counters"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dim: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(PATH_LENGTH), primary_key=True)
    target: Mapped[str] = mapped_column(String(PATH_LENGTH), primary_key=True, default="")
    views: Mapped[int] = mapped_column(Integer, default=0)
    visitors: Mapped[int] = mapped_column(Integer, default=0)


class StatsConversion(db.Model):
    """An enquiry, booking or paid invoice, attributed to the entry page and source of that day's visit.

    `visitor` is kept only until the rollup has found the visit (then None); `ref` ("booking:12") lets a
    later conversion (a paid invoice) take the attribution of the one it came from.
    """

    __tablename__ = "stats_conversions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(64), default="", index=True)
    page: Mapped[str] = mapped_column(String(PATH_LENGTH), default="")
    visitor: Mapped[str | None] = mapped_column(String(32))
    entry_path: Mapped[str | None] = mapped_column(String(PATH_LENGTH))
    source: Mapped[str | None] = mapped_column(String(TEXT_LENGTH))

    @property
    def attributed(self) -> bool:
        return self.visitor is None and self.entry_path is not None


def is_article(path: str) -> bool:
    return path.startswith(ARTICLE_PREFIX) and len(path) > len(ARTICLE_PREFIX) and not path.startswith(NOT_ARTICLES)


def is_course(path: str) -> bool:
    """A course page, or a session's booking page (both are "a click to a course" from an article)."""
    return path.startswith(COURSE_PREFIX) and len(path) > len(COURSE_PREFIX)


# -- what a day's hits mean ----------------------------------------------------------------------

@dataclass
class DayCounts:
    """`aggregate`'s result: counters keyed (dim, key, target) -> [views, visitors], and each visit's entry."""

    counters: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)
    entries: dict[str, tuple[str, str]] = field(default_factory=dict)  # visitor -> (entry path, source)


def aggregate(hits) -> DayCounts:
    """Count one day's hits (in the order they happened)."""
    views_of: dict[str, list] = defaultdict(list)
    browsers: set[str] = set()
    filtered: Counter = Counter()
    for hit in hits:
        if hit.kind in FILTERED_AT_RECORD:
            filtered[hit.kind] += 1
        elif hit.kind == ASSET and hit.visitor:
            browsers.add(hit.visitor)
        elif hit.kind == VIEW and hit.visitor:
            views_of[hit.visitor].append(hit)
            if hit.browser:
                browsers.add(hit.visitor)
    result = DayCounts()
    counters = result.counters
    sets: dict[tuple[str, str, str], set] = defaultdict(set)

    def add(dim: str, key: str, visitor: str, target: str = "", views: int = 1) -> None:
        counters.setdefault((dim, key, target), [0, 0])[0] += views
        sets[(dim, key, target)].add(visitor)

    for visitor, views in views_of.items():
        first = views[0]
        result.entries[visitor] = (first.path, first.source or DIRECT)
        if visitor not in browsers:
            add(FILTERED, NO_ASSETS, visitor, views=len(views))
            continue
        add(SITE, "", visitor, views=len(views))
        add(ENTRY, first.path, visitor, views=len(views))
        add(SOURCE, first.source or DIRECT, visitor, views=len(views))
        for view in views:
            add(PAGE, view.path, visitor)
            if view.referrer:
                add(REFERRER, view.referrer, visitor)
            if is_article(view.came_from) and is_course(view.path):
                add(CLICK, view.came_from, visitor, target=view.path)
    for key, visitors in sets.items():
        counters[key][1] = len(visitors)
    for reason, count in filtered.items():
        counters[(FILTERED, reason, "")] = [count, 0]
    return result


def day_hits(session: Session, day: date):
    return session.scalars(select(StatsHit).where(StatsHit.day == day).order_by(StatsHit.at, StatsHit.id)).all()


def attribute(conversion: StatsConversion, entries: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """The (entry page, source) a conversion is credited to."""
    if conversion.visitor is None:
        return conversion.entry_path or UNKNOWN, conversion.source or UNKNOWN
    return entries.get(conversion.visitor, (UNKNOWN, UNKNOWN))


def rollup(session: Session, today: date, keep_days: int) -> dict[str, int]:
    """Store the counters of every finished day that still has raw hits, attribute its conversions, forget
    old raw hits and past salts. Idempotent: a day is counted again from its hits each time (late flushes count)."""
    days = session.scalars(select(StatsHit.day).where(StatsHit.day < today).distinct().order_by(StatsHit.day)).all()
    pending = session.scalars(select(StatsConversion.day).where(StatsConversion.day < today,
                                                                StatsConversion.visitor.is_not(None)).distinct()).all()
    for day in sorted(set(days) | set(pending)):
        counts = aggregate(day_hits(session, day))
        if day in days:
            session.execute(delete(StatsCounter).where(StatsCounter.day == day))
            session.add_all(StatsCounter(day=day, dim=dim, key=key, target=target, views=v, visitors=u)
                            for (dim, key, target), (v, u) in counts.counters.items())
        for conversion in session.scalars(select(StatsConversion).where(StatsConversion.day == day,
                                                                        StatsConversion.visitor.is_not(None))):
            conversion.entry_path, conversion.source = attribute(conversion, counts.entries)
            conversion.visitor = None
    cutoff = date.fromordinal(today.toordinal() - keep_days)
    deleted = session.execute(delete(StatsHit).where(StatsHit.day < cutoff)).rowcount
    salts = session.execute(delete(StatsSalt).where(StatsSalt.day < today)).rowcount
    return {"days": len(days), "hits_deleted": deleted or 0, "salts_deleted": salts or 0}


def rolled_up(session: Session, day: date) -> bool:
    """`day` has its counters already (late hits wait for the next `flask stats rollup`)."""
    return session.scalar(select(StatsCounter.day).where(StatsCounter.day == day, StatsCounter.dim == SITE)) is not None


def counted_days(session: Session, start: date, end: date) -> set[date]:
    return set(session.scalars(select(StatsCounter.day).where(StatsCounter.day.between(start, end),
                                                              StatsCounter.dim == SITE).distinct()))


def period_counters(session: Session, start: date, end: date, today: date):
    """Every counter of the days start..end: stored ones, and today's (and any day not rolled up) from raw hits.

    Returns (rows of (day, dim, key, target, views, visitors), visit entries per day for live days).
    """
    rows = [(c.day, c.dim, c.key, c.target, c.views, c.visitors) for c in session.scalars(
        select(StatsCounter).where(StatsCounter.day.between(start, end)))]
    stored = {row[0] for row in rows}
    raw_days = session.scalars(select(StatsHit.day).where(StatsHit.day.between(start, end)).distinct()).all()
    entries: dict[date, dict] = {}
    for day in raw_days:
        if day in stored and day != today:
            continue
        if day in stored:
            rows = [row for row in rows if row[0] != day]
        counts = aggregate(day_hits(session, day))
        entries[day] = counts.entries
        rows += [(day, dim, key, target, v, u) for (dim, key, target), (v, u) in counts.counters.items()]
    return rows, entries


def period_conversions(session: Session, start: date, end: date, entries: dict[date, dict]):
    """(kind, entry page, source, page) of each conversion in the period, attributed live where not rolled up yet."""
    out = []
    for conversion in session.scalars(select(StatsConversion).where(StatsConversion.day.between(start, end))
                                      .order_by(StatsConversion.at)):
        day_entries = entries.get(conversion.day)
        if conversion.visitor is not None and day_entries is None:
            day_entries = entries[conversion.day] = aggregate(day_hits(session, conversion.day)).entries
        entry, source = attribute(conversion, day_entries or {})
        out.append((conversion.day, conversion.kind, entry, source, conversion.page))
    return out


def oldest_hit_day(session: Session) -> date | None:
    return session.scalar(select(func.min(StatsHit.day)))


# -- a period, as the statistics page shows it ----------------------------------------------------

@dataclass
class Report:
    start: date
    end: date
    daily: list[tuple[date, int, int]]  # (day, views, visitors)
    pages: list[dict]  # path, views, visitors, entries, and a count per conversion kind (credited to the entry page)
    sources: list[dict]  # source, visits, views, and conversions credited to it
    referrers: list[tuple[str, int, int]]  # (referrer, views, visitors)
    articles: list[dict]  # path, views, clicks, courses [(course path, clicks)]
    filtered: list[tuple[str, str, int]]  # (reason, words, requests)
    conversions: list[tuple]  # (day, kind, entry page, source, page)

    @property
    def views(self) -> int:
        return sum(v for _d, v, _u in self.daily)

    @property
    def visitors(self) -> int:
        """Visitors summed over the days: one person on two days counts twice (no identifier outlives a day)."""
        return sum(u for _d, _v, u in self.daily)

    @property
    def filtered_total(self) -> int:
        return sum(n for _r, _w, n in self.filtered)

    def conversion_total(self, kind: str) -> int:
        return sum(1 for c in self.conversions if c[1] == kind)


def report(session: Session, start: date, end: date, today: date) -> Report:
    rows, entries = period_counters(session, start, end, today)
    conversions = period_conversions(session, start, end, entries)
    by_day: dict[date, list[int]] = {date.fromordinal(n): [0, 0] for n in range(start.toordinal(), end.toordinal() + 1)}
    sums: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for day, dim, key, target, views, visitors in rows:
        if dim == SITE:
            by_day[day] = [views, visitors]
        else:
            total = sums[(dim, key, target)]
            total[0] += views
            total[1] += visitors
    by_entry: dict[str, Counter] = defaultdict(Counter)
    by_source: dict[str, Counter] = defaultdict(Counter)
    for _day, kind, entry, source, _page in conversions:
        by_entry[entry][kind] += 1
        by_source[source][kind] += 1

    def of(dim: str) -> dict[tuple[str, str], list[int]]:
        return {(k, t): v for (d, k, t), v in sums.items() if d == dim}

    pages_seen, entry_counts = of(PAGE), of(ENTRY)
    paths = {k for k, _t in pages_seen} | {k for k, _t in entry_counts} | set(by_entry)
    pages = [{"path": p, "views": pages_seen.get((p, ""), [0, 0])[0], "visitors": pages_seen.get((p, ""), [0, 0])[1],
              "entries": entry_counts.get((p, ""), [0, 0])[1], **{k: by_entry[p][k] for k in CONVERSION_KINDS}}
             for p in paths]
    pages.sort(key=lambda p: (-p["views"], -sum(p[k] for k in CONVERSION_KINDS), p["path"]))
    source_counts = of(SOURCE)
    names = {k for k, _t in source_counts} | set(by_source)
    sources = [{"source": s, "visits": source_counts.get((s, ""), [0, 0])[1], "views": source_counts.get((s, ""), [0, 0])[0],
                **{k: by_source[s][k] for k in CONVERSION_KINDS}} for s in names]
    sources.sort(key=lambda s: (-s["visits"], s["source"]))
    referrers = sorted(((k, v, u) for (k, _t), (v, u) in of(REFERRER).items()), key=lambda r: (-r[2], -r[1], r[0]))
    clicks: dict[str, list] = defaultdict(list)
    for (article, course), (views, _u) in of(CLICK).items():
        clicks[article].append((course, views))
    articles = [{"path": p["path"], "views": p["views"], "clicks": sum(n for _c, n in clicks.get(p["path"], [])),
                 "courses": sorted(clicks.get(p["path"], []), key=lambda c: (-c[1], c[0]))}
                for p in pages if is_article(p["path"])]
    filtered = [(reason, words, sums[(FILTERED, reason, "")][0]) for reason, words in FILTER_REASONS.items()]
    return Report(start, end, [(d, v, u) for d, (v, u) in sorted(by_day.items())], pages, sources, referrers,
                  articles, filtered, conversions)
