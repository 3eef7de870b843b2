"""The site settings page (/admin/settings): stored in one row, validated, audited, read by every page and email.

A change made through one process shows on the public pages of another sharing the database, without a
restart (the table is PUBLIC in models/content_version.py), with the page cache on and with it off.
"""
from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from extensions import db
from models import AuditLog, OutboxMessage, SiteSettings, site_settings
from tests.conftest import ROOT, make_app
from tests.enquiries.test_enquiries_form import valid_data

# The world's data: an Arabic site name (RTL), accents, a German IDN with a non-ASCII local part, Hebrew.
SITE_NAME = "مكتب لينوس للبنية التحتية"
CONSULTANT = "Łukasz Żółć-Núñez"
EMAIL = "jörg@bücher.example"
FOOTER = "ייעוץ תשתיות עצמאי · Beratung für Rechenzentren"
TAGLINE = "Infraestructura que no se cae: nube, virtualización y redes"


def form_data(**overrides) -> dict:
    data = {
        "site_name": SITE_NAME, "tagline": TAGLINE, "hero_eyebrow": "Disponible à partir de janvier",
        "hero_heading": "Des clouds qui tiennent la charge", "hero_text": "Conception, dépannage et formation.",
        "cta1_label": "Écrivez-moi", "cta1_url": "/contact", "cta2_label": "Kalender", "cta2_url": "https://cal.bücher.example/linus",
        "consultant_name": CONSULTANT, "consultant_email": EMAIL, "footer_text": FOOTER,
        "profile1_label": "GitHub", "profile1_url": "https://github.com/linustribe",
        "profile2_label": "Mastodon", "profile2_url": "https://chaos.social/@linus",
        "timezone": "Asia/Tehran", "locale": "fa-ir",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def stored() -> SiteSettings | None:
    db.session.rollback()
    return db.session.get(SiteSettings, site_settings.ROW_ID)


@pytest.fixture
def app_config():
    # The page cache on (as in production), re-reading the content version often so the test is quick.
    return {"PAGE_CACHE_SECONDS": 60, "PAGE_CACHE_CHECK_SECONDS": 0.2, "SITE_NAME": "Portico Env",
            "CONSULTANT_NAME": "Env Consultant", "CONSULTANT_EMAIL": "env@example.org", "SITE_TIMEZONE": "Europe/Berlin"}


def second_process(database_url, tmp_path, app_config, **overrides):
    """Another app on the same database, as a second gunicorn worker or host would be."""
    return make_app(database_url, tmp_path / "second", **{**app_config, **overrides})


def wait_for(client, path: str, text: str, seconds: float = 5) -> str:
    deadline = time.monotonic() + seconds
    while True:
        page = client.get(path).get_data(as_text=True)
        if text in page or time.monotonic() > deadline:
            return page
        time.sleep(0.05)


# --- defaults and the seed ---------------------------------------------------------------------------

def test_before_any_row_the_environment_defaults_show(client, app):
    page = client.get("/").get_data(as_text=True)
    assert "Portico Env" in page and "env@example.org" in page
    assert "Cloud, virtualization and network infrastructure that keeps running" in page
    assert 'href="/contact"' in page and "Tell me about your project" in page
    assert stored() is None
    assert site_settings.current().timezone == "Europe/Berlin"


def test_seed_fills_the_row_from_the_environment_once_and_keeps_edits(app, runner, admin_client):
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert "1 site settings" in result.output
    row = stored()
    assert (row.site_name, row.consultant_name, row.consultant_email, row.timezone) == (
        "Portico Env", "Env Consultant", "env@example.org", "Europe/Berlin")
    assert row.calls_to_action == [{"label": "Tell me about your project", "url": "/contact"},
                                   {"label": "See training dates", "url": "/training"}]
    assert admin_client.post("/admin/settings", data=form_data()).status_code == 303
    result = runner.invoke(args=["seed"])
    assert "0 site settings" in result.output
    assert stored().site_name == SITE_NAME


# --- the page -----------------------------------------------------------------------------------------

def test_the_page_is_for_the_signed_in_consultant_only(client):
    response = client.get("/admin/settings")
    assert response.status_code in (302, 303) and "/admin/login" in response.headers["Location"]
    assert client.post("/admin/settings", data=form_data()).status_code in (302, 303)
    assert stored() is None


def test_the_dashboard_links_to_it_and_the_admin_bar_marks_the_dashboard(admin_client):
    assert 'href="/admin/settings"' in admin_client.get("/admin/").get_data(as_text=True)
    page = admin_client.get("/admin/settings").get_data(as_text=True)
    assert re.search(r'<a href="/admin/"\s+aria-current="page">Dashboard</a>', page)
    assert '<option selected value="Europe/Berlin">' in page
    assert 'value="Portico Env"' in page and 'value="/training"' in page
    for field in ("site_name", "tagline", "hero_heading", "cta1_url", "profile4_url", "consultant_email", "timezone", "locale"):
        assert f'<label for="{field}"' in page


def test_rtl_and_accents_round_trip_and_the_change_is_audited(admin_client, admin_user):
    response = admin_client.post("/admin/settings", data=form_data())
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/settings")
    row = stored()
    assert (row.site_name, row.consultant_name, row.consultant_email, row.footer_text, row.tagline) == (
        SITE_NAME, CONSULTANT, EMAIL, FOOTER, TAGLINE)
    assert row.locale == "fa-IR" and row.timezone == "Asia/Tehran"
    assert row.calls_to_action[1] == {"label": "Kalender", "url": "https://cal.bücher.example/linus"}
    assert [link["label"] for link in row.profile_links] == ["GitHub", "Mastodon"]
    page = admin_client.get("/admin/settings").get_data(as_text=True)
    for value in (SITE_NAME, CONSULTANT, EMAIL, FOOTER, TAGLINE, "https://chaos.social/@linus"):
        assert f'value="{value}"' in page or f">{value}</textarea>" in page or f"\n{value}</textarea>" in page, value
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "settings.site"))
    assert entry.actor_email == admin_user.email
    assert set(entry.detail["changed"]) >= {"site_name", "consultant_name", "consultant_email", "footer_text",
                                             "calls_to_action", "profile_links", "timezone", "locale"}
    assert "hero_text" in entry.detail["changed"]
    # Saving the same again changes nothing: said so, and no audit entry.
    response = admin_client.post("/admin/settings", data=form_data(), follow_redirects=True)
    assert "Nothing changed." in response.get_data(as_text=True)
    entries = db.session.scalars(select(AuditLog).where(AuditLog.action == "settings.site").order_by(AuditLog.id)).all()
    assert len(entries) == 1
    admin_client.post("/admin/settings", data=form_data(tagline="Nouvelle devise"))
    assert db.session.scalars(select(AuditLog).where(AuditLog.action == "settings.site")
                              .order_by(AuditLog.id.desc())).first().detail["changed"] == ["tagline"]


