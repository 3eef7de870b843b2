"""Visit statistics without cookies, JavaScript or a third party: counted at the outermost WSGI layer.

Where: `StatsLayer` wraps the page cache (web/page_cache.py), so it sees what a visitor was answered
(200, or 304 from a browser's cache) whether Flask rendered the page or the cache did, and the asset
requests that tell a browser from a script. Nothing is sent to the client: no cookie, no header, no script.

Who: a visitor is blake2b(key = the day's random salt; client network, user agent, site), 128 bits,
so "the same browser today" and nothing else. The client network is extensions.client_network's: an
IPv4 address or an IPv6 /64 (one subscriber), after the trusted proxies (PROXY_COUNT) as ProxyFix reads
them. No address is stored. The salt lives in the database (table stats_salts), one row per day, so
every gunicorn worker and every host behind a load balancer hashes alike (an in-memory salt per process
would count one person once per worker); the first process to need the next day's salt deletes every
older one, and each process's flusher deletes them too within STATS_FLUSH_SECONDS of midnight
(SITE_TIMEZONE), so no salt, and no way to link a hash to a network, outlives its day.

Cost: the request path only classifies the request and appends a tuple to a per-process buffer; a
background thread writes the buffer in one multi-row INSERT every STATS_FLUSH_SECONDS (or sooner when
STATS_BATCH rows wait), and at exit. bench/stats.py measures cached-page throughput with counting on
and off in the same run. STATS_FLUSH_SECONDS=0 writes at once (tests).

Rollup: raw hits are counted into per-day counters and deleted after STATS_KEEP_DAYS by
models.stats.rollup, which each process runs once a day (a few minutes after midnight) and `flask stats
rollup` runs by hand or from cron.

Conversions: record_conversion() (called where an enquiry or a booking is stored, inside its
transaction) stores the day-visitor of the request, so the rollup credits the visit's entry page and
source. A paid invoice is later and from the consultant's side: record_paid_invoice() takes the
attribution of the booking or enquiry it bills (the hook for invoices, when they exist).
"""
from __future__ import annotations

import atexit
import hashlib
import logging
import re
import secrets
import threading
import time
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from urllib.parse import parse_qsl, unquote, urlsplit
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_request_context, request
from flask_login import current_user
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from werkzeug.http import parse_list_header

from extensions import client_network, db
from models import site_settings
from models import stats as model
from models.stats import PATH_LENGTH, TEXT_LENGTH, StatsConversion, StatsSalt
from models.transactions import WRITE

log = logging.getLogger("portico.stats")

SKIP = "portico.stats.skip"  # environ: the app says this request is the consultant's own
# Pages only: the consultant's area, a client's private booking link, certificates, the health check.
NOT_PAGES = ("/admin", "/bookings/", "/certificates/", "/healthz")
# Known crawlers, link previews, monitors, HTTP libraries and headless browsers (an empty agent too).
CRAWLER = re.compile(
    r"^$|bot\b|bot/|crawl|spider|slurp|archiver|facebookexternalhit|embedly|preview|lighthouse|pagespeed|"
    r"pingdom|uptime|monitor|headless|phantomjs|curl|wget|python|httpx|aiohttp|go-http-client|java/|okhttp|"
    r"libwww|scrapy|node-fetch|axios|feedfetcher|validator|scan", re.I)
# Each engine's many country domains, grouped under one name.
SEARCH_ENGINES = tuple((re.compile(pattern), name) for pattern, name in (
    (r"(^|\.)google\.[a-z.]+$", "Google"), (r"(^|\.)bing\.com$", "Bing"), (r"(^|\.)duckduckgo\.com$", "DuckDuckGo"),
    (r"(^|\.)search\.yahoo\.[a-z.]+$", "Yahoo"), (r"(^|\.)yandex\.[a-z.]+$", "Yandex"), (r"(^|\.)baidu\.com$", "Baidu"),
    (r"(^|\.)ecosia\.org$", "Ecosia"), (r"(^|\.)qwant\.com$", "Qwant"), (r"(^|\.)startpage\.com$", "Startpage"),
    (r"(^|\.)search\.brave\.com$", "Brave Search"), (r"(^|\.)kagi\.com$", "Kagi"),
))
SEARCH = "Search: "
UTM = ("utm_source", "utm_medium", "utm_campaign")
MAX_BUFFER = 100_000  # rows kept while the database refuses them; beyond, the oldest are dropped (and logged)
INSERT_SQL = ("INSERT INTO stats_hits (day, at, kind, visitor, path, referrer, came_from, source, browser) "
              "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)")
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
ERROR_LOG_EVERY = 60  # seconds
ROLLUP_AFTER = 300  # seconds after midnight before a process rolls yesterday up: every process has flushed by then


