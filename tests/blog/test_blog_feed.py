"""The Atom feed at /feed.xml: valid, absolute, full content, only visible posts."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import feedparser
import pytest

from cli.seeding import seed_all
from tests.factories import make_post, make_tag

ARTICLE_URL = "http://localhost/blog/virtualization-and-containerization"


@pytest.fixture
def seeded(app):
    seed_all()
    return app


def parse(client):
    response = client.get("/feed.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    return feedparser.parse(response.data)


def test_feed_parses_cleanly_and_contains_the_article_in_full(client, seeded):
    feed = parse(client)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.link == "http://localhost/blog"
    assert [link.href for link in feed.feed.links if link.rel == "self"] == ["http://localhost/feed.xml"]
    entry = feed.entries[0]
    assert entry.title == "Virtualization and Containerization"
    assert entry.link == ARTICLE_URL and entry.id == ARTICLE_URL
    content = entry.content[0].value
    assert "docker swarm init --advertise-addr 192.168.1.10" in unescape(re.sub(r"<[^>]+>", "", content))
    assert "Docker Swarm" in content and "This is all for basic level" in content
    # images and links inside the content are absolute
    assert 'src="http://localhost/static/img/container-stack.svg"' in content
    assert 'src="/static' not in content
    assert {t.term for t in entry.tags} >= {"docker", "virtualization"}
    assert entry.published_parsed[:3] == (2019, 6, 3)


def test_feed_has_only_visible_posts_newest_first(client, app):
    now = datetime.now(UTC)
    older = make_post(title="Older", published_at=now - timedelta(days=3))
    newer = make_post(title="Newer", published_at=now - timedelta(days=1))
    make_post(title="Draft", status="draft", published_at=None)
    make_post(title="Scheduled", published_at=now + timedelta(days=1))
    feed = parse(client)
    assert feed.bozo == 0
    assert [e.title for e in feed.entries] == ["Newer", "Older"]
    assert all(e.link.startswith("http://localhost/blog/") for e in feed.entries)
    assert feed.entries[0].link.endswith(newer.slug) and feed.entries[1].link.endswith(older.slug)


def test_feed_escapes_titles_and_content(client, app):
    make_post(title="Ampersands & <angles>", summary="a < b", body="Use `a && b` and <b>bold</b>.",
              tags=[make_tag("C & C++")])
    feed = parse(client)
    assert feed.bozo == 0
    assert feed.entries[0].title == "Ampersands & <angles>"
    assert "a &amp;&amp; b" in feed.entries[0].content[0].value


def test_an_empty_feed_is_still_valid(client, app):
    feed = parse(client)
    assert feed.bozo == 0 and feed.entries == []


@pytest.mark.parametrize("app_config", [{"SITE_URL": "https://consultant.example"}])
def test_feed_urls_come_from_site_url(client, app, app_config):
    post = make_post()
    feed = feedparser.parse(client.get("/feed.xml", base_url="https://consultant.example").data)
    assert feed.bozo == 0
    assert feed.entries[0].link == f"https://consultant.example/blog/{post.slug}"


def test_control_characters_in_a_post_cannot_break_the_feed(client):
    """A title pasted with a control character still gives valid XML (NUL itself: PostgreSQL stores none)."""
    tag = make_tag("Ré\x1bseaux")
    make_post(title="Bad\x01 title\x08 \x1f«über» \ufffe\uffff", summary="Sum\x0bmary\x0c", tags=[tag],
              body="Body with \x07 a bell and a tab\tand 𝔘𝔫𝔦𝔠𝔬𝔡𝔢")
    response = client.get("/feed.xml")
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", response.get_data(as_text=True))
    feed = feedparser.parse(response.data)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.entries[0].title.strip() == "Bad title «über»"
    assert feed.entries[0].summary == "Summary"
    assert "𝔘𝔫𝔦𝔠𝔬𝔡𝔢" in feed.entries[0].content[0].value
