"""Visit statistics: what counts as a view and a visitor, bots, sources, conversions, rollup, the admin page."""
from __future__ import annotations

import csv
import io
import time
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import delete, func, select, text, update

from extensions import db
from models import AuditLog, Enquiry, StatsConversion, StatsCounter, StatsHit, StatsSalt
from models import stats as model
from models.transactions import begin_write
from tests.factories import make_course, make_post, make_service, make_session
from web.spam import issue_form_token

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
def app_config():
    return {"STATS_ENABLED": True, "STATS_FLUSH_SECONDS": 0, "PAGE_CACHE_SECONDS": 60, "SITE_TIMEZONE": "Europe/Berlin"}


@pytest.fixture
def pages(app):
    service = make_service(slug="public-cloud", title="Public Cloud")
    post = make_post(slug="virtualisation-für-alle", title="Virtualisierung für alle")
    course = make_course(slug="docker", title="Docker")
    session = make_session(course=course)
    return {"service": f"/services/{service.slug}", "article": f"/blog/{post.slug}", "course": f"/training/{course.slug}",
            "book": f"/training/sessions/{session.id}/book", "session": session}


def visit(client, path, address="203.0.113.7", agent=CHROME, asset=True, **headers):
    """What a browser does: the page, then (the first time) its stylesheet."""
    response = client.get(path, headers={"User-Agent": agent, **headers}, environ_base={"REMOTE_ADDR": address})
    if asset:
        client.get("/favicon.ico", headers={"User-Agent": agent}, environ_base={"REMOTE_ADDR": address}).close()
    return response


def today(app) -> date:
    return app.extensions["stats"].today(time.time())


def report(app, days=1):
    db.session.rollback()
    day = today(app)
    return model.report(db.session, day - timedelta(days=days - 1), day, day)


def page_row(rep, path):
    return next(p for p in rep.pages if p["path"] == path)


def filtered(rep):
    return {reason: n for reason, _w, n in rep.filtered}


# --- views and visitors ---------------------------------------------------------------------------

def test_cached_hits_and_304s_are_views_of_one_visitor(app, client, pages):
    first = visit(client, pages["service"])
    assert first.status_code == 200
    again = visit(client, pages["service"], asset=False)
    assert again.status_code == 200
    assert app.extensions["page_cache"].entries, "the second view came from the page cache"
    revalidated = visit(client, pages["service"], asset=False, **{"If-None-Match": first.headers["ETag"]})
    assert revalidated.status_code == 304
    rep = report(app)
    assert page_row(rep, pages["service"])["views"] == 3
    assert rep.daily[-1][1:] == (3, 1)
    for response in (first, again, revalidated):
        assert "Set-Cookie" not in response.headers


def test_no_address_is_stored_and_the_hash_changes_with_network_agent_and_day(app, client, pages):
    visit(client, pages["service"], address="198.51.100.23")
    visit(client, pages["service"], address="198.51.100.23", agent=FIREFOX)
    visit(client, pages["service"], address="198.51.100.24")
    db.session.rollback()
    with db.engine.connect() as conn:
        for table in ("stats_hits", "stats_counters", "stats_conversions", "stats_salts"):
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                assert "198.51.100" not in " ".join(map(str, row))
    assert db.session.scalar(select(func.count(func.distinct(StatsHit.visitor))).where(StatsHit.kind == "view")) == 3
    # Another day, another salt: the same browser gets a code that cannot be linked to yesterday's.
    recorder = app.extensions["stats"]
    environ = {"REMOTE_ADDR": "198.51.100.23", "HTTP_USER_AGENT": CHROME}
    day = today(app)
    assert recorder.visitor(environ, recorder.salt(day)) != recorder.visitor(environ, recorder.salt(day + timedelta(1)))
    db.session.rollback()
    assert db.session.scalars(select(StatsSalt.day)).all() == [day + timedelta(1)], "the older salt is gone"


def test_an_ipv6_client_is_its_64(app, client, pages):
    visit(client, pages["service"], address="2001:db8:1:2::10")
    visit(client, pages["article"], address="2001:db8:1:2:ffff::99")  # same /64, same browser
    visit(client, pages["article"], address="2001:db8:1:3::10")  # the next /64
    assert report(app).daily[-1][1:] == (3, 2)


def test_behind_a_proxy_the_forwarded_address_counts_for_cached_pages_too(app, pages):
    app.config["PROXY_COUNT"] = 1
    from web.stats import Recorder

    recorder: Recorder = app.extensions["stats"]
    recorder.proxies = 1
    client = app.test_client()
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.2"):
        forwarded = {"User-Agent": CHROME, "X-Forwarded-For": f"10.9.9.9, {address}"}
        client.get(pages["service"], headers=forwarded)
        client.get("/favicon.ico", headers=forwarded).close()
    assert report(app).daily[-1][1:] == (3, 2)


