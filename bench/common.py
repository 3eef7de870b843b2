"""Shared pieces of the benchmark scripts: tools, servers in their own process groups, wrk, tables.

Every server a script starts goes through `Server`, which runs it in a new
process group and kills the whole group on exit (normal, exception, Ctrl-C or
SIGTERM), so no benchmark leaves a gunicorn or nginx behind.
"""
from __future__ import annotations

import atexit
import math
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
VENV_BIN = Path(sys.executable).parent
DURATION = os.environ.get("BENCH_DURATION", "10s")
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

_servers: list[Server] = []
_sqlite_templates: dict[bool, Path] = {}


def _stop_all(*_args) -> None:
    for server in list(_servers):
        server.stop()


def _on_signal(signum, _frame):
    _stop_all()
    raise SystemExit(128 + signum)


atexit.register(_stop_all)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGHUP, _on_signal)


# --- tools ----------------------------------------------------------------------------------

def ensure_tools(*names: str) -> None:
    """Install the Debian packages wrk/nginx when missing (root only); fail with a clear line otherwise."""
    missing = [n for n in names if not shutil.which(n) and not Path(f"/usr/sbin/{n}").exists()]
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"bench needs {', '.join(missing)}: apt-get install -y {' '.join(missing)}")
    print(f"installing {', '.join(missing)} (apt-get)…", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=120", *missing]
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


# --- processes -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A process (and its children) in its own process group, stopped as a group."""

    def __init__(self, name: str, cmd: list[str], *, port: int, env: dict | None = None,
                 cwd: Path = ROOT, log: Path | None = None) -> None:
        self.name, self.cmd, self.port, self.cwd = name, cmd, port, cwd
        self.env = {**os.environ, **(env or {})}
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self, wait_path: str = "/", timeout: float = 30.0) -> Server:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        _servers.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text()[-2000:] if self.log and self.log.exists() else ""
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}\n{tail}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{wait_path}", timeout=2):
                    return self
            except urllib.error.HTTPError:
                return self  # it answers; the caller checks statuses
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer on port {self.port} within {timeout:.0f}s")

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if self in _servers:
            _servers.remove(self)
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        # workers that outlived their master (should not happen) go with the group
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


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


# --- HTTP -------------------------------------------------------------------------------------

def fetch(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# --- wrk ----------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, duration: str | None = None, connections: int | None = None) -> dict:
    """One wrk run: requests/s, p50 and p99 in ms, and every error wrk counted."""
    cmd = ["wrk", f"-t{THREADS}", f"-c{connections or CONNECTIONS}", f"-d{duration or DURATION}", "--latency", url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    if "Requests/sec" not in out or "Latency Distribution" not in out:
        raise RuntimeError(f"wrk gave no result for {url}:\n{out}")
    return parse_wrk(out)


def parse_wrk(out: str) -> dict:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(n) for n in m.groups())
    return {"rps": rps, "p50": p50, "p99": p99, "errors": errors, "raw": out}


def median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def percentile(values, pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))  # nearest rank
    return ordered[index]


# --- output -------------------------------------------------------------------------------------

def table(headers: list[str], rows: list[list], title: str | None = None) -> str:
    """A Markdown table (readable in a terminal and pasteable into docs/benchmarks.md)."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = []
    if title:
        lines += [f"### {title}", ""]
    lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    text = "\n".join(lines)
    print(text + "\n", flush=True)
    return text


def _fmt(value) -> str:
    if isinstance(value, float):
        if value != value:
            return "n/a"
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def save_result(name: str, text: str) -> None:
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / f"{name}.md").write_text(text + "\n")


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


# --- mail -------------------------------------------------------------------------------------

class SmtpSink:
    """A real SMTP server on loopback (aiosmtpd) that accepts every message, optionally after a delay."""

    def __init__(self, delay: float = 0.0) -> None:
        import logging

        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                import asyncio

                if sink.delay:
                    await asyncio.sleep(sink.delay)
                sink.received += 1
                return "250 OK"

        self.delay = delay
        self.received = 0
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    def env(self) -> dict:
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(self.port), "MAIL_USE_TLS": "0", "MAIL_USE_SSL": "0"}


# --- forms over HTTP ------------------------------------------------------------------------------

class _FormParser:
    """The fields of the first POST form on a page: hidden values kept, selects with their options."""

    def __init__(self, html: str) -> None:
        from html.parser import HTMLParser

        self.fields: dict[str, str] = {}
        self.kinds: dict[str, str] = {}
        self.options: dict[str, list[str]] = {}
        parser = HTMLParser()
        state = {"in_form": False, "done": False, "select": None}

        def start(tag, attrs):
            a = {k: (v or "") for k, v in attrs}
            if state["done"]:
                return
            if tag == "form" and a.get("method", "get").lower() == "post":
                state["in_form"] = True
            if not state["in_form"]:
                return
            name = a.get("name")
            if tag == "input" and name:
                self.kinds[name] = a.get("type", "text").lower()
                self.fields[name] = a.get("value", "y" if self.kinds[name] == "checkbox" else "")
            elif tag == "textarea" and name:
                self.kinds[name], self.fields[name] = "textarea", ""
            elif tag == "select" and name:
                self.kinds[name], state["select"] = "select", name
                self.options[name] = []
            elif tag == "option" and state["select"]:
                self.options[state["select"]].append(a.get("value", ""))

        def end(tag):
            if tag == "select":
                state["select"] = None
            if tag == "form" and state["in_form"]:
                state["in_form"], state["done"] = False, True

        parser.handle_starttag = start
        parser.handle_startendtag = start
        parser.handle_endtag = end
        parser.feed(html)


class FormClient:
    """One visitor: keeps its cookies, fetches a form (CSRF token, spam timestamp) and posts it."""

    def __init__(self, port: int) -> None:
        import http.client

        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.form: _FormParser | None = None

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict, bytes]:
        import http.client

        headers = {"Host": f"127.0.0.1:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):  # a sync worker closes the connection after each response
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.CannotSendRequest):
                self.conn.close()
                if attempt == 2:
                    raise
        for key, value in response.getheaders():
            if key.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        if (response.getheader("Connection") or "").lower() == "close":
            self.conn.close()
        return response.status, dict(response.getheaders()), data

    def load_form(self, path: str) -> int:
        status, _headers, body = self.request("GET", path)
        self.form = _FormParser(body.decode("utf-8", "replace"))
        return status

    def submit(self, path: str, values: dict[str, str]) -> tuple[int, bytes]:
        """POST the loaded form: hidden fields as rendered, `values` for the rest, first real option for selects."""
        from urllib.parse import urlencode

        fields = {}
        for name, kind in self.form.kinds.items():
            if name in values:
                fields[name] = values[name]
            elif kind == "hidden":
                fields[name] = self.form.fields[name]
            elif kind == "select":
                fields[name] = next((o for o in self.form.options.get(name, []) if o), "")
            elif kind in ("submit", "checkbox"):
                continue
            else:
                fields[name] = ""  # the honeypot and anything optional stay empty
        status, _headers, body = self.request("POST", path, urlencode(fields).encode())
        return status, body

    def close(self) -> None:
        self.conn.close()