@lru_cache(maxsize=4096)
def is_crawler(agent: str) -> bool:
    """Cached: a site sees few distinct agents, and the pattern is ~30 alternatives tried at every position."""
    return CRAWLER.search(agent) is not None


@lru_cache(maxsize=16384)
def network_of(address: str) -> str:
    """Cached: parsing an address with ipaddress costs more than the rest of counting a view."""
    return client_network(address)


def search_engine(host: str) -> str | None:
    return next((name for pattern, name in SEARCH_ENGINES if pattern.search(host)), None)


def referrer_group(host: str) -> str:
    """A referring host as the page shows it: a search engine's name, else the host without www., in Unicode."""
    host = host.lower().rstrip(".")
    if (engine := search_engine(host)) is not None:
        return SEARCH + engine
    if host.startswith("www."):
        host = host[4:]
    try:
        host = host.encode("ascii").decode("idna")
    except (UnicodeError, ValueError):
        pass
    return host[:TEXT_LENGTH]


def campaign(query: str) -> str:
    """utm_source / utm_medium / utm_campaign of a query string, or ''."""
    if "utm_" not in query:
        return ""
    values = dict(parse_qsl(query))
    return " / ".join(values[k].strip() for k in UTM if values.get(k, "").strip())[:TEXT_LENGTH]


def wsgi_text(value: str) -> str:
    """WSGI hands paths over as latin-1; the bytes were UTF-8."""
    return value.encode("latin-1", "replace").decode("utf-8", "replace")


class Recorder:
    """The per-process buffer of hits, its flusher thread, the day and its salt."""

    def __init__(self, engine, *, zone: str, site: str, proxies: int, flush_seconds: float, batch: int,
                 keep_days: int) -> None:
        self.engine = engine
        self.zone = ZoneInfo(zone)
        self.site = site
        self.proxies = proxies
        self.flush_seconds = flush_seconds
        self.batch = batch
        self.keep_days = keep_days
        self.rows: list[tuple] = []
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.salts: dict[date, bytes] = {}
        self.assets_seen: set[str] = set()  # visitors whose asset fetch is already recorded today
        self._day: date | None = None
        self._day_starts = self._day_ends = 0.0
        self._rolled_up: date | None = None
        self.dropped = 0

    # -- the day and its salt ------------------------------------------------------------------

    def today(self, now: float) -> date:
        if now >= self._day_ends or now < self._day_starts:
            local = datetime.fromtimestamp(now, self.zone).date()
            self._day_starts = datetime.combine(local, datetime.min.time(), self.zone).timestamp()
            self._day_ends = datetime.combine(local + timedelta(days=1), datetime.min.time(), self.zone).timestamp()
            if local != self._day:
                self.salts = {d: s for d, s in self.salts.items() if d >= local}
                self.assets_seen = set()
            self._day = local
        return self._day

    def salt(self, day: date) -> bytes:
        """The day's salt, made by whichever process needs it first; older ones are deleted as it is made."""
        salt = self.salts.get(day)
        if salt is None:
            table = StatsSalt.__table__
            dialect_insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
            with self.engine.connect().execution_options(**WRITE) as conn:
                with conn.begin():
                    conn.execute(delete(table).where(table.c.day < day))
                    conn.execute(dialect_insert(table).values(day=day, salt=secrets.token_hex(32))
                                 .on_conflict_do_nothing(index_elements=["day"]))
                    stored = conn.scalar(select(table.c.salt).where(table.c.day == day))
            salt = self.salts[day] = bytes.fromhex(stored)
        return salt

    def stored_salt(self, session: Session, day: date) -> bytes | None:
        """The day's salt read through `session` (inside a write transaction: no second connection), if made."""
        if (salt := self.salts.get(day)) is not None:
            return salt
        stored = session.scalar(select(StatsSalt.salt).where(StatsSalt.day == day))
        return bytes.fromhex(stored) if stored else None

    # -- who --------------------------------------------------------------------------------------

    def network(self, environ) -> str:
        address = environ.get("REMOTE_ADDR") or "unknown"
        if self.proxies:  # as ProxyFix(x_for=PROXY_COUNT) reads it, for requests the cache answers before it runs
            forwarded = parse_list_header(environ.get("HTTP_X_FORWARDED_FOR", ""))
            if len(forwarded) >= self.proxies:
                address = forwarded[-self.proxies]
        return network_of(address)

    def visitor(self, environ, salt: bytes) -> str:
        text = f"{self.network(environ)}\n{environ.get('HTTP_USER_AGENT', '')}\n{self.site}"
        return hashlib.blake2b(text.encode("utf-8", "replace"), key=salt, digest_size=16).hexdigest()

    # -- the buffer -----------------------------------------------------------------------------

    def add(self, row: tuple) -> None:
        with self.lock:
            self.rows.append(row)
            waiting = len(self.rows)
            if self.thread is None and self.flush_seconds > 0:
                self.thread = threading.Thread(target=self.run, name="stats-flusher", daemon=True)
                self.thread.start()
        if self.flush_seconds <= 0:
            self.flush()
        elif waiting >= self.batch:
            self.wake.set()

    def flush(self) -> int:
        with self.lock:
            rows, self.rows = self.rows, []
        if not rows:
            return 0
        sqlite = self.engine.dialect.name == "sqlite"
        if sqlite:  # as SQLAlchemy stores Date and naive-UTC DateTime on SQLite
            values = [(r[0].isoformat(), datetime.fromtimestamp(r[1], timezone.utc).strftime(SQLITE_DATETIME), *r[2:])
                      for r in rows]
        else:
            values = [(r[0], datetime.fromtimestamp(r[1], timezone.utc), *r[2:]) for r in rows]
        try:
            with self.engine.connect().execution_options(**WRITE) as conn:
                with conn.begin():
                    # The driver's own executemany: SQLAlchemy's per-row bind processing cost more than the insert.
                    conn.exec_driver_sql(INSERT_SQL.replace("%s", "?") if sqlite else INSERT_SQL, values)
        except Exception:  # noqa: BLE001  (the database is away: keep the rows for the next flush)
            log.warning("stats: could not write %d hits; keeping them for the next attempt", len(rows), exc_info=True)
            with self.lock:
                self.rows[:0] = rows
                if len(self.rows) > MAX_BUFFER:
                    self.dropped += len(self.rows) - MAX_BUFFER
                    del self.rows[:len(self.rows) - MAX_BUFFER]
                    log.error("stats: buffer full, %d hits dropped so far", self.dropped)
            return 0
        return len(rows)

    def run(self) -> None:
        while True:
            self.wake.wait(self.flush_seconds)
            self.wake.clear()
            self.flush()
            self.daily()

    def daily(self) -> None:
        """Once a day per process, shortly after midnight: yesterday's salt goes, yesterday is rolled up."""
        now = time.time()
        day = self.today(now)
        if self._rolled_up == day or now - self._day_starts < ROLLUP_AFTER:
            return
        self._rolled_up = day
        try:
            with Session(self.engine) as session:
                if model.rolled_up(session, day - timedelta(days=1)):
                    return  # another process (or cron) did it today; a worker restarted by max_requests need not
            with Session(self.engine) as session:
                session.connection(execution_options=WRITE)  # first: the write lock up front (SQLite)
                model.rollup(session, day, self.keep_days)
                session.commit()
        except Exception:  # noqa: BLE001  (another process rolled up at the same moment; the next run recounts)
            log.info("stats: rollup skipped in this process", exc_info=True)


