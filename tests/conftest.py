"""Shared fixtures: an app per test on a real database, a real SMTP server, logged-in clients.

Database: SQLite (a fresh file per test) by default; PostgreSQL when
TEST_DATABASE_URL is set (one throwaway database per run and xdist worker, tables
emptied after each test). Contexts are as in production: the `app` fixture holds
none, each test-client request gets a fresh one, and the test's own code runs in
one of its own (`test_context`). In CI (CI=true) anything a test needs that is
missing fails the test; elsewhere it skips, saying what is missing.
"""
from __future__ import annotations

import contextvars
import os
import smtplib
import uuid
from pathlib import Path

import pytest
from flask import current_app, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import BaseConfig, normalise_database_url
from tests.smtp import ALLOWED_SMTP_PORTS, SmtpServer, free_port  # noqa: F401  (re-exported for test modules)

IN_CI = os.environ.get("CI", "").lower() == "true"
ROOT = Path(__file__).resolve().parent.parent
ADMIN_EMAIL = "consultant@example.com"
ADMIN_PASSWORD = "correct horse battery staple"


# Hypothesis budgets for the fuzz tests (tests/test_fuzz_*.py), chosen with HYPOTHESIS_PROFILE:
# "ci" (the default) is fixed and derandomised, so CI runs the same examples every time;
# "fuzz" (`make fuzz`) searches much longer with fresh randomness; "quick" is for development.
from datetime import timedelta  # noqa: E402

from hypothesis import HealthCheck, settings  # noqa: E402

_FUZZ_BASE = dict(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                         HealthCheck.data_too_large], print_blob=True)
settings.register_profile("ci", max_examples=int(os.environ.get("FUZZ_EXAMPLES", 200)), derandomize=True,
                          deadline=timedelta(seconds=5), database=None, **_FUZZ_BASE)
settings.register_profile("fuzz", max_examples=int(os.environ.get("FUZZ_EXAMPLES", 2000)), deadline=None, **_FUZZ_BASE)
settings.register_profile("quick", max_examples=20, derandomize=True, deadline=None, database=None, **_FUZZ_BASE)


# Tests that touch the database, marked so the PostgreSQL pass (`make test-postgres`) runs only them.
DATABASE_FIXTURES = {"app", "mail_app", "database_url", "empty_database_url", "postgres", "db_session", "client",
                     "admin_client", "runner", "admin_user"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.database)


def require(what: str, reason: str) -> None:
    """Fail in CI, skip elsewhere: a test never silently passes without what it needs."""
    if IN_CI:
        pytest.fail(f"{what} is required in CI but {reason}")
    pytest.skip(f"{what} not available here: {reason}")


# --- databases ---------------------------------------------------------------------------

class PostgresDatabase:
    """One database of our own on a possibly shared server, dropped at the end of the run."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(normalise_database_url(admin_url))
        self.name = f"portico_test_{uuid.uuid4().hex[:10]}"
        self.url = self.admin_url.set(database=self.name).render_as_string(hide_password=False)

    def create(self) -> None:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        engine.dispose()

    def drop(self) -> None:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        engine.dispose()

    def new_database(self) -> str:
        """Another empty database (for migration tests); dropped with the run."""
        extra = PostgresDatabase(self.admin_url.render_as_string(hide_password=False))
        extra.create()
        self._extra = getattr(self, "_extra", []) + [extra]
        return extra.url


def postgres_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


@pytest.fixture(scope="session")
def postgres():
    url = postgres_url()
    if not url:
        yield None
        return
    database = PostgresDatabase(url)
    try:
        database.create()
    except Exception as error:  # noqa: BLE001
        pytest.exit(f"TEST_DATABASE_URL is set but PostgreSQL is not reachable: {error}", returncode=1)
    import models  # noqa: F401
    from extensions import db

    engine = create_engine(database.url)
    db.metadata.create_all(engine)
    engine.dispose()
    yield database
    for extra in getattr(database, "_extra", []):
        extra.drop()
    database.drop()


@pytest.fixture
def database_url(postgres, tmp_path) -> str:
    if postgres is not None:
        return postgres.url
    return f"sqlite:///{tmp_path / 'portico-test.db'}"


@pytest.fixture
def empty_database_url(postgres, tmp_path) -> str:
    """A database with no tables at all (for migration tests)."""
    if postgres is not None:
        return postgres.new_database()
    return f"sqlite:///{tmp_path / 'empty.db'}"


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in a fresh context, as a real server's does.

    Flask reuses an app context already pushed for the same app, so without this each request
    would share the test's own `g` and database session. Afterwards the test's session starts
    a new transaction, so the test's own code sees what the request committed.
    """

    def open(self, *args, **kwargs):
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context() and current_app._get_current_object() is self.application:
            from extensions import db

            db.session.rollback()
        return response