def test_public_pages_show_the_settings_with_their_direction_left_to_the_browser(admin_client, app):
    admin_client.post("/admin/settings", data=form_data())
    anonymous = app.test_client()
    home = anonymous.get("/").get_data(as_text=True)
    assert f'<span dir="auto">{SITE_NAME}</span>' in home
    assert f"<title>{TAGLINE} · {SITE_NAME}</title>" in home
    assert '<h1 dir="auto">Des clouds qui tiennent la charge</h1>' in home
    assert 'href="/contact" dir="auto">Écrivez-moi</a>' in home
    assert 'href="https://cal.bücher.example/linus"' in home
    assert f'<span dir="auto">{FOOTER}</span>' in home
    assert 'href="https://github.com/linustribe" rel="me noopener" dir="auto">GitHub</a>' in home
    assert f"mailto:{EMAIL}" in home and "env@example.org" not in home
    privacy = anonymous.get("/privacy").get_data(as_text=True)
    assert CONSULTANT in privacy and EMAIL in privacy
    feed = anonymous.get("/feed.xml").get_data(as_text=True)
    assert f"<title>{SITE_NAME}: articles</title>" in feed and f"<name>{CONSULTANT}</name>" in feed


def test_an_empty_call_to_action_is_left_out(admin_client, app):
    admin_client.post("/admin/settings", data=form_data(cta2_label="", cta2_url="", hero_eyebrow=""))
    assert stored().calls_to_action == [{"label": "Écrivez-moi", "url": "/contact"}]
    home = app.test_client().get("/").get_data(as_text=True)
    assert "Kalender" not in home and "button-secondary" not in home.split('class="hero"')[1].split("</section>")[0]
    assert 'class="eyebrow"' not in home


# --- bad input is a form error, and nothing is stored -----------------------------------------------

@pytest.mark.parametrize(("field", "value", "message"), [
    ("cta1_url", "javascript:alert(1)", "a path on this site"),
    ("cta1_url", "//evil.example/contact", "a path on this site"),
    ("cta1_url", "/\\evil.example", "a path on this site"),
    ("cta1_url", "http://plain.example/", "a path on this site"),
    ("cta1_url", "https://user@evil.example/", "a path on this site"),
    ("cta1_url", "/contact page", "a path on this site"),
    ("cta1_url", "https://bad.example:99999/", "a path on this site"),
    ("cta1_url", "", "Enter the address"),
    ("cta1_label", "", "Enter the words"),
    ("profile1_url", "/contact", "https:// address"),
    ("profile1_url", "data:text/html,hi", "https:// address"),
    ("site_name", "", "Enter the site"),
    ("site_name", "\u200b\u202e\u2066", "letters that show"),
    ("consultant_name", "", "Enter your name"),
    ("consultant_email", "not-an-address", "valid email address"),
    ("consultant_email", "someone@localhost", "valid email address"),
    ("timezone", "Mars/Olympus_Mons", "Not a valid choice"),
    ("locale", "english please", "language tag"),
    ("locale", "", "language tag"),
    ("hero_heading", "", "heading"),
    ("site_name", "x" * 101, "Field cannot be longer"),
])
def test_invalid_input_is_a_form_error_beside_its_field(admin_client, field, value, message):
    response = admin_client.post("/admin/settings", data=form_data(**{field: value}))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page, re.S)
    assert error and message in error.group(1), page[page.find("form-errors"):][:600]
    assert f'aria-describedby="{field}-' in page or f'aria-describedby="{field}-error"' in page
    assert stored() is None


