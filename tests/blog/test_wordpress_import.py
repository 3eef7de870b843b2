"""`flask import wordpress`: an export in WordPress's own format -> posts, drafts, comments, media, redirects."""
from __future__ import annotations

import io
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from markdown_it import MarkdownIt
from PIL import Image
from sqlalchemy import func, select

from cli.seeding import seed_all
from extensions import db
from models import AuditLog, Comment, ImportedItem, MediaFile, Post, Redirect, Tag
from tests.blog.wxr import SITE, C, P, export_xml, write
from tests.training.helpers import NoRedirect, serving
from web.markdown import render_document

SEED = "virtualization-and-containerization"


def seed_article_html() -> tuple[str, list[str]]:
    """The seed article as WordPress held it: HTML, one paragraph a line (the editor's), and its headings in order."""
    from pathlib import Path

    source = (Path(__file__).parents[2] / "content/posts/virtualization-and-containerization.md").read_text()
    body = source.split("---", 2)[2] if source.startswith("---") else source
    rendered = MarkdownIt("commonmark").enable("table").render(body)
    rendered = re.sub(r"<p>(.*?)</p>", lambda m: "<p>" + m.group(1).replace("\n", " ") + "</p>", rendered, flags=re.S)
    headings = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<h[23]>(.*?)</h[23]>", rendered)]
    return rendered, headings


def jpeg_with_exif(width=64, height=48) -> bytes:
    image = Image.new("RGB", (width, height), (30, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}  # GPS position
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"private note")
    return out.getvalue()


KUBERNETES = """Kubernetes ist kein Hexenwerk.
Zweite Zeile im selben Absatz.

<h2>Warum Kubernetes?</h2>
Weil Container <strong>Orchestrierung</strong> brauchen &amp; Ordnung.

[caption id="attachment_50" align="aligncenter" width="300"]<a href="https://alt.beispiel.de/wp-content/uploads/2020/03/cluster.jpg"><img class="size-medium wp-image-50" src="https://alt.beispiel.de/wp-content/uploads/2020/03/cluster-300x225.jpg" alt="Ein Cluster" width="300" height="225" /></a> Der Cluster im Überblick[/caption]

<h3>Erste Schritte</h3>
[code language="bash"]
kubectl get pods --all-namespaces
echo "a &amp;&amp; b" > /tmp/x
[/code]

[contact-form-7 id="9" title="Kontakt"]

https://www.youtube.com/watch?v=PH-2FfFD2PU

Die Folien: <a href="https://alt.beispiel.de/wp-content/uploads/2020/03/folien.pdf">folien.pdf</a>
<script>alert("x")</script>
"""

GUTENBERG = """<!-- wp:paragraph -->
<p>Ein Beitrag aus dem Block-Editor.</p>
<!-- /wp:paragraph -->

<!-- wp:heading -->
<h2 class="wp-block-heading">Netzwerk</h2>
<!-- /wp:heading -->

<!-- wp:code -->
<pre class="wp-block-code"><code>ip link add br0 type bridge
ip addr show &lt;dev&gt;</code></pre>
<!-- /wp:code -->

<!-- wp:embed {"url":"https://vimeo.com/76979871","type":"video"} -->
<figure class="wp-block-embed is-type-video"><div class="wp-block-embed__wrapper">
https://vimeo.com/76979871
</div></figure>
<!-- /wp:embed -->"""