def make_app(database_url: str, tmp_path: Path, **overrides):
    from app import create_app

    config = {
        "APP_ENV": "testing",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": BaseConfig.engine_options(database_url),
        "MAIL_DIR": str(tmp_path / "mail"),
    }
    config.update(overrides)
    app = create_app(config)
    app.test_client_class = IsolatedClient
    return app


@pytest.fixture
def app_config() -> dict:
    """Per-test overrides: a test module may override this fixture, or a test may update it before `app` is used."""
    return {}


@pytest.fixture
def app(database_url, tmp_path, app_config, postgres):
    yield from running_app(database_url, tmp_path, app_config, postgres)


def running_app(database_url, tmp_path, app_config, postgres):
    """An app on a database with every table, outside any context (as the Flask tutorial's); emptied afterwards."""
    from extensions import db

    app = make_app(database_url, tmp_path, **app_config)
    with app.app_context():
        if postgres is None:
            db.create_all()
    yield app
    with app.app_context():
        if postgres is not None:
            tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture(autouse=True)
def test_context(request):
    """The test's own code (its fixtures' factories, its queries) runs in an app context of its own.

    Opened here rather than by `app`, and never shared with a request: IsolatedClient gives each
    request a fresh one. The app is whichever app fixture the test uses (`app`, `mail_app`, …).
    """
    from flask import Flask

    names = [n for n in request.fixturenames if n.endswith("app") and n != "app_config"]
    target = None
    for name in names:
        value = request.getfixturevalue(name)
        if isinstance(value, Flask):
            target = value
            if name != "app":
                break  # a test's own app fixture wins over the plain one it may also use
    if target is None:
        return
    from extensions import db

    context = target.app_context()
    context.push()

    def leave():
        # Registered after the app fixture's setup, so it runs before the app's teardown: the test's
        # own transaction must end before the tables are emptied (PostgreSQL's TRUNCATE waits for it).
        db.session.remove()
        context.pop()

    request.addfinalizer(leave)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db_session(app):
    from extensions import db

    return db.session


# --- mail (the server itself is in tests/smtp.py) ------------------------------------------

@pytest.fixture(autouse=True)
def smtp_guard(monkeypatch):
    """Any SMTP connection to anything but a test server fails the test."""
    original = smtplib.SMTP.connect

    def guarded(self, host="localhost", port=0, source_address=None):
        if host not in ("127.0.0.1", "localhost") or int(port) not in ALLOWED_SMTP_PORTS:
            raise AssertionError(f"test tried to talk SMTP to {host}:{port}")
        return original(self, host, port, source_address)

    monkeypatch.setattr(smtplib.SMTP, "connect", guarded)


@pytest.fixture
def smtp_server():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_app(smtp_server, app_config, database_url, tmp_path, postgres):
    """Like `app`, but configured to deliver to the test SMTP server."""
    yield from running_app(database_url, tmp_path, {**app_config, **smtp_server.config()}, postgres)


@pytest.fixture
def thread_app(smtp_server, app_config, database_url, tmp_path, postgres):
    """Like `mail_app`, with the background delivery thread of the one-process default running."""
    from mail import thread as outbox_thread

    for app in running_app(database_url, tmp_path, {**app_config, **smtp_server.config(), "OUTBOX_THREAD": True}, postgres):
        yield app
        outbox_thread.stop_thread(app)


# --- admin --------------------------------------------------------------------------------

@pytest.fixture
def admin_user(app):
    from tests.factories import make_admin

    return make_admin(email=ADMIN_EMAIL, password=ADMIN_PASSWORD)


@pytest.fixture
def admin_client(app, admin_user):
    """A test client signed in through the real login form."""
    client = app.test_client()
    response = client.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code in (302, 303), "admin login failed in the admin_client fixture"
    return client


# --- services other than the database -----------------------------------------------------

@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as error:  # noqa: BLE001
        require("Redis", f"{url} did not answer ({error.__class__.__name__})")
    return url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        require("Chromium", f"{path} is missing (apt-get install chromium)")
    return path
