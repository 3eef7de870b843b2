"""Every public and admin page in Chromium at phone and desktop widths: axe (WCAG 2.1 A/AA), valid HTML, screenshots."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from axe_playwright_python.base import AxeResults

from tests.browser.helpers import WIDTHS, crawl, log_in, new_context, screenshot, slug_for

pytestmark = pytest.mark.browser

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BOOKING_TOKEN = "browser-test-booking-token-0123456789abcdef"
# Where a visitor starts; the crawl follows every link from here (and the sitemap) to the rest.
PUBLIC_STARTS = ["/", "/services", "/blog", "/training", "/contact", "/privacy"]
NOT_FOUND = "/no-such-page"
# Forms sent empty: the page with every error shown must be as accessible and valid as the blank form.
EMPTY_FORMS = {"/contact": "form.contact-form button[type=submit]"}


@pytest.fixture(scope="session")
def axe():
    """A function running axe-core (as shipped by axe-playwright-python) on a page: one line per violation."""
    from axe_playwright_python.sync_playwright import Axe

    engine = Axe()
    options = {"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]}

    def run(page) -> list[str]:
        if page.evaluate("typeof window.axe === 'undefined'"):
            results = engine.run(page, options=options)  # injects axe-core, then runs it
        else:  # already there through axe_context's init script
            results = AxeResults(page.evaluate(f"axe.run(document, {json.dumps(options)})"))
        return [
            f"{v['id']} ({v['impact']}): {v['help']} -> "
            + "; ".join(" ".join(node["target"]) + " " + node.get("failureSummary", "").replace("\n", " ")
                        for node in v["nodes"][:5])
            for v in results.response["violations"]
        ]

    run.script = engine.axe_script
    return run


def axe_context(browser, live_server, axe, width: str):
    """A browser context where every page loads axe-core as it opens (cheaper than injecting it page by page)."""
    context = new_context(browser, live_server, width)
    context.add_init_script(script=axe.script)
    return context


@pytest.fixture(scope="session")
def sample_records(live_server):
    """Rows that give every page something to show: a booking with a known link, an enquiry, a comment, a draft, a failed email."""
    from extensions import db
    from models import Comment, Course, OutboxMessage, Post, TrainingSession
    from tests.factories import make_booking, make_enquiry, make_post

    with live_server.app.app_context():
        session = db.session.scalar(
            TrainingSession.upcoming().join(Course).where(Course.slug == "kubernetes").limit(1)
        )
        booking = make_booking(session=session, name="Ada Example", email="ada@example.com", token=BOOKING_TOKEN)
        enquiry = make_enquiry(name="Grace Example", email="grace@example.com")
        draft = make_post(slug="draft-for-axe", title="A draft the admin lists", status=Post.DRAFT, published_at=None)
        article = db.session.scalar(db.select(Post).where(Post.slug == "virtualization-and-containerization"))
        db.session.add(Comment(post=article, author_name="Linus Reader", author_email="reader@example.com",
                               body="Clear explanation of namespaces, thank you."))
        db.session.add(OutboxMessage(
            message_id="<browser-failed@portico.test>", template="test", to_addr="bounce@example.com",
            subject="A message that could not be delivered", text_body="Hello.", status="failed", attempts=8,
            last_error="550 mailbox unavailable", next_attempt_at=datetime.now(UTC),
        ))
        db.session.commit()
        ids = {"booking": booking.id, "session": session.id, "enquiry": enquiry.id, "draft": draft.id}
        db.session.remove()
    return ids


@pytest.fixture(scope="session")
def public_pages(browser, live_server, sample_records) -> list[str]:
    """Every public page a visitor can reach: the crawl from the main sections and the sitemap, plus private links."""
    context = new_context(browser, live_server)
    sitemap = context.request.get(live_server("/sitemap.xml")).text()
    listed = [re.sub(r"^https?://[^/]+", "", loc) for loc in re.findall(r"<loc>\s*([^<]+?)\s*</loc>", sitemap)]
    # Pages no link leads to: a booking's private pages (reached from its email) and a session's booking form.
    adapter = live_server.app.url_map.bind("localhost")
    private = [path for path in (f"/bookings/{BOOKING_TOKEN}", f"/training/sessions/{sample_records['session']}/book")
               if routed(adapter, path)]  # once the feature exists, its pages must answer
    pages = crawl(context.request, PUBLIC_STARTS + listed + private, live_server.url, inside="/",
                  exclude=re.compile(r"^/admin"))
    context.close()
    missing = [path for path in private if path not in pages]
    assert not missing, f"these pages did not answer 200: {missing}"
    return pages


@pytest.fixture(scope="session")
def admin_pages(browser, live_server, sample_records) -> list[str]:
    """Every admin page reachable by links from the dashboard (one per template), signed in."""
    if not routed(live_server.app.url_map.bind("localhost"), "/admin/login", "POST"):
        return []  # the admin area is not built yet: only its login page exists, checked on its own
    context = new_context(browser, live_server)
    page = context.new_page()
    log_in(page, live_server)
    pages = crawl(context.request, ["/admin/"], live_server.url, inside="/admin/")
    context.close()
    return pages


def routed(adapter, path: str, method: str = "GET") -> bool:
    from werkzeug.exceptions import HTTPException

    try:
        adapter.match(path, method=method)
    except HTTPException:
        return False
    return True


def submit_empty(page, path: str, button: str):
    """Send a form untouched, as a person pressing the button too early does; returns the error page's HTML."""
    visit(page, path)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator(button).click()
    response = answer.value
    assert response.status in (200, 400, 422), f"an empty form on {path} answered {response.status}"
    page.wait_for_load_state()
    assert page.locator("[aria-invalid=true]").count() > 0, f"an empty form on {path} marked no field invalid"
    return response.text()