def standard_items(seed_title="Virtualization and Containerization, revisited") -> list[P]:
    html, _ = seed_article_html()
    return [
        P(12, seed_title, SEED, "2016-05-10 09:00:00", "2016-05-10 07:00:00", "Tue, 10 May 2016 07:00:00 +0000",
          content=html, link=f"{SITE}/2016/05/10/{SEED}/",
          terms=[("category", "uncategorized", "Uncategorized"), ("post_tag", "docker", "Docker")]),
        # Just after midnight in Berlin, still the day before in UTC: the dated link uses the blog's own date.
        P(25, "Über Kubernetes — ein Überblick für Einsteiger 日本語", "%c3%bcber-kubernetes",
          "2020-03-09 00:30:00", "2020-03-08 23:30:00", "Sun, 08 Mar 2020 23:30:00 +0000", content=KUBERNETES,
          excerpt="Kubernetes für Einsteiger, ohne Hexenwerk.", link=f"{SITE}/2020/03/09/%c3%bcber-kubernetes/",
          terms=[("category", "infrastruktur", "Infrastruktur"), ("category", "container", "Container"),
                 ("post_tag", "docker", "Docker")],
          comments=[
              C(101, "Jörg Müller", "jörg@exämple.de", "2020-03-10 08:00:00", "2020-03-10 07:00:00", "Danke!<br />Sehr hilfreich."),
              C(102, "Linus Tribe", "linustribe@gmail.com", "2020-03-10 09:00:00", "2020-03-10 08:00:00", "Gern geschehen, Jörg.", parent=101),
              C(103, "Jörg Müller", "jörg@exämple.de", "2020-03-10 10:00:00", "2020-03-10 09:00:00", "Noch eine Frage zu Pods.", parent=102),
              C(104, "Wartend", "wait@example.com", "2020-03-11 10:00:00", "2020-03-11 09:00:00", "Noch nicht freigegeben", approved="0"),
              C(105, "Cheap pills", "spam@example.com", "2020-03-11 11:00:00", "2020-03-11 10:00:00", "buy now", approved="spam"),
              C(106, "Other blog", "", "2020-03-12 11:00:00", "2020-03-12 10:00:00", "[…] linked here […]", type="pingback"),
          ]),
        P(26, "Netzwerk im Block-Editor", "netzwerk", "2021-07-01 12:00:00", "2021-07-01 10:00:00",
          "Thu, 01 Jul 2021 10:00:00 +0000", content=GUTENBERG, link=f"{SITE}/2021/07/01/netzwerk/"),
        P(30, "Bald erscheinend", "bald", "2099-01-01 10:00:00", "2099-01-01 09:00:00", "Thu, 01 Jan 2099 09:00:00 +0000",
          content="Zukunft.", status="future"),
        P(31, "Ein Entwurf", "", content="Noch nicht fertig.", status="draft"),
        P(40, "Über mich", "uber-mich", "2015-01-01 10:00:00", "2015-01-01 09:00:00", "Thu, 01 Jan 2015 09:00:00 +0000",
          content="Ich bin Berater.", type="page", link=f"{SITE}/uber-mich/"),
        P(41, "Kontakt", "contact", "2015-01-01 10:00:00", "2015-01-01 09:00:00", "Thu, 01 Jan 2015 09:00:00 +0000",
          content="Schreiben Sie mir.", type="page", link=f"{SITE}/contact/"),
        P(50, "cluster", "cluster", "2020-03-09 00:20:00", "2020-03-08 23:20:00", "Sun, 08 Mar 2020 23:20:00 +0000",
          type="attachment", status="inherit", parent=25, link=f"{SITE}/2020/03/09/%c3%bcber-kubernetes/cluster/",
          attachment_url=f"{SITE}/wp-content/uploads/2020/03/cluster.jpg",
          meta={"_wp_attached_file": "2020/03/cluster.jpg", "_wp_attachment_image_alt": "Ein Cluster"}),
        P(51, "folien", "folien", "2020-03-09 00:21:00", "2020-03-08 23:21:00", "Sun, 08 Mar 2020 23:21:00 +0000",
          type="attachment", status="inherit", parent=25, link=f"{SITE}/2020/03/09/%c3%bcber-kubernetes/folien/",
          attachment_url=f"{SITE}/wp-content/uploads/2020/03/folien.pdf", meta={"_wp_attached_file": "2020/03/folien.pdf"}),
        P(60, "Papierkorb", "weg", content="x", status="trash"),
    ]


@pytest.fixture
def seeded(app):
    seed_all()
    return app


@pytest.fixture
def media_dir(tmp_path):
    folder = tmp_path / "uploads" / "2020" / "03"
    folder.mkdir(parents=True)
    (folder / "cluster.jpg").write_bytes(jpeg_with_exif())
    (folder / "folien.pdf").write_bytes(b"%PDF-1.4 not an image")
    return tmp_path / "uploads"


def run_import(runner, path, *args):
    result = runner.invoke(args=["import", "wordpress", str(path), *args])
    return result


def counts() -> dict[str, int]:
    db.session.rollback()
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Post, Comment, Tag, Redirect, MediaFile, ImportedItem)}


def imported(runner, tmp_path, media_dir=None, items=None):
    path = write(tmp_path / "export.xml", items or standard_items())
    args = ["--media-dir", str(media_dir)] if media_dir else []
    result = run_import(runner, path, *args)
    assert result.exit_code == 0, result.output
    db.session.rollback()
    return result.output