class StatsLayer:
    """WSGI middleware: classify each GET/HEAD by what it was answered, and hand the hit to the recorder."""

    def __init__(self, wsgi_app, recorder: Recorder, static_prefix: str) -> None:
        self.wsgi_app = wsgi_app
        self.recorder = recorder
        self.static_prefix = static_prefix.rstrip("/") + "/"
        self.last_error = -ERROR_LOG_EVERY

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        if method != "GET" and method != "HEAD":
            return self.wsgi_app(environ, start_response)

        def observe(status, headers, exc_info=None):
            try:
                self.observe(environ, method, status, headers)
            except Exception:  # noqa: BLE001  (counting must never break a page)
                now = time.monotonic()
                if now - self.last_error >= ERROR_LOG_EVERY:  # the database away: one line a minute, not one a view
                    self.last_error = now
                    log.exception("stats: could not count a request")
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.wsgi_app(environ, observe)

    def observe(self, environ, method: str, status: str, headers) -> None:
        code = status[:3]
        if code != "200" and code != "304":
            return
        path = environ.get("PATH_INFO") or "/"
        recorder = self.recorder
        now = time.time()
        if path.startswith(self.static_prefix) or path == "/favicon.ico":
            day = recorder.today(now)
            visitor = recorder.visitor(environ, recorder.salt(day))
            if visitor not in recorder.assets_seen:
                recorder.assets_seen.add(visitor)
                recorder.add((day, now, model.ASSET, visitor, "", "", "", "", False))
            return
        if path.startswith(NOT_PAGES) or "." in path.rpartition("/")[2] or environ.get(SKIP):
            return
        if code == "200" and not any(k.lower() == "content-type" and v.startswith("text/html") for k, v in headers):
            return
        path = wsgi_text(path)[:PATH_LENGTH]
        day = recorder.today(now)
        agent = environ.get("HTTP_USER_AGENT", "")
        purpose = (environ.get("HTTP_SEC_PURPOSE") or environ.get("HTTP_PURPOSE") or environ.get("HTTP_X_MOZ") or "")
        if method == "HEAD":
            kind = model.HEAD
        elif "prefetch" in purpose.lower():
            kind = model.PREFETCH
        elif is_crawler(agent):
            kind = model.CRAWLER
        else:
            kind = model.VIEW
        if kind != model.VIEW:
            recorder.add((day, now, kind, None, path, "", "", "", False))
            return
        referrer = came_from = ""
        if ref := environ.get("HTTP_REFERER"):
            try:
                parts = urlsplit(ref)
                host = (parts.hostname or "").lower()
            except ValueError:
                host = ""
            if host and (host == recorder.site or host == (environ.get("HTTP_HOST") or "").rpartition(":")[0].lower()
                         or host == (environ.get("HTTP_HOST") or "").lower()):
                came_from = unquote(wsgi_text(parts.path))[:PATH_LENGTH]  # as PATH_INFO is: decoded
            elif host:
                referrer = referrer_group(host)
        source = campaign(wsgi_text(environ.get("QUERY_STRING", ""))) or referrer
        browser = bool(environ.get("HTTP_IF_NONE_MATCH") or environ.get("HTTP_IF_MODIFIED_SINCE")
                       or (environ.get("HTTP_SEC_FETCH_MODE") == "navigate"
                           and environ.get("HTTP_SEC_FETCH_DEST") == "document"))
        visitor = recorder.visitor(environ, recorder.salt(day))
        recorder.add((day, now, kind, visitor, path, referrer, came_from, source, browser))


