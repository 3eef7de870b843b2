"""1,000 page views from 50 visitors (and some bots) against gunicorn as `make serve` runs it, page cache on.

Two workers, each counting in its own buffer; the visitors' addresses come through X-Forwarded-For (one
trusted proxy, PROXY_COUNT=1), half IPv4, half IPv6 (one visitor moves inside its /64). Hits are flushed
only in batches and when a worker exits (STATS_FLUSH_SECONDS is long here), so stopping gunicorn is also
the test that nothing buffered is lost. Then the statistics page, read as the consultant, must show the
50 visitors, each page's count, the bots apart, and the enquiries and bookings on their entry pages.
"""
from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import func, select

from cli.seeding import seed_all
from extensions import db
from models import Booking, Enquiry, StatsHit
from models import stats as model
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow

VISITORS, VIEWS_EACH = 50, 20
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
]
CRAWLERS = ["Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "curl/8.5.0",
            "python-requests/2.32.3"]
SITE_TIMEZONE = "Europe/Berlin"


@pytest.fixture
def app_config():
    return {"SITE_TIMEZONE": SITE_TIMEZONE}


@pytest.fixture
def served(app, database_url, tmp_path):
    seed_all(demo=True)
    db.session.commit()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "GUNICORN_", "WEB_CONCURRENCY", "STATS_"))},
        "APP_ENV": "production", "SECRET_KEY": "stats-live-" + "s" * 48, "PORT": str(port),
        "DATABASE_URL": database_url, "SITE_URL": f"http://127.0.0.1:{port}", "SITE_TIMEZONE": SITE_TIMEZONE,
        "OUTBOX_THREAD": "0", "STATIC_BUILD_DIR": str(tmp_path / "static-build"), "PROXY_COUNT": "1",
        "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "8", "SPAM_MIN_SECONDS": "0",
        "STATS_FLUSH_SECONDS": "3600", "STATS_BATCH": "200",  # batches and the exit flush only
    }
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "app:create_app()"],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log_path.read_text()[-3000:]
        try:
            requests.get(base + "/healthz", timeout=2)
            break
        except requests.RequestException:  # not listening yet, or busy starting
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)

    def stop():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # graceful: each worker flushes what it still holds
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    yield base, stop, log_path
    stop()


def address(n: int, move: int = 0) -> str:
    return f"198.51.{100 + n // 200}.{n % 200 + 1}" if n % 2 else f"2001:db8:{n:x}::{move + 1:x}"


def hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="{name}"', page).group(1)


