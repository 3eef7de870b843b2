"""The public site's pages, errors and health check."""
from __future__ import annotations

import os
import re
import sqlite3
import time

import pytest
from sqlalchemy import func, select

from cli.seeding import seed_all
from extensions import db
from models import Course, Post, Service

SEED_AREAS = ["Public Cloud", "Private Cloud", "Virtualization", "Network", "Support", "Training"]


@pytest.fixture
def seeded(app):
    seed_all()
    return app


def title_of(response) -> str:
    match = re.search(r"<title>(.*?)</title>", response.get_data(as_text=True), re.S)
    assert match, "page has no <title>"
    return match.group(1)


@pytest.mark.parametrize(
    ("url", "title"),
    [
        ("/", "Freelance infrastructure consultant"),
        ("/services", "Services"),
        ("/services/public-cloud", "Public Cloud"),
        ("/services/network", "Network"),
        ("/privacy", "Privacy"),
        ("/contact", "Contact"),
        ("/training", "Training"),
        ("/blog", "Articles"),
    ],
)
def test_public_pages_answer_with_their_title(client, seeded, url, title):
    response = client.get(url)
    assert response.status_code == 200
    assert title_of(response).startswith(title)
    assert 'name="description"' in response.get_data(as_text=True)


def test_home_shows_all_six_areas_and_availability(client, seeded):
    html = client.get("/").get_data(as_text=True)
    for area in SEED_AREAS:
        assert area in html
    assert "Available for freelance work" in html
    assert "linustribe@gmail.com" in html  # the footer's contact address


def test_service_page_lists_every_item_the_seed_names(client, seeded):
    expected = {
        "public-cloud": ["AWS"],
        "private-cloud": ["OpenStack", "CloudStack"],
        "virtualization": ["VMware vSphere", "Citrix Xen", "KVM", "Docker", "Kubernetes"],
        "network": ["L2/L3", "SDN", "SDDC", "SD-WAN"],
        "support": ["Remote", "Troubleshooting", "nstallation", "onfiguration"],
        "training": ["Linux", "Nuage", "OpenStack", "Docker", "Kubernetes"],
    }
    for slug, words in expected.items():
        html = client.get(f"/services/{slug}").get_data(as_text=True)
        for word in words:
            assert word in html, f"{word!r} missing from /services/{slug}"


@pytest.mark.parametrize("url", ["/services/no-such-thing", "/no/such/page", "/blog/not-a-post", "/training/not-a-course"])
def test_unknown_addresses_get_the_404_page(client, seeded, url):
    response = client.get(url)
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_wrong_method_gets_405_with_allow(client, seeded):
    response = client.delete("/services")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert "Method not allowed" in response.get_data(as_text=True)


def test_robots_and_sitemap_use_site_url(client, seeded, app):
    robots = client.get("/robots.txt").get_data(as_text=True)
    assert "Disallow: /admin/" in robots
    assert f"Sitemap: {app.config['SITE_URL']}/sitemap.xml" in robots
    sitemap = client.get("/sitemap.xml")
    assert sitemap.mimetype == "application/xml"
    locs = re.findall(r"<loc>(.*?)</loc>", sitemap.get_data(as_text=True))
    base = app.config["SITE_URL"]
    for path in ["/", "/services", "/services/public-cloud", "/privacy", "/contact", "/training", "/blog"]:
        assert base + path in locs
    assert all(loc.startswith(base + "/") for loc in locs)
    assert not any("/admin" in loc for loc in locs)


def test_healthz_ok_when_database_answers(client, app):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@pytest.mark.parametrize("url", [
    "sqlite:///{tmp}/no-such-dir/db.sqlite",  # SQLite cannot open a file in a missing folder
    "postgresql+psycopg://postgres@127.0.0.1:1/none",  # nothing listens on port 1: connection refused
])
def test_a_database_outage_is_the_503_page_and_healthz_503(tmp_path, url):
    from tests.conftest import make_app

    app = make_app(url.format(tmp=tmp_path), tmp_path, PROPAGATE_EXCEPTIONS=False)
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["status"] != "ok"
    for path in ("/services", "/", "/training", "/contact"):
        page = client.get(path)
        assert page.status_code == 503, path
        assert page.headers["Retry-After"] == "30"
        body = page.get_data(as_text=True)
        assert "Temporarily unavailable" in body
        assert "Traceback" not in body and "sqlite" not in body.lower() and "psycopg" not in body.lower()