def post(slug: str) -> Post:
    return db.session.scalar(select(Post).where(Post.slug == slug))


# --- what comes in ---------------------------------------------------------------------------

def test_posts_pages_and_their_fields(seeded, runner, tmp_path, media_dir):
    output = imported(runner, tmp_path, media_dir)
    k8s = post("uber-kubernetes")
    assert k8s.title == "Über Kubernetes — ein Überblick für Einsteiger 日本語"
    assert k8s.status == Post.PUBLISHED and k8s.published_at == datetime(2020, 3, 8, 23, 30, tzinfo=UTC)
    assert k8s.author_name == "Linus Tribe"
    assert k8s.updated_at == k8s.published_at  # WordPress's post_modified_gmt, not the time of the import
    assert k8s.summary == "Kubernetes für Einsteiger, ohne Hexenwerk."
    assert sorted(t.name.casefold() for t in k8s.tags) == ["container", "docker", "infrastruktur"]
    assert not db.session.scalar(select(Tag).where(Tag.slug == "uncategorized"))
    assert post("bald").state() == Post.SCHEDULED
    draft = post("ein-entwurf")
    assert draft.status == Post.DRAFT and draft.published_at is None
    assert post("uber-mich").status == Post.DRAFT and post("contact").status == Post.DRAFT  # pages: drafts to rework
    assert post("weg") is None and "“Papierkorb” (trash" in output
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "wordpress.import"))
    assert entry.detail["source"] == SITE and entry.detail["posts.created"] == 5 and entry.detail["comments.imported"] == 5
    # The seed article keeps its slug; the imported one with the same slug moves aside, and says so.
    assert post(SEED).title == "Virtualization and Containerization"
    assert post(f"{SEED}-2").title == "Virtualization and Containerization, revisited"
    assert f"/blog/{SEED} is another post's, so this one is /blog/{SEED}-2" in output


def test_bodies_are_converted_sanitised_and_editable(seeded, runner, tmp_path, media_dir):
    output = imported(runner, tmp_path, media_dir)
    body = post("uber-kubernetes").body
    assert body.startswith("<p>Kubernetes ist kein Hexenwerk.<br>\nZweite Zeile im selben Absatz.</p>")  # wpautop
    assert "\n## Warum Kubernetes?\n" in body and "\n### Erste Schritte\n" in body  # Markdown headings
    assert '```bash\nkubectl get pods --all-namespaces\necho "a && b" > /tmp/x\n```' in body
    assert '<figure class="figure"><a href="/media/2020/03/cluster.jpg"><img class="size-medium wp-image-50" src="/media/2020/03/cluster.jpg"' in body
    assert "<figcaption>Der Cluster im Überblick</figcaption></figure>" in body
    assert '<p><a href="https://www.youtube.com/watch?v=PH-2FfFD2PU">' in body  # an embed becomes a link
    assert '<p>[contact-form-7 id="9" title="Kontakt"]</p>' in body  # shown as text …
    assert "[contact-form-7]: no equivalent here, left as text" in output  # … and reported
    assert "script" not in body and "alert" not in body
    assert 'href="https://alt.beispiel.de/wp-content/uploads/2020/03/folien.pdf"' in body  # not an image: a link
    assert "folien.pdf: not a readable image; kept as a link to the old site" in output
    # Editing it in the editor and saving it again renders the same.
    again = render_document(body)
    assert again.html == post("uber-kubernetes").body_html
    gutenberg = post("netzwerk").body
    assert "<!--" not in gutenberg and "## Netzwerk" in gutenberg
    assert "```\nip link add br0 type bridge\nip addr show <dev>\n```" in gutenberg
    assert '<a href="https://vimeo.com/76979871">' in gutenberg


