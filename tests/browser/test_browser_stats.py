"""Visit statistics in Chromium: counting sets no cookie and talks to no other host; the statistics page is
accessible (axe, WCAG 2.1 AA) and valid HTML at phone and desktop widths, and shows what a browser did.

A live server of its own (this module's `live_server`): the shared one counts nothing (tests turn counting
off), this one counts, with the page cache on, as in production.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.base import AxeResults

from tests.browser.conftest import LiveServer, ServerErrors
from tests.browser.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, WIDTHS, MailBox, log_in, new_context, screenshot
from tests.conftest import free_port, make_app

pytestmark = pytest.mark.browser

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# A desktop Chrome's agent: headless Chromium says "HeadlessChrome", which the counter rightly takes for a bot.
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
PAGES_WITHOUT_FORMS = ["/", "/services", "/training", "/privacy", "/blog"]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from cli.seeding import seed_all
    from extensions import db
    from tests.factories import make_admin

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    folder = tmp_path_factory.mktemp("live-stats")
    mail = MailBox()
    mail.start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = make_app(f"sqlite:///{folder / 'portico.db'}", folder, SITE_URL=url, WTF_CSRF_ENABLED=True,
                   RATELIMIT_ENABLED=False, SPAM_MIN_SECONDS=0, SESSION_COOKIE_SECURE=False,
                   STATS_ENABLED=True, STATS_FLUSH_SECONDS=0, PAGE_CACHE_SECONDS=60, **mail.config())
    with app.app_context():
        upgrade()
        seed_all(demo=True)
        make_admin(email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        db.session.remove()
    errors = ServerErrors(app.wsgi_app)
    app.wsgi_app = errors
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-stats-server", daemon=True)
    thread.start()
    yield LiveServer(url=url, app=app, mail=mail, errors=errors)
    server.shutdown()
    thread.join(timeout=10)
    mail.stop()


@pytest.fixture(scope="module")
def axe():
    from axe_playwright_python.sync_playwright import Axe

    engine = Axe()
    options = {"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]}

    def run(page) -> list[str]:
        results = AxeResults(page.evaluate(f"axe.run(document, {json.dumps(options)})"))
        return [f"{v['id']} ({v['impact']}): {v['help']} -> " + "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
                for v in results.response["violations"]]

    run.script = engine.axe_script
    return run


def test_a_visit_is_counted_with_no_cookie_and_no_request_to_another_host(browser, live_server):
    visitor = new_context(browser, live_server, user_agent=CHROME)
    hosts: set[str] = set()
    visitor.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    try:
        page = visitor.new_page()
        for path in PAGES_WITHOUT_FORMS:
            page.goto(path)
            assert page.evaluate("document.cookie") == ""
        assert visitor.cookies() == [], "counting set a cookie"
        page.goto("/services")  # again: from the page cache (or the browser's own, revalidated)
        scripts = page.evaluate("document.scripts.length")
    finally:
        visitor.close()
    assert hosts == {urlsplit(live_server.url).netloc}, hosts
    assert scripts == 0

    consultant = new_context(browser, live_server)
    try:
        page = consultant.new_page()
        log_in(page, live_server)
        page.goto("/admin/stats?days=7")
        totals = page.get_by_role("list", name="Totals for the period")
        assert re.search(r"\b6\s+page views", totals.inner_text())
        assert re.search(r"\b1\s+visitor\b", totals.inner_text())
        pages = page.get_by_role("region", name="Pages", exact=True)
        assert pages.get_by_role("row", name=re.compile(r"^\/services 2 1 ")).count() == 1
        page.get_by_role("link", name="Last 365 days", exact=True).click()
        assert page.get_by_role("link", name="Last 365 days", exact=True).get_attribute("aria-current") == "page"
        with page.expect_download() as download:
            page.get_by_role("link", name=re.compile("Download the last 365 days as CSV")).click()
        assert download.value.suggested_filename.startswith("statistics-")
    finally:
        consultant.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_statistics_page_is_accessible_and_valid(browser, live_server, axe, vnu, width):
    context = new_context(browser, live_server, width)
    context.add_init_script(script=axe.script)
    try:
        visitor = new_context(browser, live_server, width, user_agent=CHROME)
        page = visitor.new_page()
        for path in ("/", "/blog/virtualization-and-containerization", "/training"):
            page.goto(path + "?utm_source=browser-test")
        visitor.close()
        page = context.new_page()
        log_in(page, live_server)
        documents, problems = {}, {}
        for days in (7, 30, 365):
            page.goto(f"/admin/stats?days={days}")
            assert page.get_by_role("heading", level=1, name="Statistics").is_visible()
            chart = page.get_by_role("img", name=re.compile(f"Page views and visitors per day, last {days} days"))
            assert chart.count() == 1
            page.get_by_text("Views and visitors per day as a table").click()  # the chart's table opens
            assert page.get_by_role("region", name="Table of views and visitors per day").is_visible()
            width_px = page.evaluate("document.documentElement.scrollWidth")
            assert width_px <= WIDTHS[width][0], f"the page scrolls sideways at {width} ({width_px} px)"
            problems[days] = axe(page)
            documents[f"stats-{days}"] = page.content()
            if days == 30:
                screenshot(page, f"stats-admin-{WIDTHS[width][0]}")
        page.goto("/privacy#statistics")
        assert page.get_by_role("heading", name="Visit statistics").is_visible()
        problems["privacy"] = axe(page)
        screenshot(page, f"stats-privacy-{WIDTHS[width][0]}")
    finally:
        context.close()
    assert all(not found for found in problems.values()), problems
    invalid = vnu(documents)
    assert all(not found for found in invalid.values()), invalid