def test_a_post_with_fields_missing_or_mangled_is_a_form_error_not_a_500(admin_client):
    assert admin_client.post("/admin/settings", data={}).status_code == 422
    assert admin_client.post("/admin/settings", data={"site_name": ["a", "b"], "timezone": "Europe/Nowhere"}).status_code == 422
    assert admin_client.post("/admin/settings", data=form_data(timezone="\x00")).status_code in (400, 422)
    assert stored() is None


# --- another process sees the change at once ---------------------------------------------------------

@pytest.mark.parametrize("page_cache", [60, 0], ids=["page-cache-on", "page-cache-off"])
def test_a_change_shows_on_a_second_process_without_a_restart(admin_client, app, database_url, tmp_path,
                                                              app_config, page_cache):
    other = second_process(database_url, tmp_path, app_config, PAGE_CACHE_SECONDS=page_cache)
    try:
        visitor = other.test_client()
        for path in ("/", "/privacy", "/feed.xml"):
            assert "Portico Env" in visitor.get(path).get_data(as_text=True) or path == "/privacy"
        if page_cache:
            assert other.extensions["page_cache"].entries, "the second process should be serving from its page cache"
        assert admin_client.post("/admin/settings", data=form_data()).status_code == 303
        home = wait_for(visitor, "/", SITE_NAME)
        assert SITE_NAME in home and f"mailto:{EMAIL}" in home and "Portico Env" not in home
        assert CONSULTANT in wait_for(visitor, "/privacy", CONSULTANT)
        assert SITE_NAME in wait_for(visitor, "/feed.xml", SITE_NAME)
        # Cached per content version: with nothing changed, the second process reads no row again.
        with other.app_context():
            cache = site_settings.cache_for(other)
            first = site_settings.current()
            assert site_settings.current() is first and cache._held[1] is first
    finally:
        with other.app_context():
            db.engine.dispose()


# --- emails -----------------------------------------------------------------------------------------

def test_emails_use_the_new_name_and_address(admin_client, app):
    admin_client.post("/admin/settings", data=form_data())
    response = app.test_client().post("/contact", data=valid_data(name="Zoë Ñúñez", email="zoe@example.com"))
    assert response.status_code == 303
    db.session.rollback()
    notification, acknowledgement = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert (notification.to_addr, notification.to_name) == (EMAIL, CONSULTANT)
    assert (acknowledgement.reply_to, acknowledgement.reply_to_name) == (EMAIL, CONSULTANT)
    assert CONSULTANT in acknowledgement.text_body and f"reply from {EMAIL}" in acknowledgement.text_body
    assert SITE_NAME in acknowledgement.html_body and '<html lang="fa-IR">' in acknowledgement.html_body
    assert "Env Consultant" not in acknowledgement.text_body + acknowledgement.html_body


def test_the_calendar_feed_names_the_consultant_from_the_settings(admin_client, app):
    admin_client.post("/admin/settings", data=form_data())
    body = app.test_client().get("/training/calendar.ics").get_data(as_text=True)
    assert f"X-WR-CALNAME:{SITE_NAME} training sessions" in body.replace("\r\n ", "")


# --- the switch away from app.config is complete -----------------------------------------------------

ALLOWED = {"config.py", "models/site_settings.py", "cli/seeding/site_settings.py"}


def test_only_the_accessor_and_the_seed_read_these_settings_from_the_environment():
    """SITE_NAME, CONSULTANT_NAME, CONSULTANT_EMAIL and SITE_TIMEZONE are seed defaults: the app reads site_settings."""
    files = subprocess.run(["git", "ls-files", "*.py", "*.html", "*.txt", "*.xml"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    offenders = []
    pattern = re.compile(r"config(\.|\[['\"])(SITE_NAME|CONSULTANT_NAME|CONSULTANT_EMAIL|SITE_TIMEZONE)\b")
    for name in files:
        if name in ALLOWED or name.startswith(("tests/", "docs/", "migrations/")):
            continue
        text = (Path(ROOT) / name).read_text(encoding="utf-8", errors="replace")
        offenders += [f"{name}: {line.strip()}" for line in text.splitlines() if pattern.search(line)]
    assert offenders == []