def test_only_public_pages_count(app, client, pages, admin_client):
    for path in ("/robots.txt", "/sitemap.xml", "/feed.xml", "/healthz", "/nowhere", "/training/calendar.ics"):
        visit(client, path).close()
    admin_client.get(pages["service"], headers={"User-Agent": CHROME})  # the consultant, signed in
    visit(client, "/admin/login")
    rep = report(app)
    assert rep.views == 0 and rep.pages == []


# --- bots ---------------------------------------------------------------------------------------

def test_bots_prefetches_heads_and_asset_less_clients_are_counted_apart(app, client, pages):
    visit(client, pages["service"], address="203.0.113.1")  # a person
    visit(client, pages["service"], address="66.249.66.1", agent=GOOGLEBOT, asset=False)
    visit(client, pages["article"], address="192.0.2.50", agent="curl/8.5.0", asset=False)
    visit(client, pages["service"], address="192.0.2.51", agent="", asset=False)
    client.head(pages["service"], headers={"User-Agent": CHROME}, environ_base={"REMOTE_ADDR": "203.0.113.1"})
    visit(client, pages["article"], address="203.0.113.1", asset=False, **{"Sec-Purpose": "prefetch;prerender"})
    visit(client, pages["article"], address="203.0.113.2", asset=False, Purpose="prefetch")
    for path in (pages["service"], pages["article"], pages["course"]):  # a scraper posing as Chrome, no stylesheet
        visit(client, path, address="192.0.2.99", asset=False)
    rep = report(app)
    assert rep.daily[-1][1:] == (1, 1)
    assert filtered(rep) == {"crawler": 3, "prefetch": 2, "head": 1, "no-assets": 3}


