"""Where a page's time goes under gunicorn: py-spy samples every worker while wrk loads one page.

Not part of `make bench` (it needs py-spy from requirements-dev.txt and ptrace rights):

    .venv/bin/python -m bench.profile /            # BENCH_PROFILE_SECONDS=10
    .venv/bin/python -m bench.profile / --floor    # the bare Flask floor, same settings

Prints the share of samples by layer (gunicorn's worker, Flask/Werkzeug, the site's own code, the
kernel side of sockets) and the functions that take the most time themselves.
"""
from __future__ import annotations

import collections
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import VENV_BIN, Server, Site, fetch, free_port, gunicorn_command, table, workdir

SECONDS = int(os.environ.get("BENCH_PROFILE_SECONDS", "10"))

LAYERS = [  # first match wins, on the innermost frame's file
    ("sockets, accept, send (syscalls)", ("socket.py", "selectors.py", "ssl.py")),
    ("gunicorn worker: HTTP parsing, access log", ("gunicorn/",)),
    ("site code (page_cache, app, blueprints)", ("/web/", "/blueprints/", "/app.py", "/mail/",
                                                 "/models/", "/templates/")),
    ("Flask, Werkzeug, Jinja, extensions", ("flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous")),
    ("SQLAlchemy and the database driver", ("sqlalchemy", "sqlite3", "psycopg")),
    ("logging", ("logging/",)),
]


def layer(frame: str) -> str:
    for name, needles in LAYERS:
        if any(n in frame for n in needles):
            return name
    return "other (interpreter, stdlib)"


def main() -> None:
    path = next((a for a in sys.argv[1:] if a.startswith("/")), "/")
    floor = "--floor" in sys.argv
    with workdir("profile") as tmp:
        tmp = Path(tmp)
        site = Site(tmp).prepare()
        server = None
        try:
            site.start()
            target = site
            if floor:
                status, _h, body = fetch(site.url + path)
                (tmp / "page.html").write_bytes(body)
                (tmp / "pages.tsv").write_text(f"{path}\tpage.html\n")
                port = free_port()
                server = Server("floor", gunicorn_command("bench.floor:app", port), port=port,
                                env={**site.env, "BENCH_FLOOR_DIR": str(tmp)}, log=tmp / "floor.log")
                server.start(wait_path="/healthz")
                url, pid = f"http://127.0.0.1:{port}{path}", server.proc.pid
            else:
                url, pid = site.url + path, target.server.proc.pid
            subprocess.run(["wrk", "-t2", "-c32", "-d1s", url], capture_output=True)  # warm the cache
            raw = tmp / "profile.txt"
            spy = subprocess.Popen([str(VENV_BIN / "py-spy"), "record", "--pid", str(pid), "--subprocesses",
                                    "--duration", str(SECONDS), "--rate", "250", "--format", "raw", "--nonblocking",
                                    "--output", str(raw)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(1)
            out = subprocess.run(["wrk", "-t2", "-c32", f"-d{SECONDS - 2}s", "--latency", url],
                                 capture_output=True, text=True).stdout
            spy.wait(timeout=SECONDS + 30)
        finally:
            if server:
                server.stop()
            site.stop()
        by_layer, by_function, total, idle = collections.Counter(), collections.Counter(), 0, 0
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = stack.split(";")
            count = int(count)
            leaf = frames[-1]
            if "select (selectors.py" in leaf or "wait (" in leaf or "sleep" in leaf or "_run (gunicorn" in stack.split(";")[-1]:
                idle += count
                continue
            total += count
            by_layer[layer(leaf)] += count
            by_function[leaf.split(" (")[0] + " (" + leaf.split(" (")[-1].split("/")[-1]] += count
    rps = next((line for line in out.splitlines() if "Requests/sec" in line), "").strip()
    print(f"{'floor' if floor else 'site'} {path}: {rps}; {total} busy samples, {idle} idle")
    table(["layer", "share of busy samples"], [[k, f"{v / total:.0%}"] for k, v in by_layer.most_common()],
          title=f"py-spy, {'floor' if floor else 'site'} {path}, gunicorn workers under wrk -c32")
    table(["function (self time)", "share"], [[k, f"{v / total:.1%}"] for k, v in by_function.most_common(15)])


if __name__ == "__main__":
    main()