# -- conversions ----------------------------------------------------------------------------------

def record_conversion(kind: str, ref: str) -> None:
    """An enquiry or booking was stored in this request's transaction: remember today's visitor for attribution.

    Outside a web request (the CLI, tests of operations) or with statistics off, nothing is recorded.
    """
    if not has_request_context():
        return
    recorder: Recorder | None = current_app.extensions.get("stats")
    if recorder is None:
        return
    now = time.time()
    day = recorder.today(now)
    salt = recorder.stored_salt(db.session, day)  # none yet today: no page was counted today, nothing to credit
    visitor = recorder.visitor(request.environ, salt) if salt else None
    db.session.add(StatsConversion(day=day, at=datetime.fromtimestamp(now, timezone.utc), kind=kind, ref=ref,
                                   page=request.path[:PATH_LENGTH], visitor=visitor,
                                   entry_path=None if visitor else model.UNKNOWN,
                                   source=None if visitor else model.UNKNOWN))


def record_paid_invoice(invoice_ref: str, billed_ref: str) -> StatsConversion | None:
    """The hook for invoices: call it (inside the transaction that marks the invoice paid) with the invoice's
    ref ("invoice:7") and the ref of the booking or enquiry it bills ("booking:12"); the payment is credited to
    that conversion's entry page and source."""
    recorder: Recorder | None = current_app.extensions.get("stats")
    if recorder is None:
        return None
    origin = db.session.scalar(select(StatsConversion).where(StatsConversion.ref == billed_ref,
                                                             StatsConversion.kind != model.INVOICE)
                               .order_by(StatsConversion.id).limit(1))
    now = time.time()
    paid = StatsConversion(day=recorder.today(now), at=datetime.fromtimestamp(now, timezone.utc), kind=model.INVOICE,
                           ref=invoice_ref, page=origin.page if origin else "",
                           entry_path=origin.entry_path if origin else model.UNKNOWN,
                           source=origin.source if origin else model.UNKNOWN)
    if origin is not None and origin.visitor is not None:
        # Not attributed yet (paid the same day): attributed with it, on its day's visit.
        paid.day, paid.visitor, paid.entry_path, paid.source = origin.day, origin.visitor, None, None
    db.session.add(paid)
    return paid


# -- setup ----------------------------------------------------------------------------------------

def mark_own_requests(response):
    """The consultant browsing the site while signed in is not a visitor."""
    if request.cookies and current_user.is_authenticated:
        request.environ[SKIP] = True
    return response


def init_app(app: Flask) -> Recorder | None:
    """Wrap the app outermost (after the page cache), unless STATS_ENABLED is off."""
    if not app.config.get("STATS_ENABLED"):
        return None
    with app.app_context():
        engine = db.engine
    # The day boundaries are fixed for the process's lifetime: a zone changed at /admin/settings counts from a restart.
    recorder = Recorder(engine, zone=site_settings.startup(app).timezone, site=app.config["SITE_HOST"],
                        proxies=int(app.config.get("PROXY_COUNT") or 0),
                        flush_seconds=float(app.config["STATS_FLUSH_SECONDS"]), batch=int(app.config["STATS_BATCH"]),
                        keep_days=int(app.config["STATS_KEEP_DAYS"]))
    app.wsgi_app = StatsLayer(app.wsgi_app, recorder, app.static_url_path or "/static")
    app.extensions["stats"] = recorder
    app.after_request(mark_own_requests)
    atexit.register(recorder.flush)
    return recorder
