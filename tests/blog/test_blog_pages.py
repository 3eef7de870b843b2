"""Public blog pages: the list and its pages, posts, tags, drafts and scheduling, sitemap, home page."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from cli.seeding import seed_all
from extensions import db
from tests.factories import make_course, make_post, make_tag

ARTICLE = "/blog/virtualization-and-containerization"
NOW = datetime.now(UTC)


@pytest.fixture
def seeded(app):
    seed_all()
    return app


def text(response) -> str:
    return response.get_data(as_text=True)


def post_links(html: str) -> list[str]:
    return re.findall(r'<h2><a href="/blog/([^"]+)">', html)


# --- visibility -----------------------------------------------------------------------------

def test_drafts_and_scheduled_posts_are_invisible_everywhere(client, app):
    tag = make_tag("Secret")
    visible = make_post(title="Visible one", tags=[tag])
    draft = make_post(title="A draft", status="draft", published_at=None, tags=[tag])
    unpublished_dated = make_post(title="Draft with date", status="draft", published_at=NOW - timedelta(days=1))
    scheduled = make_post(title="Scheduled", published_at=NOW + timedelta(hours=2), tags=[make_tag("Future")])
    for hidden in (draft, unpublished_dated, scheduled):
        assert client.get(f"/blog/{hidden.slug}").status_code == 404
    for url in ("/blog", "/blog/tag/secret", "/feed.xml", "/sitemap.xml", "/"):
        body = text(client.get(url))
        assert visible.slug in body, url
        for hidden in (draft, unpublished_dated, scheduled):
            assert hidden.slug not in body, (url, hidden.slug)
    # a tag whose only post is scheduled has no public page and is not in the sitemap
    assert client.get("/blog/tag/future").status_code == 404
    assert "/blog/tag/future" not in text(client.get("/sitemap.xml"))


def test_a_scheduled_post_appears_once_its_time_comes(client, app):
    post = make_post(title="Soon", published_at=NOW + timedelta(hours=1))
    assert client.get(f"/blog/{post.slug}").status_code == 404
    post.published_at = NOW - timedelta(seconds=1)
    db.session.commit()
    assert client.get(f"/blog/{post.slug}").status_code == 200
    assert post.slug in text(client.get("/blog"))


def test_unknown_post_and_tag_are_404(client, app):
    assert client.get("/blog/no-such-post").status_code == 404
    assert client.get("/blog/tag/no-such-tag").status_code == 404


# --- pagination -----------------------------------------------------------------------------

def test_eleven_posts_make_two_pages_newest_first(client, app):
    posts = [make_post(title=f"Number {i}", published_at=NOW - timedelta(days=i)) for i in range(11)]
    first = text(client.get("/blog"))
    assert post_links(first) == [p.slug for p in posts[:10]]
    assert "Page 1 of 2" in first and 'href="/blog?page=2"' in first
    second = client.get("/blog?page=2")
    assert second.status_code == 200
    assert post_links(text(second)) == [posts[10].slug]
    assert 'href="/blog"' in text(second)  # back to the first page
    assert client.get("/blog?page=3").status_code == 404


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "99999999999999999999", "%00", "2e3"])
def test_a_bad_page_number_is_404_never_500(client, app, page):
    make_post()
    assert client.get(f"/blog?page={page}").status_code == 404
    assert client.get(f"/blog/tag/x?page={page}").status_code == 404


def test_an_empty_blog_has_a_first_page_only(client, app):
    response = client.get("/blog")
    assert response.status_code == 200 and "No articles yet" in text(response)
    assert client.get("/blog?page=2").status_code == 404


# --- tags -----------------------------------------------------------------------------------

def test_tag_page_lists_only_that_tag_posts_and_paginates(client, app):
    docker, other = make_tag("Docker"), make_tag("Other")
    tagged = [make_post(tags=[docker], published_at=NOW - timedelta(days=i)) for i in range(12)]
    untagged = make_post(tags=[other])
    page1 = text(client.get("/blog/tag/docker"))
    assert "Articles tagged “Docker”" in page1
    assert post_links(page1) == [p.slug for p in tagged[:10]]
    assert untagged.slug not in page1
    assert post_links(text(client.get("/blog/tag/docker?page=2"))) == [p.slug for p in tagged[10:]]
    assert client.get("/blog/tag/docker?page=3").status_code == 404
    assert 'href="/blog/tag/docker"' in text(client.get(f"/blog/{tagged[0].slug}"))


# --- the post page --------------------------------------------------------------------------

def test_post_page_has_meta_toc_cta_and_structured_data(client, app):
    course = make_course(slug="docker", title="Docker")
    make_course(slug="hidden", title="Hidden course", published=False)
    post = make_post(title='Swarm "tips" </script><script>alert(1)</script>', summary="About swarms & more.",
                     body="## Part one\n\n### Detail\n\ntext", course_slugs=["docker", "hidden", "missing"],
                     tags=[make_tag("Docker")])
    html = text(client.get(f"/blog/{post.slug}"))
    url = f"http://localhost/blog/{post.slug}"
    assert f'<link rel="canonical" href="{url}">' in html
    assert f'<meta property="og:url" content="{url}">' in html
    assert '<meta property="og:type" content="article">' in html
    assert '<meta name="twitter:card" content="summary">' in html
    assert 'min read' in html and post.published_at.strftime("%Y") in html
    assert '<a href="#part-one">Part one</a>' in html and '<a href="#detail">Detail</a>' in html
    assert '<h2 id="part-one">Part one</h2>' in html
    assert 'href="/training/docker"' in html and course.title in html
    assert "/training/hidden" not in html and "/training/missing" not in html
    assert "<script>alert(1)</script>" not in html  # the title is escaped everywhere, JSON-LD included
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert len(blocks) == 1
    data = json.loads(blocks[0])
    assert data["@type"] == "BlogPosting" and data["headline"] == post.title
    assert data["url"] == url and data["datePublished"].startswith(post.published_at.strftime("%Y-%m-%d"))
    assert data["keywords"] == ["Docker"]


def test_ld_json_is_data_the_csp_does_not_need_to_allow(client, app):
    post = make_post()
    response = client.get(f"/blog/{post.slug}")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    # the only inline <script> on the page is the JSON-LD data block, which browsers never execute
    scripts = re.findall(r"<script([^>]*)>", text(response))
    assert scripts == [' type="application/ld+json"']


# --- the seeded article ---------------------------------------------------------------------

ARTICLE_SECTIONS = [
    "Types of Virtualization", "Server Virtualization", "Full Virtualization", "Para-Virtualization",
    "OS Level Virtualization", "A bit on Network Virtualization", "But why network need virtualization?",
    "OS-Level Virtualization Again !!", "The OS is virtualized not the Hardware", "Containers are based on images",
    "Contents of a Container", "Docker instance initialization steps", "Docker Compose", "Dockerfile",
    "Contents of Dockerfile", "Docker Swarm", "Worker Node", "Manager Node", "On Swarm Manager Node",
    "On Swarm worker Node",
]


def test_the_article_shows_every_section_its_commands_as_typed_and_the_figure(client, seeded):
    response = client.get(ARTICLE)
    assert response.status_code == 200
    html = text(response)
    headings = [unescape(re.sub(r"<[^>]+>", "", h)) for h in re.findall(r"<h[23] id=\"[^\"]+\">(.*?)</h[23]>", html)]
    for section in ARTICLE_SECTIONS:
        assert section in headings, section
    plain = unescape(re.sub(r"<[^>]+>", "", html))
    assert "sudo docker swarm init --advertise-addr 192.168.1.10" in plain
    assert "sudo docker swarm join --token [token] [IP_OF_MANAGER_NODE]" in plain
    assert "–advertise-addr" not in plain and "–token" not in plain
    assert "docker run -ti busybox /bin/bash" in plain
    assert '<img src="/static/img/container-stack.svg" alt="' in html
    assert "<figcaption>" in html
    # the ports and the Dockerfile directives read as tables
    assert "<td>2377</td>" in html and "<td><code>EXPOSE</code></td>" in html
    # every command and its output is a code block
    assert html.count('<div class="highlight">') >= 4
    # the training call to action points at the Docker and Kubernetes courses
    assert 'href="/training/docker"' in html and 'href="/training/kubernetes"' in html
    with client.get("/static/img/container-stack.svg") as image:
        assert image.status_code == 200


def test_the_figure_svg_uses_no_inline_style_the_csp_would_block(client, app):
    with client.get("/static/img/container-stack.svg") as response:
        svg = text(response)
    assert "<style" not in svg and "style=" not in svg
    assert "<title" in svg and "<desc" in svg
    for label in ("Host hardware", "Host OS", "Docker Engine", "Hypervisor", "Guest OS"):
        assert label in svg


def test_sitemap_and_home_list_the_article(client, seeded):
    sitemap = text(client.get("/sitemap.xml"))
    assert f"<loc>http://localhost{ARTICLE}</loc>" in sitemap
    assert "<loc>http://localhost/blog/tag/docker</loc>" in sitemap
    home = text(client.get("/"))
    assert f'href="{ARTICLE}"' in home
    for url in re.findall(r"<loc>http://localhost([^<]+)</loc>", sitemap):
        if url.startswith("/blog"):
            assert client.get(url).status_code == 200, url


def test_seeding_twice_keeps_one_article_rendered_with_toc(client, seeded):
    from models import Post

    seed_all()
    posts = db.session.scalars(db.select(Post)).all()
    assert len(posts) == 1
    assert posts[0].toc and posts[0].reading_minutes > 1 and 'id="docker-swarm"' in posts[0].body_html
    assert posts[0].updated_at == posts[0].published_at
