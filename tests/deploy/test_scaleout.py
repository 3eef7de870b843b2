"""Two web instances and two outbox workers sharing one PostgreSQL and one Redis, as in production.

Two gunicorn masters (gunicorn.conf.py, two sync workers each) on two loopback ports and two
`flask outbox deliver --loop` workers run against a fresh PostgreSQL database migrated with
`flask db upgrade`, a Redis key prefix of their own and a real SMTP server. Through both
instances at once: bookings never overbook, every email is delivered exactly once, and the
booking form's rate limit counts the requests of both instances together.

This test runs in both passes of `make test`: it needs PostgreSQL and Redis whatever the
suite's own database is (absent: skipped with a note locally, failed in CI).
"""
from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import ROOT, PostgresDatabase, free_port, make_app, require

pytestmark = pytest.mark.slow

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CAPACITY = 5
CLIENTS = 12  # concurrent bookings of one seat each, half through each instance
SECRET = "scaleout-" + "s" * 48


def wait_for(condition, timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll another process's progress; sleeping between polls is the only way to wait on it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class Reply:
    status: int
    headers: dict
    body: str
    location: str = ""


class Browser:
    """One visitor: its own cookies, no redirects followed."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), self._NoRedirect())

    def request(self, url: str, data: dict | None = None) -> Reply:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(urllib.request.Request(url, data=body), timeout=30) as response:
                return Reply(response.status, dict(response.headers), response.read().decode())
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, dict(error.headers), error.read().decode(), error.headers.get("Location", ""))

    def hidden_fields(self, url: str) -> dict[str, str]:
        """The form's hidden inputs as a browser would send them: CSRF token and spam-trap stamp."""
        page = self.request(url)
        assert page.status == 200, f"GET {url} gave {page.status}"
        fields = {}
        for tag in re.findall(r"<input[^>]*>", page.body):
            if 'type="hidden"' in tag:
                name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
                if name:
                    fields[name.group(1)] = value.group(1) if value else ""
        assert "csrf_token" in fields, f"no CSRF token on {url}"
        return fields


class Cluster:
    """The processes of a small production, started and stopped by the test."""

    def __init__(self, tmp_path: Path, database_url: str, redis_url: str, smtp_port: int) -> None:
        self.tmp_path = tmp_path
        self.ports = [free_port(), free_port()]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "GUNICORN_"))},
            "APP_ENV": "production",
            "SECRET_KEY": SECRET,
            "DATABASE_URL": database_url,
            "RATELIMIT_STORAGE_URI": redis_url,
            "RATELIMIT_KEY_PREFIX": f"portico-scaleout-{uuid.uuid4().hex[:12]}",
            "RATELIMIT_ENABLED": "1",
            "SITE_URL": f"http://127.0.0.1:{self.ports[0]}",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(smtp_port),
            "MAIL_USE_TLS": "0",
            "MAIL_USE_SSL": "0",
            "OUTBOX_THREAD": "0",
            "SPAM_MIN_SECONDS": "0",
            "WEB_CONCURRENCY": "2",
            "STATIC_BUILD_DIR": str(tmp_path / "static-build"),
            "DB_POOL_SIZE": "2",
            "DB_MAX_OVERFLOW": "2",
            "PYTHONUNBUFFERED": "1",
        }
        self.processes: list[tuple[str, subprocess.Popen]] = []

    def run(self, *args: str) -> None:
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"flask {' '.join(args)} failed:\n{result.stderr}"

    def start(self, name: str, command: list[str], **env: str) -> None:
        log = open(self.tmp_path / f"{name}.log", "w")
        process = subprocess.Popen(command, cwd=ROOT, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        log.close()
        self.processes.append((name, process))

    def start_all(self) -> None:
        """Web instances boot while the migration runs (they touch the database only per request)."""
        for n, port in enumerate(self.ports):
            self.start(f"web{n}", [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "app:create_app()"],
                       PORT=str(port))
        self.run("db", "upgrade")
        for n in range(2):
            self.start(f"worker{n}", [sys.executable, "-m", "flask", "--app", "app", "outbox", "deliver", "--loop",
                                      "--interval", "0.2"])
        for port in self.ports:
            wait_for(lambda port=port: self.healthy(port), 60, f"gunicorn on port {port}")

    def healthy(self, port: int) -> bool:
        for name, process in self.processes:
            assert process.poll() is None, f"{name} exited early:\n{self.log(name)}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text()[-3000:]

    def url(self, n: int, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[n % 2]}{path}"

    def stop(self) -> None:
        # gunicorn: SIGINT is its quick shutdown (SIGTERM waits out the graceful timeout loop);
        # the outbox workers stop on SIGTERM after the current message.
        for name, process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT if name.startswith("web") else signal.SIGTERM)
        for name, process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise AssertionError(f"{name} did not stop on SIGTERM") from None


