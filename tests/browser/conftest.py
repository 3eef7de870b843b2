"""Browser fixtures: the real app behind a real WSGI server, a real SMTP server, one Chromium per session.

The live server runs the app exactly as a visitor meets it: a file SQLite
database migrated with Alembic and seeded with `seed_all(demo=True)`, CSRF on,
the outbox thread delivering to an aiosmtpd server on loopback, SITE_URL set
to the server's own address so links in emails lead back to it.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from urllib.parse import urljoin

import pytest

from tests.browser.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, MailBox, new_context
from tests.conftest import ROOT, free_port, make_app, require

VNU_JAR = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


# --- live server ---------------------------------------------------------------------------

class ServerErrors:
    """WSGI middleware noting every 5xx answer, so a test fails when the server failed behind a friendly page."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app
        self.seen: list[str] = []

    def __call__(self, environ, start_response):
        def noting(status, headers, exc_info=None):
            if status.startswith("5"):
                self.seen.append(f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')} -> {status}")
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, noting)


@dataclass
class LiveServer:
    url: str
    app: object
    mail: MailBox
    errors: ServerErrors
    admin_email: str = ADMIN_EMAIL
    admin_password: str = ADMIN_PASSWORD
    notes: dict = field(default_factory=dict)

    def __call__(self, path: str = "/") -> str:
        return urljoin(self.url + "/", path.lstrip("/"))


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from cli.seeding import seed_all
    from tests.factories import make_admin

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns a failure's report
    folder = tmp_path_factory.mktemp("live")
    mail = MailBox()
    mail.start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = make_app(
        f"sqlite:///{folder / 'portico.db'}", folder,
        SITE_URL=url,
        WTF_CSRF_ENABLED=True,  # a real browser sends the real token
        RATELIMIT_ENABLED=False,
        SPAM_MIN_SECONDS=0,  # a script fills a form faster than any person
        OUTBOX_THREAD=True,
        SESSION_COOKIE_SECURE=False,
        **mail.config(),
    )
    with app.app_context():
        upgrade()
        seed_all(demo=True)
        make_admin(email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        from extensions import db

        db.session.remove()
    errors = ServerErrors(app.wsgi_app)
    app.wsgi_app = errors
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(url=url, app=app, mail=mail, errors=errors)
    server.shutdown()
    thread.join(timeout=10)
    mail.stop()


@pytest.fixture(autouse=True)
def smtp_guard(monkeypatch, live_server):
    """Replaces the suite's guard for these tests: SMTP may go to the live server's mail box and nowhere else.

    (The suite's guard keeps its allowed ports in tests/conftest.py as pytest loaded it, a module object
    other than the `tests.conftest` imported here, so it cannot see this session's server.)
    """
    import smtplib

    original = smtplib.SMTP.connect
    port = live_server.mail.port

    def guarded(self, host="localhost", port_=0, source_address=None):
        if host not in ("127.0.0.1", "localhost") or int(port_) != port:
            raise AssertionError(f"test tried to talk SMTP to {host}:{port_}")
        return original(self, host, port_, source_address)

    monkeypatch.setattr(smtplib.SMTP, "connect", guarded)


@pytest.fixture(autouse=True)
def no_server_errors(live_server):
    """Every browser test also fails if the server answered any request with a 5xx."""
    before = len(live_server.errors.seen)
    yield
    new = live_server.errors.seen[before:]
    assert not new, f"the server answered with errors: {new}"


# --- Chromium ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance, chromium_path, tmp_path_factory):
    home = tmp_path_factory.mktemp("chromium-home")
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache")}
    browser = playwright_instance.chromium.launch(executable_path=chromium_path, headless=True, env=env)
    yield browser
    browser.close()


@pytest.fixture
def context(browser, live_server):
    context = new_context(browser, live_server)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


# --- the Nu HTML Checker -------------------------------------------------------------------

@pytest.fixture(scope="session")
def vnu(tmp_path_factory):
    """A function that checks HTML documents in one JVM run: {name: html} -> {name: [error messages]}."""
    java = shutil.which("java")
    if java is None:
        require("Java", "`java` is not on PATH (apt-get install default-jre-headless)")
    if not VNU_JAR.exists():
        require("The Nu HTML Checker", f"{VNU_JAR.relative_to(ROOT)} is missing (run `make node_modules`, which runs npm ci)")
    folder = tmp_path_factory.mktemp("vnu")

    def check(documents: dict[str, str]) -> dict[str, list[str]]:
        files = {}
        for n, (name, html) in enumerate(documents.items()):
            path = folder / f"page-{n}.html"
            path.write_text(html, encoding="utf-8")
            files[path.name] = (path, name)
        result = subprocess.run(
            [java, "-jar", str(VNU_JAR), "--format", "json", "--stdout", *[str(p) for p, _ in files.values()]],
            capture_output=True, text=True, timeout=300,
        )
        try:
            messages = json.loads(result.stdout or "{}").get("messages", [])
        except ValueError:
            pytest.fail(f"vnu gave no JSON (exit {result.returncode}): {result.stdout[:500]} {result.stderr[:500]}")
        found: dict[str, list[str]] = {name: [] for name in documents}
        for message in messages:
            if message.get("type") != "error" and message.get("subType") != "fatal":
                continue
            url = message.get("url", "?")
            name = files.get(url.rsplit("/", 1)[-1], (None, url))[1]
            found.setdefault(name, []).append(
                f"line {message.get('lastLine', '?')}: {message.get('message')} [{message.get('extract', '').strip()}]"
            )
        return found

    return check


WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="session")
def axe():
    """axe-core on a page, WCAG 2.1 A/AA: the violations as readable lines (none: an empty list)."""
    from axe_playwright_python.sync_playwright import Axe

    engine = Axe()
    options = {"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]}

    def run(page) -> list[str]:
        results = engine.run(page, options=options)
        return [f"{v['id']} ({v['impact']}): {v['help']} -> " + "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
                for v in results.response["violations"]]

    return run
