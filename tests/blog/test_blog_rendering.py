"""Markdown rendering for posts: anchors, contents, lists, highlighted code, tables, figures, sanitising."""
from __future__ import annotations

import pytest

from models import Post
from web.markdown import Rendered, render_document, render_markdown, slugify


def test_headings_get_unique_ids_and_make_the_table_of_contents():
    result = render_document("## Docker Swarm\n\ntext\n\n### Worker Node\n\n## Docker Swarm\n\n#### Deep\n")
    assert '<h2 id="docker-swarm">Docker Swarm</h2>' in result.html
    assert '<h3 id="worker-node">Worker Node</h3>' in result.html
    assert '<h2 id="docker-swarm-2">Docker Swarm</h2>' in result.html
    assert '<h4 id="deep">Deep</h4>' in result.html
    assert result.toc == [
        {"level": 2, "id": "docker-swarm", "text": "Docker Swarm"},
        {"level": 3, "id": "worker-node", "text": "Worker Node"},
        {"level": 2, "id": "docker-swarm-2", "text": "Docker Swarm"},
    ]


def test_heading_ids_avoid_the_page_own_ids_and_strip_punctuation():
    result = render_document("## Comments\n\n## OS-Level Virtualization Again !!\n\n## ???\n")
    assert 'id="comments"' not in result.html
    assert 'id="comments-2"' in result.html
    assert 'id="os-level-virtualization-again"' in result.html
    assert 'id="section"' in result.html
    assert slugify("But why network need virtualization?") == "but-why-network-need-virtualization"


def test_a_body_h1_becomes_h2_because_the_title_is_the_page_h1():
    html = render_markdown("# Big\n")
    assert html.strip() == '<h2 id="big">Big</h2>'


def test_lists_and_tables():
    html = render_markdown("- one\n- two\n\n1. first\n2. second\n\n| Port | Protocol |\n| --- | --- |\n| 2377 | TCP |\n")
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert "<ol>\n<li>first</li>\n<li>second</li>\n</ol>" in html
    assert "<th>Port</th>" in html and "<td>2377</td>" in html and "<table>" in html


def test_fenced_code_is_highlighted_with_classes_and_kept_as_typed():
    html = render_markdown("```console\n$ sudo docker swarm init --advertise-addr 192.168.1.10\nSwarm initialized\n```\n")
    assert '<div class="highlight"><pre tabindex="0"><code class="language-console">' in html
    assert '<span class="gp">$ </span>' in html  # the prompt, styled apart from the command
    assert '<span class="go">Swarm initialized</span>' in html  # the output
    assert "--advertise-addr" in html
    assert "–" not in html  # no en dash sneaks in (typographer off)
    assert "style=" not in html  # classes only: the CSP forbids inline styles


def test_code_in_an_unknown_language_is_escaped_not_highlighted():
    html = render_markdown("```klingon\na < b && <script>\n```\n")
    assert '<code class="language-klingon">a &lt; b &amp;&amp; &lt;script&gt;' in html
    assert "<span" not in html


def test_a_titled_image_alone_in_a_paragraph_becomes_a_figure_with_caption():
    html = render_markdown('![Two stacks](/static/img/x.svg "Containers share the kernel")\n\nAfter.\n\n![inline](/a.png) text\n')
    assert '<figure class="figure">' in html
    assert '<img src="/static/img/x.svg" alt="Two stacks">' in html
    assert "<figcaption>Containers share the kernel</figcaption>" in html
    assert "<p>After.</p>" in html
    assert '<p><img src="/a.png" alt="inline"> text</p>' in html


def test_raw_figure_html_is_kept():
    html = render_markdown('<figure class="figure">\n<img src="/static/img/a.svg" alt="A">\n<figcaption>Cap</figcaption>\n</figure>\n')
    assert "<figure" in html and 'alt="A"' in html and "<figcaption>Cap</figcaption>" in html


@pytest.mark.parametrize(
    ("markdown", "forbidden"),
    [
        ("Hi <script>alert('x')</script> there", ["<script", "alert("]),
        ("<script>\nalert(1)\n</script>\n", ["<script", "alert("]),
        ("[click](javascript:alert(1))", ["<a", "href"]),  # left as harmless text
        ('<a href="JaVaScRiPt:alert(1)">x</a>', ["javascript:", "href"]),
        ('<a href="&#106;avascript:alert(1)">x</a>', ["avascript", "href"]),
        ('<img src="x" onerror="alert(1)">', ["onerror", "alert("]),
        ('<p onclick="steal()">x</p>', ["onclick", "steal"]),
        ('<iframe src="https://evil.example/"></iframe>', ["<iframe", "evil.example"]),
        ("<iframe>\n<p>inside</p>\n</iframe>\n", ["<iframe", "inside"]),
        ('<svg><script>alert(2)</script></svg>', ["<svg", "<script", "alert("]),
        ('<style>body{display:none}</style>', ["<style", "display"]),
        ('<object data="x.swf"></object><embed src="y.swf">', ["<object", "<embed", ".swf"]),
        ('<p style="position:fixed">x</p>', ["style="]),
        ('<form action="https://evil.example"><input name="q"></form>', ["<form", "<input"]),
        ('![x](data:text/html;base64,PHNjcmlwdD4=)', ["<img", "src="]),
        ('<img src="data:image/svg+xml;base64,PHN2Zz4=">', ["data:"]),
    ],
)
def test_unsafe_markup_is_removed_when_rendered(markdown, forbidden):
    html = render_markdown(markdown)
    for needle in forbidden:
        assert needle.lower() not in html.lower(), f"{needle!r} survived in {html!r}"


def test_only_the_code_block_tabindex_survives():
    html = render_markdown('<pre tabindex="5">a</pre>\n\n<p tabindex="0">b</p>\n\n<pre tabindex="0">c</pre>\n')
    assert html.count("tabindex") == 1 and '<pre tabindex="0">c</pre>' in html


def test_external_links_get_rel_noopener():
    html = render_markdown("[site](https://example.com/)")
    assert '<a href="https://example.com/" rel="noopener noreferrer">site</a>' in html


def test_reading_time_counts_words():
    assert render_document("word " * 10).reading_minutes == 1
    assert render_document("word " * 401).reading_minutes == 3
    assert Rendered(html="", words=0).reading_minutes == 1


def test_setting_a_post_body_fills_html_toc_and_reading_time_and_sanitises():
    post = Post(slug="x", title="X", body="## Part one\n\n" + "word " * 450 + "\n\n<script>alert(1)</script>")
    assert post.body_html.startswith('<h2 id="part-one">Part one</h2>')
    assert "<script" not in post.body_html
    assert post.toc == [{"level": 2, "id": "part-one", "text": "Part one"}]
    assert post.reading_minutes == 3
    post.body = "Short now."
    assert post.toc == [] and post.reading_minutes == 1 and post.body_html == "<p>Short now.</p>\n"


def test_the_cli_re_renders_posts(runner, app):
    from extensions import db
    from tests.factories import make_post

    post = make_post(body="## New heading\n\ntext")
    post.body_html, post.toc = "<p>stale</p>", []
    db.session.commit()
    result = runner.invoke(args=["posts", "render"])
    assert result.exit_code == 0 and "Rendered 1 post." in result.output
    db.session.expire_all()
    assert 'id="new-heading"' in post.body_html and post.toc[0]["id"] == "new-heading"
    assert runner.invoke(args=["posts", "render", "nope"]).exit_code != 0