def test_healthz_503_while_sqlite_refuses_writes(client, app):
    """Another process holds SQLite's write lock (a stuck writer): reads still answer, writes would not."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the write probe is SQLite's")
    path = db.engine.url.database
    size = os.path.getsize(path)
    assert client.get("/healthz").status_code == 200
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        health = client.get("/healthz")
        assert health.status_code == 503 and health.get_json()["database"] == "down"
        assert time.monotonic() - started < 5  # the probe's own short wait, not the pages' busy timeout
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert client.get("/healthz").status_code == 200
    assert os.path.getsize(path) == size  # the probe writes nothing


def test_seed_twice_changes_nothing_and_keeps_edits(app):
    first = seed_all()
    assert first["services"] == 6 and first["courses"] == 5 and first["posts"] == 1
    service = db.session.scalar(select(Service).where(Service.slug == "network"))
    service.summary = "Edited by the consultant."
    db.session.commit()
    counts = lambda: [db.session.scalar(select(func.count()).select_from(m)) for m in (Service, Course, Post)]  # noqa: E731
    before = counts()
    second = seed_all()
    assert set(second.values()) == {0}
    assert counts() == before
    db.session.refresh(service)
    assert service.summary == "Edited by the consultant."


def test_seed_command_reports_what_it_added(runner):
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert "6 services" in result.output
    again = runner.invoke(args=["seed"])
    assert "0 services" in again.output


def test_every_page_has_the_layout_landmarks(client, seeded):
    html = client.get("/services").get_data(as_text=True)
    assert 'class="skip-link" href="#main"' in html
    assert '<main id="main"' in html
    assert '<nav class="site-nav" aria-label="Main">' in html
    assert "<footer" in html
    assert "style=" not in html and "<script" not in html
    assert "http://" not in re.sub(r'href="http://localhost[^"]*"', "", html.split("</head>")[0])


HTTPS_SITE = "https://consultant.example"


@pytest.mark.parametrize("app_config", [{"SITE_URL": HTTPS_SITE}])
def test_absolute_urls_name_the_site_url_in_the_sitemap_robots_feed_and_emails(app, app_config, seeded):
    from models import Enquiry, OutboxMessage
    from tests.enquiries.test_enquiries_form import valid_data

    client = app.test_client()
    get = lambda path: client.get(path, base_url=HTTPS_SITE).get_data(as_text=True)  # noqa: E731
    assert f"Sitemap: {HTTPS_SITE}/sitemap.xml\n" in get("/robots.txt")
    locs = re.findall(r"<loc>(.*?)</loc>", get("/sitemap.xml"))
    assert f"{HTTPS_SITE}/" in locs and f"{HTTPS_SITE}/services/public-cloud" in locs
    assert all(loc.startswith(HTTPS_SITE + "/") for loc in locs)
    article = "/blog/virtualization-and-containerization"
    page = get(article)
    assert f'<link rel="canonical" href="{HTTPS_SITE}{article}">' in page
    assert f'"url": "{HTTPS_SITE}{article}"' in page and f'"url": "{HTTPS_SITE}/"' in page
    assert f'<link rel="canonical" href="{HTTPS_SITE}/blog">' in get("/blog")
    feed = get("/feed.xml")
    assert f"<id>{HTTPS_SITE}/feed.xml</id>" in feed and f"<uri>{HTTPS_SITE}/</uri>" in feed

    response = client.post("/contact", data=valid_data(), base_url=HTTPS_SITE)
    assert response.status_code == 303
    enquiry = db.session.scalar(select(Enquiry))
    bodies = " ".join(m.text_body + m.html_body for m in db.session.scalars(select(OutboxMessage)))
    assert f"{HTTPS_SITE}/admin/enquiries/{enquiry.id}" in bodies and f"{HTTPS_SITE}/privacy" in bodies