def visit(page, path: str, expect_status: int = 200):
    response = page.goto(path)
    assert response is not None and response.status == expect_status, (
        f"{path} answered {response.status if response else 'nothing'}, expected {expect_status}"
    )


def report(problems: dict[str, list[str]]) -> str:
    return "\n".join(f"{path}:\n  " + "\n  ".join(lines) for path, lines in problems.items())


def test_the_crawl_finds_the_main_pages(public_pages):
    for path in ("/", "/services", "/blog", "/blog/virtualization-and-containerization", "/training",
                 "/training/docker", "/contact", "/privacy"):
        assert path in public_pages, f"{path} was not found by following links: {public_pages}"


@pytest.mark.parametrize("width", WIDTHS)
def test_public_pages_have_no_accessibility_violations(browser, live_server, public_pages, axe, width):
    """axe-core with the WCAG 2.1 A and AA rules on every public page; also saves each page's screenshot."""
    context = axe_context(browser, live_server, axe, width)
    page = context.new_page()
    problems = {}
    for path in [*public_pages, NOT_FOUND]:
        visit(page, path, 404 if path == NOT_FOUND else 200)
        screenshot(page, f"{slug_for(path)}-{WIDTHS[width][0]}")
        found = axe(page)
        if found:
            problems[path] = found
    for path, button in EMPTY_FORMS.items():
        submit_empty(page, path, button)
        screenshot(page, f"{slug_for(path)}-errors-{WIDTHS[width][0]}")
        if found := axe(page):
            problems[f"{path} (sent empty)"] = found
    context.close()
    assert not problems, f"axe found WCAG 2.1 A/AA violations at {width} width:\n{report(problems)}"


@pytest.mark.parametrize("width", WIDTHS)
def test_admin_pages_have_no_accessibility_violations(browser, live_server, admin_pages, axe, width):
    context = axe_context(browser, live_server, axe, width)
    page = context.new_page()
    problems = {}
    visit(page, "/admin/login")
    screenshot(page, f"admin-login-{WIDTHS[width][0]}")
    if found := axe(page):
        problems["/admin/login"] = found
    if admin_pages:
        log_in(page, live_server)
    for path in admin_pages:
        visit(page, path)
        screenshot(page, f"{slug_for(path)}-{WIDTHS[width][0]}")
        if found := axe(page):
            problems[path] = found
    context.close()
    assert not problems, f"axe found WCAG 2.1 A/AA violations at {width} width:\n{report(problems)}"


def test_pages_are_valid_html(browser, live_server, public_pages, admin_pages, vnu):
    """The Nu HTML Checker on the HTML exactly as the server sends it: every public and admin page in one JVM run."""
    context = new_context(browser, live_server)
    documents = {}
    for path in [*public_pages, NOT_FOUND, "/admin/login"]:
        response = context.request.get(live_server(path))
        assert response.status in (200, 404), f"{path} answered {response.status}"
        documents[path] = response.text()
    page = context.new_page()
    for path, button in EMPTY_FORMS.items():
        documents[f"{path} (sent empty)"] = submit_empty(page, path, button)
    if admin_pages:
        log_in(context.new_page(), live_server)
        for path in admin_pages:
            response = context.request.get(live_server(path))
            assert response.status == 200, f"{path} answered {response.status}"
            documents[path] = response.text()
    context.close()
    # The check is only worth something if it catches broken HTML: one known-bad document rides along.
    documents["(known bad)"] = "<!doctype html><html lang=en><title>x</title><p><div>unclosed</span>"
    found = vnu(documents)
    assert found.pop("(known bad)"), "the Nu HTML Checker reported nothing for broken HTML"
    problems = {path: errors for path, errors in found.items() if errors}
    assert not problems, f"the Nu HTML Checker found errors:\n{report(problems)}"
