"""The site under test: a seeded copy of Portico in its own folder, served by gunicorn or used in-process."""
from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from bench.common import PG_ADMIN_URL, ROOT, VENV_BIN, Server, free_port

_sqlite_templates: dict[bool, Path] = {}  # a migrated, seeded database per `demo`, copied for each new Site

# --- the site under test ---------------------------------------------------------------------

def gunicorn_config_description() -> str:
    """E.g. "gunicorn.conf.py: 5 sync workers" (as the file decides from this machine and the environment)."""
    conf = ROOT / "gunicorn.conf.py"
    if not conf.exists():
        return "fallback (no gunicorn.conf.py)"
    import runpy

    settings = runpy.run_path(str(conf))
    kind = settings.get("worker_class", "sync")
    threads = settings.get("threads", 1)
    extra = f" x {threads} threads, reuse_port={settings.get('reuse_port', False)}" if kind == "gthread" else ""
    return f"gunicorn.conf.py: {settings.get('workers', 1)} {kind} workers{extra}"


def gunicorn_command(app_spec: str, port: int) -> list[str]:
    """The production gunicorn settings (`make serve`), bound to a loopback port."""
    cmd = [str(VENV_BIN / "gunicorn")]
    if (ROOT / "gunicorn.conf.py").exists():
        cmd += ["--config", str(ROOT / "gunicorn.conf.py")]
    else:  # until gunicorn.conf.py exists: the equivalent of `make serve`
        workers = os.cpu_count() or 1
        cmd += ["--workers", str(workers * 2 + 1), "--worker-class", "sync", "--access-logfile", "-",
                "--timeout", "30"]
    cmd += ["--bind", f"127.0.0.1:{port}", "--no-control-socket", app_spec]
    return cmd


class Site:
    """A fresh database (SQLite file or throwaway PostgreSQL), migrated and seeded, served by gunicorn."""

    def __init__(self, workdir: Path, *, database: str = "sqlite", env: dict | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.pg_name = None
        if database == "postgresql":
            self.pg_name = f"portico_bench_{secrets.token_hex(5)}"
            pg_execute(f'CREATE DATABASE "{self.pg_name}"')
            base = PG_ADMIN_URL.rsplit("/", 1)[0]
            self.database_url = f"{base}/{self.pg_name}"
        else:
            self.database_url = f"sqlite:///{workdir / 'portico.db'}"
        self.env = {
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_hex(32),
            "DATABASE_URL": self.database_url,
            "SITE_URL": f"http://127.0.0.1:{self.port}",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONDONTWRITEBYTECODE": "1",
            **(env or {}),
        }
        self.server: Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self, **overrides):
        """The site's app in this process, for setting up and inspecting its database (no thread, no cache)."""
        import logging

        from app import create_app
        from config import BaseConfig

        url = self.env["DATABASE_URL"]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        app = create_app({
            "APP_ENV": "production", "SECRET_KEY": self.env["SECRET_KEY"], "SITE_URL": self.env["SITE_URL"],
            "SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": BaseConfig.engine_options(url),
            "ALLOWED_HOSTS": ["127.0.0.1", "localhost"], "OUTBOX_THREAD": False, "PAGE_CACHE_SECONDS": 0,
            "STATIC_BUILD_DIR": None, **overrides,
        })
        for name in ("alembic", "portico", "mail.log"):
            logging.getLogger(name).setLevel(logging.WARNING)
        return app

    def run(self, function, *args):
        """Call function(*args) inside an app context on this site's database; returns its result."""
        from extensions import db

        app = self.app()
        try:
            with app.app_context():
                return function(*args)
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()

    def prepare(self, demo: bool = True) -> Site:
        """Migrate and seed; on SQLite, a copy of the first database this run prepared (saves seconds)."""
        template = _sqlite_templates.get(demo)
        if self.pg_name is None and template is not None:
            for suffix in ("", "-wal"):
                if Path(f"{template}{suffix}").exists():
                    shutil.copyfile(f"{template}{suffix}", self.workdir / f"portico.db{suffix}")
            return self
        self.run(_migrate_and_seed, demo)
        if self.pg_name is None:
            template = Path(tempfile.mkdtemp(prefix="portico-bench-template-")) / "portico.db"
            for suffix in ("", "-wal"):
                if (self.workdir / f"portico.db{suffix}").exists():
                    shutil.copyfile(self.workdir / f"portico.db{suffix}", f"{template}{suffix}")
            _sqlite_templates[demo] = template
            atexit.register(shutil.rmtree, template.parent, True)
        return self

    def start(self, app_spec: str = "app:create_app()") -> Site:
        self.server = Server("gunicorn", gunicorn_command(app_spec, self.port), port=self.port, env=self.env,
                             log=self.workdir / f"gunicorn-{self.port}.log")
        self.server.start(wait_path="/healthz")
        return self

    def stop(self) -> None:
        if self.server:
            self.server.stop()
            self.server = None

    def drop(self) -> None:
        self.stop()
        if self.pg_name:
            pg_execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
            self.pg_name = None


def _migrate_and_seed(demo: bool) -> None:
    from flask_migrate import upgrade

    from cli.seeding import seed_all

    upgrade()
    seed_all(demo=demo)


def pg_execute(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def postgres_available() -> bool:
    try:
        import psycopg

        psycopg.connect(PG_ADMIN_URL, connect_timeout=2).close()
        return True
    except Exception:  # noqa: BLE001
        return False


def workdir(name: str) -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix=f"portico-bench-{name}-")