def test_media_is_reencoded_without_metadata_and_served(seeded, runner, tmp_path, media_dir, client):
    imported(runner, tmp_path, media_dir)
    media = db.session.scalar(select(MediaFile))
    assert media.name == "2020/03/cluster.jpg" and media.content_type == "image/jpeg"
    original = jpeg_with_exif()
    assert b"SecretCam" in original and b"private note" in original
    response = client.get("/media/2020/03/cluster.jpg")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    data = response.get_data()
    assert b"SecretCam" not in data and b"private note" not in data
    image = Image.open(io.BytesIO(data))
    assert image.size == (64, 48) and not image.getexif()
    assert client.get("/media/2020/03/cluster.jpg", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
    assert client.get("/media/2020/03/nothing.jpg").status_code == 404


def test_without_media_dir_images_stay_links_and_are_listed(seeded, runner, tmp_path):
    output = imported(runner, tmp_path)
    assert db.session.scalar(select(func.count()).select_from(MediaFile)) == 0
    assert "cluster.jpg (no --media-dir given: the body links to the old site)" in output
    assert 'src="https://alt.beispiel.de/wp-content/uploads/2020/03/cluster-300x225.jpg"' in post("uber-kubernetes").body


def test_comments_threads_moderation_and_private_emails(seeded, runner, tmp_path, media_dir, client, admin_client):
    output = imported(runner, tmp_path, media_dir)
    k8s = post("uber-kubernetes")
    by_name = {c.body.splitlines()[0]: c for c in db.session.scalars(select(Comment).where(Comment.post_id == k8s.id))}
    assert {b: c.status for b, c in by_name.items()} == {
        "Danke!": "approved", "Gern geschehen, Jörg.": "approved", "Noch eine Frage zu Pods.": "approved",
        "Noch nicht freigegeben": "pending", "buy now": "spam"}
    assert by_name["Gern geschehen, Jörg."].parent_id == by_name["Danke!"].id
    assert by_name["Noch eine Frage zu Pods."].parent_id == by_name["Gern geschehen, Jörg."].id
    assert by_name["Danke!"].author_email == "jörg@exämple.de"
    assert by_name["Danke!"].created_at == datetime(2020, 3, 10, 7, 0, tzinfo=UTC)
    assert "1 dropped" in output  # the pingback
    assert by_name["buy now"].moderated_at.date() == datetime.now(UTC).date()  # purged 30 days from now, not at once
    page = client.get("/blog/uber-kubernetes").get_data(as_text=True)
    assert "3 comments" in page and "Danke!<br>Sehr hilfreich." in page
    thread = page.split('id="comments"')[1].split('id="comment-form"')[0]
    assert "jörg@" not in page and "exämple" not in thread and "linustribe@gmail.com" not in thread
    assert "Noch nicht freigegeben" not in page and "buy now" not in page and "linked here" not in page
    # The reply sits inside the comment it answers, the answer to the reply inside that one.
    first = page.index(f'id="comment-{by_name["Danke!"].id}"')
    reply = page.index(f'id="comment-{by_name["Gern geschehen, Jörg."].id}"')
    nested = page.index(f'id="comment-{by_name["Noch eine Frage zu Pods."].id}"')
    assert first < reply < nested
    queue = admin_client.get("/admin/comments?status=pending").get_data(as_text=True)
    assert "Noch nicht freigegeben" in queue
    assert "buy now" in admin_client.get("/admin/comments?status=spam").get_data(as_text=True)
    assert page[first:nested].count('class="comment-list comment-replies"') == 2


def test_the_imported_article_renders_with_the_sections_of_the_original(seeded, runner, tmp_path, media_dir, client):
    imported(runner, tmp_path, media_dir)
    _, headings = seed_article_html()
    assert len(headings) > 15
    imported_page = client.get(f"/blog/{SEED}-2").get_data(as_text=True)
    seed_page = client.get(f"/blog/{SEED}").get_data(as_text=True)

    def sections(page: str) -> list[str]:
        article = re.split(r'<aside|id="comments"', page.split('<div class="prose post-body">')[1])[0]
        return [re.sub(r"<[^>]+>", "", h).replace("&#39;", "'") for h in re.findall(r'<h[23] id="[^"]+">(.*?)</h[23]>', article)]

    assert sections(imported_page) == headings == sections(seed_page)
    toc = [e["text"] for e in post(f"{SEED}-2").toc]
    assert toc == headings


def test_same_title_and_slug_is_the_same_article_not_a_copy(seeded, runner, tmp_path, media_dir, client):
    before = post(SEED).body
    output = imported(runner, tmp_path, media_dir, standard_items(seed_title="Virtualization and Containerization"))
    assert post(f"{SEED}-2") is None and post(SEED).body == before
    assert f"is already here at /blog/{SEED}" in output
    response = client.get("/?p=12")
    assert response.status_code == 301 and response.headers["Location"] == f"/blog/{SEED}"


# --- the old addresses, over real HTTP ------------------------------------------------------------

REDIRECTS = [
    ("/?p=25", "/blog/uber-kubernetes"),
    ("/index.php?p=25", "/blog/uber-kubernetes"),
    ("/2020/03/09/%c3%bcber-kubernetes/", "/blog/uber-kubernetes"),  # the blog's date, not UTC's 8 March
    ("/2020/03/09/%C3%9Cber-Kubernetes", "/blog/uber-kubernetes"),
    ("/2020/03/%c3%bcber-kubernetes/", "/blog/uber-kubernetes"),
    ("/%c3%bcber-kubernetes/", "/blog/uber-kubernetes"),
    ("/2016/05/10/virtualization-and-containerization/", f"/blog/{SEED}-2"),
    ("/2016/05/virtualization-and-containerization/", f"/blog/{SEED}-2"),
    ("/?p=12", f"/blog/{SEED}-2"),
    ("/2021/07/01/netzwerk/", "/blog/netzwerk"),
    ("/netzwerk", "/blog/netzwerk"),
    ("/category/infrastruktur/", "/blog/tag/infrastruktur"),
    ("/category/infrastruktur/container/", "/blog/tag/container"),
    ("/category/container/", "/blog/tag/container"),
    ("/?cat=3", "/blog/tag/infrastruktur"),
    ("/category/uncategorized/", "/blog"),
    ("/tag/docker/", "/blog/tag/docker"),
    ("/?tag=docker", "/blog/tag/docker"),
    ("/feed/", "/feed.xml"),
    ("/feed/atom/", "/feed.xml"),
    ("/comments/feed/", "/feed.xml"),
    ("/?feed=rss2", "/feed.xml"),
    ("/author/linus/", "/blog"),
    ("/2020/03/", "/blog"),  # date archives
    ("/2020/03/09/", "/blog"),
    ("/?m=202003", "/blog"),
    ("/?author=1", "/blog"),
    ("/2020/03/09/%c3%bcber-kubernetes/cluster/", "/media/2020/03/cluster.jpg"),  # attachment page
    ("/?attachment_id=50", "/media/2020/03/cluster.jpg"),
    ("/wp-content/uploads/2020/03/cluster.jpg", "/media/2020/03/cluster.jpg"),
    ("/2020/03/09/%c3%bcber-kubernetes/folien/", "/blog/uber-kubernetes"),  # not copied: its post
    ("/contact/", "/contact"),  # the WordPress page and this site's own contact page
]
NOT_FOUND = ["/2020/03/09/nie-geschrieben/", "/?p=9999", "/?p=31", "/?page_id=40", "/uber-mich/", "/bald/",
             "/category/nichts/", "/wp-admin/", "/?p=25%27"]


def fetch(url: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=30) as response:
            return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")


def test_every_old_permalink_answers_301_over_http(seeded, runner, tmp_path, media_dir):
    imported(runner, tmp_path, media_dir)
    with serving(seeded) as base:
        answers = {old: fetch(base + old) for old, _ in REDIRECTS}
        missing = {old: fetch(base + old)[0] for old in NOT_FOUND}
        followed = [urllib.request.urlopen(base + new, timeout=30).status for _, new in REDIRECTS]
        home = urllib.request.urlopen(base + "/?utm_source=x", timeout=30).status
    assert answers == {old: (301, new) for old, new in REDIRECTS}
    assert missing == dict.fromkeys(NOT_FOUND, 404)  # unknown, or the draft it leads to is not published yet
    assert set(followed) == {200} and home == 200


def test_a_redirect_follows_its_post_when_the_slug_changes_and_answers_once_published(seeded, runner, tmp_path, client):
    imported(runner, tmp_path)
    about = post("uber-mich")
    assert client.get("/uber-mich/").status_code == 404
    about.slug = "ueber-mich"
    about.publish()
    db.session.commit()
    response = client.get("/uber-mich/")
    assert response.status_code == 301 and response.headers["Location"] == "/blog/ueber-mich"


def test_the_redirect_table_is_in_the_admin(seeded, runner, tmp_path, media_dir, admin_client):
    imported(runner, tmp_path, media_dir)
    page = admin_client.get("/admin/redirects?q=kubernetes").get_data(as_text=True)
    assert "<code class=\"wrap-anywhere\">/2020/03/09/über-kubernetes</code>" in page
    assert 'href="/blog/uber-kubernetes"' in page and "WordPress post #25, dated link" in page
    drafts = admin_client.get("/admin/redirects?q=page_id").get_data(as_text=True)
    assert "not found (404): its post is not published" in drafts
    assert admin_client.get("/admin/redirects").status_code == 200
    assert "No redirect matches" in admin_client.get("/admin/redirects?q=zzzz").get_data(as_text=True)


# --- again, dry, broken --------------------------------------------------------------------------

def test_a_second_import_changes_nothing(seeded, runner, tmp_path, media_dir):
    imported(runner, tmp_path, media_dir)
    before = counts()
    stamps = {p.slug: p.updated_at for p in db.session.scalars(select(Post))}
    audits = db.session.scalar(select(func.count()).select_from(AuditLog))
    output = imported(runner, tmp_path, media_dir)
    assert counts() == before
    assert {p.slug: p.updated_at for p in db.session.scalars(select(Post))} == stamps
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == audits
    assert "Nothing changed: everything in this export was imported before." in output
    assert "Posts: 5 unchanged, 1 skipped" in output and "Comments: 5 unchanged, 1 dropped" in output
    assert re.search(r"^Redirects: \d+ unchanged$", output, re.M) and "Media: 1 unchanged, 1 linked" in output


def test_an_edited_post_is_never_overwritten(seeded, runner, tmp_path, media_dir):
    imported(runner, tmp_path, media_dir)
    edited = post("netzwerk")
    edited.body = "Rewritten here by the consultant."
    db.session.commit()
    items = standard_items()
    for item in items:
        if item.id in (26, 25):
            item.content += "\n\nNachtrag aus WordPress."
    output = imported(runner, tmp_path, media_dir, items)
    assert post("netzwerk").body == "Rewritten here by the consultant."
    assert "“Netzwerk im Block-Editor” (/blog/netzwerk) was edited here since it was imported: left as it is" in output
    assert "Nachtrag aus WordPress." in post("uber-kubernetes").body  # untouched here: updated from the export
    assert "updated: “Über Kubernetes" in output


def test_a_dry_run_prints_the_report_and_writes_nothing(seeded, runner, tmp_path, media_dir):
    before = counts()
    path = write(tmp_path / "export.xml", standard_items())
    result = run_import(runner, path, "--media-dir", str(media_dir), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "(dry run: nothing was written)" in result.output
    for line in ("Posts: 5 created", "Comments: 5 imported, 3 approved, 1 pending, 1 spam, 1 dropped",
                 "Media: 1 copied, 1 linked", "[contact-form-7]: no equivalent here"):
        assert line in result.output
    assert re.search(r"Redirects: \d+ created", result.output)
    assert counts() == before


BROKEN = {
    "truncated": (export_xml(standard_items())[:5000], "is not well-formed XML (line"),
    "billion laughs": ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
                       "<rss><channel><title>&lol2;</title></channel></rss>", "refused for safety"),
    "external entity": ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss><channel>'
                        "<title>&x;</title></channel></rss>", "refused for safety"),
    "not rss": ("<html><body>hello</body></html>", "not a WordPress export"),
    "plain feed": ('<rss version="2.0"><channel><title>Feed</title><item><title>x</title></item></channel></rss>',
                   "is an RSS feed, not a WordPress export"),
    "empty": ("", "is empty"),
    "bad id": (export_xml([P(0, "x", "x")]).replace("<wp:post_id>0</wp:post_id>", "<wp:post_id>abc</wp:post_id>"),
               "has no numeric wp:post_id"),
}