@pytest.fixture
def scaleout_database():
    admin_url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("TEST_POSTGRES_URL") or DEFAULT_ADMIN_URL
    database = PostgresDatabase(admin_url)
    try:
        database.create()
    except Exception as error:  # noqa: BLE001
        require("PostgreSQL", f"{admin_url} did not answer ({error.__class__.__name__})")
    yield database.url
    # DROP DATABASE waits for a checkpoint (seconds on a busy server): let it finish while the
    # rest of the suite runs. A non-daemon thread is joined before the interpreter exits.
    threading.Thread(target=drop_quietly, args=(database,), name="drop-scaleout-db").start()


def drop_quietly(database: PostgresDatabase) -> None:
    try:
        database.drop()
    except Exception as error:  # noqa: BLE001 (the run is over for this database; say so and move on)
        print(f"could not drop {database.name}: {error}", file=sys.stderr)


@pytest.fixture
def cluster(tmp_path, scaleout_database, redis_url, smtp_server):
    cluster = Cluster(tmp_path, scaleout_database, redis_url, smtp_server.port)
    try:
        cluster.start_all()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def site(tmp_path, scaleout_database):
    """The test's own view of the shared database (to arrange rows and check results)."""
    from extensions import db

    app = make_app(scaleout_database, tmp_path)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_two_instances_share_seats_mail_and_rate_limits(cluster, site, smtp_server):
    from extensions import db
    from models import Booking, OutboxMessage
    from models.base import utcnow
    from tests.factories import make_course, make_session

    start = utcnow() + timedelta(days=30)
    session = make_session(make_course(title="Kubernetes in practice", slug="kubernetes-in-practice"),
                           starts_at=start, ends_at=start + timedelta(hours=8), capacity=CAPACITY)
    book_path = f"/training/sessions/{session.id}/book"
    smtp_server.handler.delay = 0.05  # slow enough that both workers are busy at once

    # Every visitor loads the form from one instance and posts it to the other: the session
    # cookie and CSRF token must be valid on both (the same SECRET_KEY, nothing in memory).
    visitors = [Browser() for _ in range(CLIENTS)]
    hidden = [visitor.hidden_fields(cluster.url(n, book_path)) for n, visitor in enumerate(visitors)]
    barrier = threading.Barrier(CLIENTS)

    def book(n: int) -> Reply:
        form = {**hidden[n], "name": f"Client {n}", "email": f"client{n}@example.com", "company": "",
                "seats": "1", "notes": "", "consent": "y", "action": "book"}
        barrier.wait(timeout=30)
        return visitors[n].request(cluster.url(n + 1, book_path), form)

    with ThreadPoolExecutor(CLIENTS) as pool:
        replies = list(pool.map(book, range(CLIENTS)))

    statuses = sorted(reply.status for reply in replies)
    assert all(status < 500 and status != 429 for status in statuses), statuses
    booked = [reply for reply in replies if reply.status == 303]
    assert len(booked) == CAPACITY, f"{len(booked)} bookings for {CAPACITY} seats: {statuses}"
    assert all("/bookings/" in reply.location for reply in booked)
    assert {reply.status for reply in replies if reply.status != 303} <= {200, 409, 422}
    db.session.expire_all()
    held = db.session.scalar(select(func.coalesce(func.sum(Booking.seats), 0))
                             .where(Booking.session_id == session.id, Booking.status.in_(Booking.HOLDING)))
    assert held == CAPACITY
    assert db.session.scalar(select(func.count()).select_from(Booking)) == CAPACITY

    # Each email is delivered once, whichever worker claimed it.
    def all_sent() -> bool:
        db.session.rollback()
        waiting = db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                    .where(OutboxMessage.status != OutboxMessage.SENT))
        return waiting == 0

    wait_for(all_sent, 30, "the workers to deliver every queued email")
    rows = db.session.scalars(select(OutboxMessage)).all()
    assert len(rows) >= 2 * CAPACITY  # the client's and the consultant's email per booking
    delivered = [message["Message-ID"] for message in smtp_server.messages]
    assert sorted(delivered) == sorted(row.message_id for row in rows), "an email went missing or went twice"
    assert len(set(delivered)) == len(delivered)

    # The rate limit counts requests to both instances together: alternate between them and
    # watch one counter go down by one each time until the limit answers 429.
    visitor = Browser()
    form = {**visitor.hidden_fields(cluster.url(0, book_path)), "name": "Late", "email": "late@example.com", "seats": "1", "consent": "y"}
    seen: list[tuple[int, int, int]] = []  # (instance, status, remaining)
    for n in range(CLIENTS + 60):
        reply = visitor.request(cluster.url(n, book_path), form)
        remaining = int(reply.headers.get("X-RateLimit-Remaining", -1))
        seen.append((n % 2, reply.status, remaining))
        if reply.status == 429:
            break
    limit = int(reply.headers["X-RateLimit-Limit"])
    assert seen[-1][1] == 429, f"no 429 after {len(seen)} posts with a limit of {limit}: {seen}"
    # The burst above already used CLIENTS of the limit; a counter per instance would allow twice as many.
    allowed = [remaining for _, status, remaining in seen if status != 429]
    assert allowed == list(range(limit - CLIENTS - 1, -1, -1)), f"not one shared counter: {seen}"
    assert {instance for instance, _, _ in seen} == {0, 1}
