"""The site settings page in Chromium at 390 and 1280 px: reached from the Dashboard, saved, shown on the public
pages at once, a wrong address announced beside its field; axe and the HTML checker clean.

Screenshots: reports/screenshots/settings-<page>-<width>.png.
"""
from __future__ import annotations

import pytest

from tests.browser.helpers import WIDTHS, audit_page, log_in, new_context

pytestmark = pytest.mark.browser

SLICE = "settings"
SITE_NAME = "مكتب لينوس"
HEADING = "Infraestructura que no se cae"
FOOTER = "ייעוץ תשתיות · Beratung für Rechenzentren"


@pytest.fixture(scope="module", autouse=True)
def restore_settings(live_server):
    """The live server is shared by every browser test: leave the settings as they were."""
    from extensions import db
    from models import SiteSettings, site_settings

    with live_server.app.app_context():
        before = site_settings.load().as_fields()
        db.session.remove()
    yield
    with live_server.app.app_context():
        row = db.session.get(SiteSettings, site_settings.ROW_ID)
        for name, value in before.items():
            setattr(row, name, value)
        db.session.commit()
        db.session.remove()


@pytest.fixture(params=list(WIDTHS))
def width(request):
    return request.param


@pytest.fixture
def admin_page(browser, live_server, width):
    context = new_context(browser, live_server, width)
    page = context.new_page()
    log_in(page, live_server)
    yield page
    context.close()


def check_page(page, axe, vnu, name: str, width: str) -> None:
    audit_page(page, axe, vnu, name, width, SLICE)


def test_settings_are_saved_and_every_page_shows_them(admin_page, browser, live_server, axe, vnu, width):
    page = admin_page
    page.goto("/admin/")
    page.get_by_role("navigation", name="Records").get_by_role("link", name="Site settings").click()
    assert page.get_by_role("heading", name="Site settings", level=1).is_visible()
    assert page.get_by_role("navigation", name="Admin").get_by_role("link", name="Dashboard").get_attribute(
        "aria-current") == "page"
    check_page(page, axe, vnu, "form", width)
    page.get_by_label("Site name").fill(SITE_NAME)
    heading = f"{HEADING} ({width})"  # each screen width saves a change of its own
    page.get_by_label("Heading", exact=True).fill(heading)
    page.get_by_label("Footer text").fill(FOOTER)
    page.get_by_label("Second button: label").fill("Kalender")
    page.get_by_label("Second button: address").fill("/training")
    page.get_by_label("Profile link 1: label").fill("GitHub")
    page.get_by_label("Profile link 1: address").fill("https://github.com/linustribe")
    page.get_by_label("Time zone").select_option("America/Sao_Paulo")
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    assert page.get_by_text("Settings saved").is_visible()
    assert page.get_by_label("Site name").input_value() == SITE_NAME
    assert page.get_by_label("Time zone").input_value() == "America/Sao_Paulo"
    check_page(page, axe, vnu, "saved", width)

    # A visitor (no cookies: the page cache's path) sees it at once.
    visitor_context = new_context(browser, live_server, width)
    visitor = visitor_context.new_page()
    try:
        visitor.goto("/")
        assert visitor.get_by_role("heading", level=1).inner_text() == heading
        assert visitor.locator(".brand").inner_text().strip() == SITE_NAME
        assert visitor.locator(".hero").get_by_role("link", name="Kalender").get_attribute("href") == "/training"
        footer = visitor.locator(".site-footer")
        assert FOOTER in footer.inner_text()
        assert footer.get_by_role("link", name="GitHub").get_attribute("href") == "https://github.com/linustribe"
        assert visitor.title().endswith(f"· {SITE_NAME}")
        check_page(visitor, axe, vnu, "home", width)
    finally:
        visitor_context.close()


def test_an_address_that_is_not_allowed_is_announced_beside_its_field(admin_page, axe, vnu, width):
    page = admin_page
    page.goto("/admin/settings")
    page.get_by_label("First button: address").fill("javascript:alert(1)")
    page.get_by_label("Profile link 2: label").fill("Mastodon")
    page.get_by_label("Profile link 2: address").fill("http://chaos.social/@linus")
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    assert page.get_by_role("alert").inner_text().strip() == "Please correct the 2 errors below."
    field = page.get_by_label("First button: address")
    assert field.get_attribute("aria-invalid") == "true"
    assert "a path on this site starting with /" in page.locator("#cta1_url-error").inner_text()
    assert "https:// address" in page.locator("#profile2_url-error").inner_text()
    assert page.get_by_label("Profile link 2: address").input_value() == "http://chaos.social/@linus"
    check_page(page, axe, vnu, "error", width)
