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
import shutil
import signal
import socket
import statistics
import subprocess
import sys
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


# The site under test (bench/site.py) and its clients (bench/clients.py), for the scripts' `from bench.common import …`.
from bench.clients import FormClient, SmtpSink, _FormParser  # noqa: E402,F401
from bench.site import Site, gunicorn_command, gunicorn_config_description, postgres_available, workdir  # noqa: E402,F401