@pytest.mark.parametrize("name", BROKEN)
def test_a_malformed_file_gives_a_clear_error_and_writes_nothing(seeded, runner, tmp_path, name):
    content, message = BROKEN[name]
    before = counts()
    path = tmp_path / "export.xml"
    path.write_text(content, encoding="utf-8")
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert message in result.output and "Nothing was imported." in result.output
    assert "Traceback" not in result.output
    assert counts() == before


def test_a_file_over_the_size_limit_is_refused_before_reading(seeded, runner, tmp_path, monkeypatch):
    from blueprints.blog.wordpress import wxr

    monkeypatch.setattr(wxr, "MAX_BYTES", 1024)
    path = write(tmp_path / "export.xml", standard_items())
    result = run_import(runner, path)
    assert result.exit_code == 1 and "the import reads files up to 1,024 bytes" in result.output
    assert counts()["Post"] == 1


def test_a_missing_file_is_a_clear_error(seeded, runner, tmp_path):
    result = run_import(runner, tmp_path / "nope.xml")
    assert result.exit_code == 1 and "cannot read" in result.output and "Nothing was imported." in result.output


# --- the conversion rules on their own ------------------------------------------------------------

def test_wpautop_follows_wordpress():
    from blueprints.blog.wordpress.convert import wpautop

    assert wpautop("one\ntwo\n\nthree") == "<p>one<br />\ntwo</p>\n<p>three</p>\n"
    assert wpautop("<ul>\n<li>a</li>\n</ul>\n\ntext") == "<ul>\n<li>a</li>\n</ul>\n<p>text</p>\n"
    assert wpautop("<pre>a\n\nb</pre>") == "<pre>a\n\nb</pre>\n"
    assert wpautop("<blockquote>quoted</blockquote>") == "<blockquote><p>quoted</p></blockquote>\n"


