"""Benchmark 5: SQL statements per public page (with 1 and with 100 posts/sessions) and bytes on the wire.

Statements are counted with a SQLAlchemy `before_cursor_execute` listener on
the second request for each page (the first warms connections), by a new
visitor (no cookies), with the page cache off (what a cache miss costs) and on
(what a visitor costs); BEGIN/COMMIT are not counted. The outbox thread is off
so that only the page's own statements are counted.
Bytes on the wire come from the production server (gunicorn) asked with
`Accept-Encoding: br, gzip`, the page plus every stylesheet, script, icon and
image it (or its CSS) references.

    python -m bench.queries
"""
from __future__ import annotations

import gzip
import http.client
import re
import time
from datetime import UTC
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from bench.common import Site, save_result, table, verdict, workdir

QUERY_TARGET = 4
# BEGIN (emitted by the app on SQLite), COMMIT, ROLLBACK: transaction control, not queries.
TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.I)
HOME_WEIGHT_TARGET = 40 * 1024
ARTICLE = "/blog/virtualization-and-containerization"


def populate(count: int) -> None:
    """Bring the seeded site to `count` published posts and `count` upcoming sessions (inside an app context)."""
    import hashlib
    import secrets
    from datetime import datetime, timedelta

    from sqlalchemy import func, select

    from extensions import db
    from models import Booking, Course, Post, Tag, TrainingSession
    from web.markdown import render_markdown

    now = datetime.now(UTC).replace(microsecond=0)
    tags = [Tag(slug=f"bench-tag-{i}", name=f"Bench tag {i}") for i in range(10)]
    db.session.add_all(tags)
    article = db.session.scalar(select(Post).where(Post.slug == ARTICLE.rsplit("/", 1)[1]))
    existing = db.session.scalar(select(func.count(Post.id)))
    body = "## A heading\n\nSome *text* about clouds.\n\n" * 5
    for i in range(existing, count):
        db.session.add(Post(
            slug=f"bench-post-{i}", title=f"Bench post {i}", summary="A summary.", body=body,
            body_html=render_markdown(body), status=Post.PUBLISHED,
            published_at=now - timedelta(days=i + 1), course_slugs=["docker"],
            tags=[tags[i % 10], tags[(i + 3) % 10]] + (article.tags[:1] if article else []),
        ))
    courses = db.session.scalars(select(Course).order_by(Course.position)).all()
    docker = next((c for c in courses if c.slug == "docker"), courses[0])
    existing = db.session.scalar(select(func.count(TrainingSession.id)))
    for i in range(existing, count):
        course = docker if i == 0 else courses[i % len(courses)]
        starts = now + timedelta(days=7 + i)
        session = TrainingSession(course=course, starts_at=starts, ends_at=starts + timedelta(hours=8),
                                  timezone="Europe/Berlin", capacity=10)
        db.session.add(session)
        for n in range(i % 3):
            db.session.add(Booking(
                session=session, name=f"Client {i}-{n}", email=f"c{i}-{n}@example.com", seats=1,
                status=Booking.PENDING, consent_at=now,
                token_hash=hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
            ))
    db.session.commit()


def page_list(app) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from extensions import db
    from models import Post, TrainingSession

    with app.app_context():
        post = db.session.scalar(select(Post).where(Post.slug == ARTICLE.rsplit("/", 1)[1]))
        tag = post.tags[0].slug if post and post.tags else "docker"
        session_id = db.session.scalar(select(TrainingSession.id).order_by(TrainingSession.starts_at).limit(1))
    return [
        ("home", "/"), ("article", ARTICLE), ("blog", "/blog"), ("tag", f"/blog/tag/{tag}"),
        ("feed", "/feed.xml"), ("training", "/training"), ("course", "/training/docker"),
        ("services", "/services"), ("service", "/services/public-cloud"), ("sitemap", "/sitemap.xml"),
        ("contact form", "/contact"), ("booking form", f"/training/sessions/{session_id}/book"),
    ]


def count_queries(site: Site, cached: bool) -> dict[str, tuple[int, int]]:
    """{page: (status, statements)} for each page, measured in this process on the site's database."""
    from sqlalchemy import event

    from extensions import db

    app = site.app(PAGE_CACHE_SECONDS=30 if cached else 0, RATELIMIT_ENABLED=False)
    statements: list[str] = []
    def listener(_conn, _cursor, statement, *_args):
        if not TRANSACTION_CONTROL.match(statement):
            statements.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", listener)
    counts = {}
    for name, path in page_list(app):
        app.test_client().get(path)  # warm: connection set-up, first-use queries
        statements.clear()
        response = app.test_client().get(path)  # a new visitor: no cookies
        counts[name] = (response.status_code, len(statements))
    with app.app_context():
        db.engine.dispose()
    return counts


class AssetParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        rel = (a.get("rel") or "").split()
        if tag == "link" and ({"stylesheet", "icon", "preload", "modulepreload"} & set(rel)) and a.get("href"):
            self.urls.append(a["href"])
        elif tag in ("img", "script", "source") and a.get("src"):
            self.urls.append(a["src"])


def wire_get(port: int, path: str) -> tuple[int, int, str, bytes]:
    """(status, bytes on the wire, content-encoding, body as sent) for one request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "br, gzip", "Host": f"127.0.0.1:{port}"})
        response = conn.getresponse()
        body = response.read()
        head = len(f"HTTP/1.1 {response.status} {response.reason}\r\n") + 2
        head += sum(len(k) + len(v) + 4 for k, v in response.getheaders())
        return response.status, head + len(body), response.getheader("Content-Encoding", ""), body
    finally:
        conn.close()


def decoded(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "br":
        import brotli  # only present when the server sends brotli, which needs it anyway

        return brotli.decompress(body)
    return body


def page_weight(port: int, path: str) -> dict:
    status, html_bytes, encoding, body = wire_get(port, path)
    html = decoded(body, encoding).decode("utf-8", "replace")
    parser = AssetParser()
    parser.feed(html)
    assets, seen, total_assets = [], set(), 0
    queue = [urljoin(path, u) for u in parser.urls]
    while queue:
        url = queue.pop(0)
        parts = urlsplit(url)
        if parts.netloc and parts.netloc != f"127.0.0.1:{port}" or url.startswith("data:") or url in seen:
            continue
        seen.add(url)
        a_status, size, a_encoding, a_body = wire_get(port, parts.path + (f"?{parts.query}" if parts.query else ""))
        total_assets += size
        assets.append((parts.path, a_status, size, a_encoding))
        if parts.path.endswith(".css"):
            css = decoded(a_body, a_encoding).decode("utf-8", "replace")
            queue += [urljoin(parts.path, u) for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", css)]
    return {"status": status, "html": html_bytes, "encoding": encoding or "none",
            "gzip6": len(gzip.compress(html.encode(), 6)), "assets": total_assets, "asset_list": assets,
            "total": html_bytes + total_assets}


def main() -> dict:
    started = time.monotonic()
    results: dict[int, dict] = {}
    weights: dict[str, dict] = {}
    with workdir("queries") as tmp:
        for count in (1, 100):
            site = Site(Path(tmp) / str(count), env={"RATELIMIT_ENABLED": "0", "OUTBOX_THREAD": "0"})
            site.workdir.mkdir()
            site.prepare(demo=False)
            site.run(populate, count)
            results[count] = {"cold": count_queries(site, cached=False), "cached": count_queries(site, cached=True)}
            if count == 1:
                try:
                    site.start()
                    for name, path in page_list_for_weight():
                        weights[name] = page_weight(site.port, path)
                finally:
                    site.stop()

    rows, worst = [], 0
    for name in results[1]["cold"]:
        s1, q1 = results[1]["cold"][name]
        s100, q100 = results[100]["cold"][name]
        _, c100 = results[100]["cached"][name]
        worst = max(worst, q1, q100) if s1 == s100 == 200 else float("inf")  # a page that fails fails the target
        rows.append([name, s1, q1, q100, c100,
                     verdict(q1 <= QUERY_TARGET and q100 <= QUERY_TARGET and s1 == s100 == 200)])
    text = table(["page", "status", "statements (1 post/session)", "statements (100)", "statements (100, cached)",
                  f"<= {QUERY_TARGET}"], rows,
                 title="SQL statements per page (cache off unless stated; second request)")
    wrows = []
    for name, w in weights.items():
        target = verdict(w["total"] <= HOME_WEIGHT_TARGET) if name == "home" else ""
        wrows.append([name, w["status"], w["encoding"], w["html"], w["gzip6"], len(w["asset_list"]), w["assets"],
                      w["total"], f"{w['total'] / 1024:.1f} KB", target])
    text += "\n\n" + table(["page", "status", "HTML encoding", "HTML bytes on wire", "HTML gzip -6", "assets",
                            "asset bytes on wire", "total bytes", "total", "home <= 40 KB"], wrows,
                           title="Bytes on the wire (Accept-Encoding: br, gzip; page + CSS, images, icons)")
    if weights.get("home"):
        detail = ", ".join(f"{p} {s} B ({e or 'identity'})" for p, _st, s, e in weights["home"]["asset_list"])
        text += f"\n\nHome page assets: {detail}."
        print(f"Home page assets: {detail}.")
    print(f"(queries: {time.monotonic() - started:.0f}s)")
    save_result("queries", text)
    return {"worst_statements": worst, "home_bytes": weights.get("home", {}).get("total")}


def page_list_for_weight():
    return [("home", "/"), ("article", ARTICLE), ("training", "/training"), ("course", "/training/docker"),
            ("services", "/services")]


if __name__ == "__main__":
    main()