def test_a_thousand_views_from_fifty_visitors_and_some_bots(served, admin_client, app):
    base, stop, log_path = served
    home = requests.get(base + "/").text
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', home).group(1)
    services = sorted(set(re.findall(r'href="(/services/[a-z0-9-]+)"', requests.get(base + "/services").text)))
    courses = sorted(set(re.findall(r'href="(/training/(?!sessions|calendar)[a-z0-9-]+)"', requests.get(base + "/training").text)))
    article = "/blog/virtualization-and-containerization"
    booking_page = re.search(r'href="(/training/sessions/\d+/book)"', requests.get(base + courses[0]).text).group(1)
    tour = ["/", "/services", *services[:3], "/blog", article, courses[0], "/training", *courses[1:3], "/privacy"]

    sent: Counter = Counter()  # path -> views the statistics must show
    entries: dict[int, tuple[str, str]] = {}
    status_seen: Counter = Counter()

    def browse(n: int) -> None:
        agent = AGENTS[n % len(AGENTS)]
        browser = requests.Session()
        cached_css = n % 5 == 4  # a returning browser: the stylesheet is in its cache; its navigations tell
        etags: dict[str, str] = {}
        views = [tour[(n + j) % len(tour)] for j in range(VIEWS_EACH)]
        views[1] = views[0]  # a reload: revalidated, answered 304
        if n < 3:
            views[-1] = "/contact"
        elif n < 5:
            views[-1] = booking_page
        first_headers = {}
        source = model.DIRECT
        if n % 4 == 1:
            first_headers["Referer"], source = "https://www.google.de/", "Search: Google"
        elif n % 4 == 2:
            first_headers["Referer"], source = "https://news.ycombinator.com/item?id=1", "news.ycombinator.com"
        entries[n] = (views[0], source)
        previous = None
        for j, path in enumerate(views):
            headers = {"User-Agent": agent, "X-Forwarded-For": f"10.0.0.1, {address(n, move=j % 2 if n == 48 else 0)}"}
            if cached_css:
                headers |= {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
            url = base + path
            if j == 0:
                headers |= first_headers
                if n % 4 == 3:
                    url += "?utm_source=newsletter&utm_medium=email"
                    entries[n] = (path, "newsletter / email")
            elif previous == article:
                headers["Referer"] = base + article
            if path in etags and j == 1:
                headers["If-None-Match"] = etags[path]
            response = browser.get(url, headers=headers, allow_redirects=False)
            status_seen[response.status_code] += 1
            assert response.status_code in (200, 304), (path, response.status_code)
            if "ETag" in response.headers:
                etags[path] = response.headers["ETag"]
            sent[path] += 1
            if j == 0 and not cached_css:
                assert browser.get(base + stylesheet, headers=headers).status_code == 200
            if j == 5 and n < 15:  # prefetched and HEAD-checked pages are not views
                browser.get(base + path, headers={**headers, "Sec-Purpose": "prefetch"})
                browser.head(base + path, headers=headers)
            previous = path
        # The only cookie is the forms' CSRF session (set by a page with a form): counting adds none.
        assert set(browser.cookies.keys()) <= {"session"}, browser.cookies.keys()
        if n < 3:
            page = response.text
            form = {"name": f"Zoë Ñúñez {n}", "email": f"zoe{n}@example.com", "topic": "other", "consent": "y",
                    "message": "Wir brauchen Hilfe bei der Migration unseres Clusters.", "website": "",
                    "csrf_token": hidden(page, "csrf_token"), "form_token": hidden(page, "form_token")}
            posted = browser.post(base + "/contact", data=form, headers=headers, allow_redirects=False)
            assert posted.status_code == 303, posted.text[:500]
        elif n < 5:
            page = response.text
            form = {"name": f"Ünal Þórsdóttir {n}", "email": f"unal{n}@example.com", "seats": "1", "consent": "y",
                    "action": "book", "website": "", "csrf_token": hidden(page, "csrf_token"),
                    "form_token": hidden(page, "form_token")}
            posted = browser.post(base + booking_page, data=form, headers=headers, allow_redirects=False)
            assert posted.status_code == 303, posted.text[:500]

    def crawl(n: int) -> None:
        """Bots: known crawlers, and scrapers posing as Chrome that never fetch the stylesheet."""
        agent = CRAWLERS[n] if n < len(CRAWLERS) else AGENTS[0]
        for j in range(10):
            requests.get(base + tour[j], headers={"User-Agent": agent, "X-Forwarded-For": f"10.0.0.1, 192.0.2.{n + 1}"})

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(browse, range(VISITORS)))
        list(pool.map(crawl, range(len(CRAWLERS) + 3)))
    elapsed = time.monotonic() - started
    assert sum(sent.values()) == VISITORS * VIEWS_EACH == 1000
    assert status_seen[304] > 0, "some views were answered 304"
    stop()
    log = log_path.read_text()
    assert "Traceback" not in log, log[-3000:]

    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(StatsHit).where(StatsHit.kind == model.VIEW)) == 1000 + 30
    today = datetime.now(ZoneInfo(SITE_TIMEZONE)).date()
    rep = model.report(db.session, today - timedelta(days=6), today, today)
    assert (rep.views, rep.visitors) == (1000, VISITORS), f"{elapsed:.1f} s of traffic"
    assert {p["path"]: p["views"] for p in rep.pages if p["views"]} == dict(sent)
    # 40 crawler views, and the test's own 4 look-ups above (python-requests is a script's user agent).
    assert {r: n for r, _w, n in rep.filtered} == {"crawler": 44, "no-assets": 30, "prefetch": 15, "head": 15}
    expected_entries = Counter(path for path, _s in entries.values())
    assert {p["path"]: p["entries"] for p in rep.pages if p["entries"]} == dict(expected_entries)
    # Conversions on the entry page and source of the visit they came from.
    credited = Counter()
    for n in range(5):
        credited[(entries[n][0], model.ENQUIRY if n < 3 else model.BOOKING)] += 1
    assert Counter((c[2], c[1]) for c in rep.conversions) == credited
    assert {c[3] for c in rep.conversions} == {entries[n][1] for n in range(5)}
    assert db.session.scalar(select(func.count()).select_from(Enquiry)) == 3
    assert db.session.scalar(select(func.count()).select_from(Booking).where(Booking.email.like("unal%"))) == 2

    page = admin_client.get("/admin/stats?days=7").get_data(as_text=True)
    assert '<span class="stat-number">1,000</span> page views' in page
    assert f'<span class="stat-number">{VISITORS}</span> visitors' in page
    assert '<span class="stat-number">3</span> enquiries' in page and '<span class="stat-number">2</span> bookings' in page
    assert '<span class="stat-number">104</span> bot requests left out' in page
    rows = list(csv.reader(io.StringIO(admin_client.get("/admin/stats.csv?days=7").get_data(as_text=True).lstrip("\ufeff"))))
    assert {r[2]: int(r[4]) for r in rows if r[1] == "Page" and r[4] != "0"} == dict(sent)