def test_shortcodes_are_converted_or_reported():
    from blueprints.blog.wordpress.convert import convert

    result = convert('[sourcecode lang="python"]print("]]>")[/sourcecode]\n\n[[caption]] is how you write it\n\n'
                     "[gallery ids=\"7,8\"]\n\n[audio src=\"x.mp3\"]\n\nA citation [1] stays.",
                     gallery=lambda ids: [(f"https://e.example/{i}.png", f"Bild {i}", "") for i in ids])
    assert '```python\nprint("]]>")\n```' in result.body
    assert "<p>[caption] is how you write it</p>" in result.body
    assert '<div class="gallery"><figure class="figure"><img src="https://e.example/7.png" alt="Bild 7"></figure>' in result.body
    assert "[audio]: no equivalent here, left as text" in result.notes
    assert not any("[1]" in note or "caption" in note for note in result.notes)
    assert "<p>A citation [1] stays.</p>" in result.body


# --- never a crash ------------------------------------------------------------------------------------

def test_an_export_cut_anywhere_is_a_clear_error(tmp_path):
    from blueprints.blog.wordpress import wxr

    whole = export_xml(standard_items())
    path = tmp_path / "export.xml"
    for cut in range(1, len(whole) - 10, max(1, len(whole) // 150)):
        path.write_text(whole[:cut], encoding="utf-8")
        with pytest.raises(wxr.ExportError):
            wxr.read(path)


PIECES = ["<p>", "</p>", "<h2>", "</h2>", "<h3 id='x'>", "<pre>", "</pre>", "<code>", "</code>", "[code]", "[/code]",
          "[caption]", "[/caption]", "<img src='https://e.example/a.png'>", "[gallery]", "[embed]", "[/embed]",
          "<!-- wp:paragraph -->", "<!-- /wp:paragraph -->", "<iframe src='https://v.example/1'>", "</iframe>",
          "[[x]]", "[foo-bar a=1]", "\n", "\n\n", "  ", "ü", "日本", "```", "*", "_", "<", ">", "&", "&amp;", "<br>",
          "<ul><li>", "</li></ul>", "<table><tr><td>", "<script>", "</script>", "https://e.example/x", "#", "]]>"]


def test_any_body_converts_and_renders_without_error():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from blueprints.blog.wordpress.convert import convert

    @settings(deadline=None)  # a loaded 2-core machine must not turn a slow example into a failure
    @given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=40))
    def check(parts):
        result = convert("".join(parts), gallery=lambda ids: [("https://e.example/g.png", "alt", "cap")],
                         rewrite_url=lambda url: url)
        rendered = render_document(result.body)
        assert "<script" not in rendered.html and "<iframe" not in rendered.html

    check()