def test_a_browser_with_its_stylesheet_cached_still_counts(app, client, pages):
    """Returning the next day, the stylesheet comes from the browser's cache: its navigation headers tell."""
    visit(client, pages["article"], asset=False, **{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"})
    assert report(app).daily[-1][1:] == (1, 1)


# --- sources ------------------------------------------------------------------------------------

def test_campaigns_are_a_source_and_never_part_of_the_stored_path(app, client, pages):
    visit(client, pages["service"] + "?utm_source=newsletter&utm_medium=email&utm_campaign=frühling", address="203.0.113.3")
    visit(client, pages["service"], address="203.0.113.4", Referer="https://www.google.de/")
    visit(client, pages["article"], address="203.0.113.5", Referer="https://google.com/search?q=x")
    visit(client, pages["article"], address="203.0.113.6", Referer="https://xn--bcher-kva.example/liste")
    visit(client, pages["article"], address="203.0.113.7")
    db.session.rollback()
    assert all("utm" not in p for p in db.session.scalars(select(StatsHit.path)))
    rep = report(app)
    sources = {s["source"]: s["visits"] for s in rep.sources}
    assert sources == {"newsletter / email / frühling": 1, "Search: Google": 2, "bücher.example": 1, "(direct)": 1}
    assert {r[0]: r[2] for r in rep.referrers} == {"Search: Google": 2, "bücher.example": 1}
    assert page_row(rep, pages["service"])["entries"] == 2


def test_clicks_from_an_article_to_a_course(app, client, pages):
    for n in range(4):
        visit(client, pages["article"], address=f"203.0.113.{n}")
    for n in range(3):
        # A browser sends the article's address percent-encoded (its slug has a "ü").
        referer = "http://localhost" + quote(pages["article"])
        visit(client, pages["course"], address=f"203.0.113.{n}", asset=False, Referer=referer)
    rep = report(app)
    article = next(a for a in rep.articles if a["path"] == pages["article"])
    assert (article["views"], article["clicks"], article["courses"]) == (4, 3, [(pages["course"], 3)])


# --- conversions --------------------------------------------------------------------------------

def contact_form(**overrides):
    return {"name": "Zoë Ñúñez", "email": "zoe@example.com", "topic": "other", "consent": "y", "website": "",
            "message": "Wir brauchen Hilfe bei der Migration unseres Clusters.",
            "form_token": issue_form_token("contact", now=time.time() - 10), **overrides}


def test_an_enquiry_and_a_booking_are_credited_to_the_visits_entry_page_and_source(app, client, pages):
    person = {"address": "203.0.113.20", "agent": FIREFOX}
    visit(client, pages["service"], Referer="https://www.bing.com/", **person)
    visit(client, "/contact", asset=False, **person)
    post = client.post("/contact", data=contact_form(), headers={"User-Agent": FIREFOX},
                       environ_base={"REMOTE_ADDR": "203.0.113.20"})
    assert post.status_code == 303
    other = {"address": "2001:db8:77::1", "agent": CHROME}
    visit(client, pages["article"] + "?utm_source=mastodon", **other)
    visit(client, pages["book"], asset=False, **other)
    booked = client.post(pages["book"], headers={"User-Agent": CHROME}, environ_base={"REMOTE_ADDR": "2001:db8:77::2"},
                         data={"name": "Ünal Þórsdóttir", "email": "unal@例え.jp", "seats": "1", "consent": "y",
                               "action": "book", "website": "", "form_token": issue_form_token("booking")})
    assert booked.status_code == 303
    # A trapped submission is no conversion.
    client.post("/contact", data=contact_form(website="http://spam.example"), headers={"User-Agent": FIREFOX},
                environ_base={"REMOTE_ADDR": "203.0.113.20"})
    rep = report(app)
    assert page_row(rep, pages["service"])["enquiry"] == 1
    assert page_row(rep, pages["article"])["booking"] == 1
    sources = {s["source"]: (s["enquiry"], s["booking"]) for s in rep.sources}
    assert sources["Search: Bing"] == (1, 0) and sources["mastodon"] == (0, 1)
    assert db.session.scalar(select(func.count()).select_from(Enquiry)) == 2

    # The rollup fixes the attribution and forgets the visitor code; the report stays the same.
    db.session.execute(update(StatsHit).values(day=today(app) - timedelta(days=1)))
    db.session.execute(update(StatsConversion).values(day=today(app) - timedelta(days=1)))
    model.rollup(db.session, today(app), keep_days=3)
    db.session.commit()
    assert db.session.scalars(select(StatsConversion.visitor)).all() == [None, None]
    rolled = report(app, days=2)
    assert page_row(rolled, pages["service"])["enquiry"] == 1 and page_row(rolled, pages["article"])["booking"] == 1


def test_a_paid_invoice_takes_the_attribution_of_the_booking_it_bills(app, client, pages):
    from web.stats import record_paid_invoice

    visit(client, pages["course"], address="203.0.113.30", Referer="https://duckduckgo.com/")
    client.post(pages["book"], headers={"User-Agent": CHROME}, environ_base={"REMOTE_ADDR": "203.0.113.30"},
                data={"name": "Ada", "email": "ada@example.com", "seats": "1", "consent": "y", "action": "book",
                      "website": "", "form_token": issue_form_token("booking")})
    booking_ref = db.session.scalar(select(StatsConversion.ref))
    with app.test_request_context("/admin/invoices/7/paid", method="POST"):
        record_paid_invoice("invoice:7", booking_ref)
        db.session.commit()
    rep = report(app)
    row = page_row(rep, pages["course"])
    assert (row["booking"], row["invoice"]) == (1, 1)
    assert {s["source"]: s["invoice"] for s in rep.sources}["Search: DuckDuckGo"] == 1


# --- rollup ---------------------------------------------------------------------------------------

def test_rollup_counts_finished_days_deletes_old_hits_and_salts_and_is_idempotent(app, client, pages, runner):
    for n in range(5):
        visit(client, pages["service"], address=f"203.0.113.{n}")
    live = report(app)
    yesterday, long_ago = today(app) - timedelta(days=1), today(app) - timedelta(days=10)
    db.session.execute(update(StatsHit).values(day=yesterday))
    db.session.add(StatsHit(day=long_ago, at=model.utcnow(), kind="view", visitor="x" * 32, path="/old"))
    db.session.add(StatsSalt(day=yesterday, salt="00" * 32))
    db.session.commit()
    for _ in range(2):
        result = runner.invoke(args=["stats", "rollup"])
        assert result.exit_code == 0, result.output
    assert "Rolled up" in result.output
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "stats.rollup").order_by(AuditLog.id)).all()[0]
    assert entry.detail == {"days": 2, "hits_deleted": 1, "salts_deleted": 1}  # yesterday and long ago
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(StatsHit).where(StatsHit.day == long_ago)) == 0
    assert db.session.scalar(select(func.count()).select_from(StatsHit).where(StatsHit.day == yesterday)) == 10
    assert yesterday not in db.session.scalars(select(StatsSalt.day)).all()
    site = db.session.get(StatsCounter, (yesterday, "site", "", ""))
    assert (site.views, site.visitors) == (5, 5)
    rolled = report(app, days=2)
    assert page_row(rolled, pages["service"]) == page_row(live, pages["service"])
    assert rolled.daily[0][1:] == (5, 5) and rolled.daily[1][1:] == (0, 0)
    # Raw hits gone, the counters stay.
    db.session.execute(update(StatsHit).values(day=long_ago))
    db.session.commit()
    runner.invoke(args=["stats", "rollup"])
    assert report(app, days=2).daily[0][1:] == (5, 5)


