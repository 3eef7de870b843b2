"""A WordPress blog moved in, seen in Chromium: an old link lands on the imported article, whose figure,
code and threaded comments read well at 390 and 1280 px; the redirect table in the admin. axe, Nu checker, screenshots."""
from __future__ import annotations

import json

import pytest
from axe_playwright_python.base import AxeResults

from tests.blog.test_wordpress_import import jpeg_with_exif, standard_items
from tests.blog.wxr import write
from tests.browser.helpers import WIDTHS, log_in, new_context, screenshot

pytestmark = pytest.mark.browser

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
ARTICLE = "/blog/uber-kubernetes"
OLD_LINK = "/2020/03/09/%c3%bcber-kubernetes/"


@pytest.fixture(scope="module")
def wordpress_site(live_server, tmp_path_factory):
    """The standard test export imported into the live server's database, once (a second run changes nothing)."""
    folder = tmp_path_factory.mktemp("wordpress")
    uploads = folder / "uploads" / "2020" / "03"
    uploads.mkdir(parents=True)
    (uploads / "cluster.jpg").write_bytes(jpeg_with_exif(640, 480))
    path = write(folder / "export.xml", standard_items())
    with live_server.app.app_context():  # as `flask` gives every command
        from extensions import db

        result = live_server.app.test_cli_runner().invoke(
            args=["import", "wordpress", str(path), "--media-dir", str(folder / "uploads")])
        db.session.remove()
    assert result.exit_code == 0, result.output
    return live_server


@pytest.fixture(scope="module")
def axe():
    from axe_playwright_python.sync_playwright import Axe

    engine = Axe()
    options = {"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]}

    def run(page) -> list[str]:
        results = engine.run(page, options=options)
        return [f"{v['id']}: {v['help']} -> " + "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
                for v in AxeResults(results.response).response["violations"]]

    return run


@pytest.fixture(params=list(WIDTHS))
def width(request):
    return request.param


@pytest.fixture
def sized_page(browser, live_server, width):
    context = new_context(browser, live_server, width)
    yield context.new_page()
    context.close()


def no_sideways_scroll(page) -> None:
    wide = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert wide[0] <= wide[1], f"{page.url} is {wide[0]} px wide in a {wide[1]} px window"


def test_an_old_link_lands_on_the_imported_article(wordpress_site, sized_page, width, axe):
    page = sized_page
    response = page.goto(OLD_LINK)
    assert response.ok and page.url == wordpress_site(ARTICLE)
    assert response.request.redirected_from.response().status == 301
    assert page.get_by_role("heading", level=1).inner_text() == "Über Kubernetes — ein Überblick für Einsteiger 日本語"
    image = page.locator("figure.figure img").first
    image.scroll_into_view_if_needed()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 640  # served from /media, re-encoded
    assert "/media/2020/03/cluster.jpg" in image.get_attribute("src")
    assert page.locator("figure.figure figcaption").first.inner_text() == "Der Cluster im Überblick"
    assert page.locator(".post-body .highlight pre code.language-bash").count() == 1
    toc = page.locator("nav.toc").inner_text()
    assert "Warum Kubernetes?" in toc and "Erste Schritte" in toc
    # A reply is inside the comment it answers, indented: to the right of it, not below the whole list.
    replies = page.locator(".comment-replies")
    assert replies.count() == 2
    outer = page.locator(".comment-list > .comment").first.bounding_box()
    inner = replies.first.locator(".comment").first.bounding_box()
    assert inner["x"] > outer["x"] and inner["width"] < outer["width"]
    no_sideways_scroll(page)
    assert axe(page) == []
    screenshot(page, f"wordpress-article-{width}")


def test_the_redirect_table_in_the_admin(wordpress_site, sized_page, width, axe):
    page = sized_page
    log_in(page, wordpress_site)
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Content").click()
    page.get_by_role("navigation", name="More content").get_by_role("link", name="Redirects from the old site").click()
    page.get_by_label("Old address or description contains").fill("kubernetes")
    page.get_by_role("button", name="Filter").click()
    table = page.get_by_role("region", name="Redirects")
    assert "/2020/03/09/über-kubernetes" in table.inner_text()
    assert table.get_by_role("link", name="/blog/uber-kubernetes").first.is_visible()
    assert page.locator('nav.admin-nav a[aria-current="page"]').inner_text() == "Content"  # redirects live under Content
    no_sideways_scroll(page)
    assert axe(page) == []
    screenshot(page, f"wordpress-redirects-{width}")


def test_the_imported_pages_are_valid_html(wordpress_site, browser, vnu):
    context = new_context(browser, wordpress_site)
    page = context.new_page()
    log_in(page, wordpress_site)
    documents = {}
    for path in (ARTICLE, "/blog/netzwerk", "/blog/virtualization-and-containerization-2", "/admin/redirects",
                 "/admin/redirects?q=feed"):
        response = context.request.get(wordpress_site(path))
        assert response.status == 200, path
        documents[path] = response.text()
    context.close()
    errors = {path: found for path, found in vnu(documents).items() if found}
    assert not errors, json.dumps(errors, indent=1, ensure_ascii=False)