def test_odd_items_are_imported_or_reported_never_a_crash(seeded, runner, tmp_path):
    uploads = tmp_path / "uploads"
    (uploads / "2021").mkdir(parents=True)
    (uploads / "2021" / "fake.png").write_bytes(b"this is text, not a PNG")
    bomb = io.BytesIO()
    Image.new("1", (9000, 9000)).save(bomb, "PNG")  # 81 megapixels in a few kB
    (uploads / "2021" / "bomb.png").write_bytes(bomb.getvalue())
    (tmp_path / "secret.txt").write_text("outside the media folder")
    odd = [
        P(70, "T" * 500, "🙂-" + "s" * 300, "not a date", "garbage", "also garbage", content="x" * 10, status="publish",
          terms=[("category", "c" * 200, "C" * 200)],
          comments=[C(901, "A" * 300, "e" * 300 + "@example.com", "x", "x", "orphan reply", parent=999),
                    C(902, "B", "", "2021-01-01 00:00:00", "2021-01-01 00:00:00", "", approved="trash")]),
        P(71, "Menüeintrag", "menu", type="nav_menu_item", status="publish"),
        P(76, "Zweimal", "zweimal", "2021-02-01 10:00:00", "2021-02-01 09:00:00", content="a",
          comments=[C(950, "D", "d@example.com", "2021-02-02 10:00:00", "2021-02-02 09:00:00", "doppelt")] * 2),
        P(76, "Zweimal", "zweimal", "2021-02-01 10:00:00", "2021-02-01 09:00:00", content="a"),
        P(72, "Unbekannt", "unbekannt", status="weird", content="?"),
        P(73, "../escape", "escape", type="attachment", status="inherit",
          attachment_url=f"{SITE}/wp-content/uploads/../../secret.txt", meta={"_wp_attached_file": "../secret.txt"}),
        P(74, "fake", "fake", type="attachment", status="inherit", attachment_url=f"{SITE}/wp-content/uploads/2021/fake.png",
          meta={"_wp_attached_file": "2021/fake.png"}),
        P(75, "bomb", "bomb", type="attachment", status="inherit", attachment_url=f"{SITE}/wp-content/uploads/2021/bomb.png",
          meta={"_wp_attached_file": "2021/bomb.png"}),
    ]
    output = imported(runner, tmp_path, uploads, odd)
    created = db.session.scalar(select(Post).where(Post.title.startswith("TTT")))
    assert len(created.title) == 200 and len(created.slug) <= 120 and created.published_at is not None
    assert "“Unbekannt” (weird: not a post WordPress shows)" in output
    assert "../secret.txt" in output and "its path leaves the media folder" in output
    assert "fake.png: not a readable image" in output
    assert "bomb.png: 9000×9000 pixels is more than 40 megapixels" in output
    assert db.session.scalar(select(func.count()).select_from(MediaFile)) == 0
    orphan = db.session.scalar(select(Comment).where(Comment.body == "orphan reply"))
    assert orphan.parent_id is None and len(orphan.author_name) == 100
    assert db.session.scalar(select(func.count()).select_from(Comment).where(Comment.body == "doppelt")) == 1
    assert db.session.scalar(select(func.count()).select_from(Post).where(Post.title == "Zweimal")) == 1