# --- the admin page -------------------------------------------------------------------------------

def test_statistics_page_needs_sign_in(client):
    response = client.get("/admin/stats")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    assert client.get("/admin/stats.csv").status_code == 302


def test_statistics_page_shows_the_period_with_charts_and_tables(app, client, admin_client, pages):
    for n in range(3):
        visit(client, pages["article"], address=f"203.0.113.{n}")
    visit(client, pages["service"], address="66.249.66.1", agent=GOOGLEBOT, asset=False)
    page = admin_client.get("/admin/stats?days=7").get_data(as_text=True)
    assert "Statistics" in page and 'aria-current="page">Last 7 days' in page
    assert page.count('role="img"') == 2 and "<title id=\"daily-title\">" in page and "<desc id=\"daily-desc\">" in page
    assert "as a table" in page and pages["article"] in page
    assert "Known crawler or script user agent</th><td>1</td>" in page
    assert "<script" not in page
    # The consultant's own visit to the statistics did not count.
    assert report(app).views == 3
    for nonsense in ("0", "-1", "abc", "99999999999999999999"):
        assert admin_client.get(f"/admin/stats?days={nonsense}").status_code == 200


def test_csv_export_has_days_pages_and_conversions(app, client, admin_client, pages):
    visit(client, pages["article"], address="203.0.113.9", Referer="https://www.ecosia.org/")
    response = admin_client.get("/admin/stats.csv?days=30")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:6] == ["Date", "What", "Item", "To", "Views", "Visitors"]
    days = [r for r in rows if r[1] == "Day"]
    assert len(days) == 30 and days[-1][4:6] == ["1", "1"]
    assert ["Page", pages["article"], "", "1", "1"] == [r for r in rows if r[1] == "Page"][0][1:6]
    assert any(r[1] == "Source" and r[2] == "Search: Ecosia" for r in rows)


def test_the_privacy_page_says_what_is_counted(client, app):
    page = client.get("/privacy").get_data(as_text=True)
    assert 'id="statistics"' in page and "no cookie" in page and "deleted once the day is over" in page
    assert f"kept for {app.config['STATS_KEEP_DAYS']} days" in page


def test_the_flusher_writes_in_the_background_and_each_process_rolls_up_once_a_day(app, pages, another_app):
    worker = another_app(STATS_ENABLED=True, STATS_FLUSH_SECONDS=0.05, STATS_BATCH=1000, PAGE_CACHE_SECONDS=60)
    recorder = worker.extensions["stats"]
    client = worker.test_client()
    visit(client, pages["service"], address="203.0.113.40")
    assert recorder.rows, "buffered, not written in the request"
    deadline = time.monotonic() + 10
    while recorder.rows or db.session.scalar(select(func.count()).select_from(StatsHit)) < 2:
        assert time.monotonic() < deadline, "the flusher did not write the hits"
        db.session.rollback()
        time.sleep(0.05)
    # Shortly after midnight the process rolls the finished day up by itself (here: yesterday's hits).
    db.session.rollback()
    begin_write()  # the flusher may be writing: wait for the lock (SQLite)
    db.session.execute(update(StatsHit).values(day=today(app) - timedelta(days=1)))
    db.session.commit()
    from web.stats import Recorder

    recorder.daily = lambda: None  # the flusher thread's own call stays out of the way; this test calls it
    recorder._day_starts -= 3600  # as if the day began an hour ago
    recorder._rolled_up = None
    Recorder.daily(recorder)
    db.session.rollback()
    site = db.session.get(StatsCounter, (today(app) - timedelta(days=1), "site", "", ""))
    assert (site.views, site.visitors) == (1, 1)
    assert recorder._rolled_up == today(app)  # once a day per process
    # A process started later the same day (a worker recycled) finds the day rolled up and leaves it.
    recorder._rolled_up = None
    db.session.execute(delete(StatsHit))
    db.session.commit()
    Recorder.daily(recorder)
    db.session.rollback()
    assert db.session.get(StatsCounter, (today(app) - timedelta(days=1), "site", "", "")) is not None


def test_a_page_is_served_when_counting_fails(app, client, pages, monkeypatch, caplog):
    recorder = app.extensions["stats"]

    def database_away(day):
        raise OSError("connection refused")

    monkeypatch.setattr(recorder, "salt", database_away)
    for _ in range(3):
        response = visit(client, pages["service"])
        assert response.status_code == 200 and "Public Cloud" in response.get_data(as_text=True)
    assert [r.message for r in caplog.records if r.name == "portico.stats"] == ["stats: could not count a request"]