def test_the_editor_opens_an_imported_post_and_saves_it_as_it_was(seeded, runner, tmp_path, media_dir, admin_client):
    import html as html_module

    from blueprints.forms import utc_to_local

    imported(runner, tmp_path, media_dir)
    item = post("uber-kubernetes")
    before_html, before_toc = item.body_html, item.toc
    page = admin_client.get(f"/admin/posts/{item.id}").get_data(as_text=True)
    shown = html_module.unescape(re.search(r'<textarea[^>]*name="body"[^>]*>(.*?)</textarea>', page, re.S).group(1))
    assert shown.strip() == item.body.strip()  # the consultant sees the Markdown, headings and code as Markdown
    zone = seeded.config["SITE_TIMEZONE"]
    data = {"title": item.title, "slug": item.slug, "summary": item.summary, "body": shown.replace("\n", "\r\n"),
            "tags": ", ".join(t.name for t in item.tags), "status": item.status,
            "published_at": utc_to_local(item.published_at, zone).strftime("%Y-%m-%dT%H:%M")}
    assert admin_client.post(f"/admin/posts/{item.id}", data=data).status_code == 303
    db.session.rollback()
    item = post("uber-kubernetes")
    assert item.body_html == before_html and item.toc == before_toc
    data["body"] += "\r\n\r\nEin Nachtrag, hier geschrieben."
    assert admin_client.post(f"/admin/posts/{item.id}", data=data).status_code == 303
    db.session.rollback()
    assert post("uber-kubernetes").body_html == before_html + "<p>Ein Nachtrag, hier geschrieben.</p>\n"
    output = imported(runner, tmp_path, media_dir)
    assert "was edited here since it was imported: left as it is" in output
    assert "Ein Nachtrag" in post("uber-kubernetes").body
