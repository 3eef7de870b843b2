"""Benchmarks 1 and 2: public pages under gunicorn, against nginx (the limit) and a bare Flask app (the floor).

For each page the site renders it once; nginx serves those very bytes from disk
and a bare Flask app under the same gunicorn settings returns them as one
pre-rendered string. All three are measured with the same wrk command, one
after the other, page by page (BENCH_ROUNDS times, medians), so the ratios
come from the same minutes on the same noisy machine.

    python -m bench.pages            # BENCH_DURATION=3s BENCH_ROUNDS=1 for a quick look
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from bench.common import (
    CONNECTIONS,
    DURATION,
    THREADS,
    Server,
    Site,
    ensure_tools,
    fetch,
    free_port,
    gunicorn_command,
    gunicorn_config_description,
    median,
    nginx_binary,
    save_result,
    table,
    verdict,
    workdir,
    wrk,
)

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))
ARTICLE = "/blog/virtualization-and-containerization"
COURSE = os.environ.get("BENCH_COURSE", "/training/docker")
PAGES = [("home", "/"), ("article", ARTICLE), ("training", "/training"), ("course", COURSE), ("services", "/services")]

NGINX_CONF = """\
worker_processes {workers};
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    default_type text/html;
    charset utf-8;
    server {{
        listen 127.0.0.1:{port};
        root {prefix}/www;
        location = /healthz {{ return 200 "ok"; }}
{locations}
    }}
}}
"""


def start_nginx(prefix: Path, pages: list[tuple[str, str, str]]) -> Server:
    port = free_port()
    for sub in ("www", "tmp"):
        (prefix / sub).mkdir(exist_ok=True)
    locations = "\n".join(f"        location = {path} {{ try_files /{file} =404; }}" for _, path, file in pages)
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(workers=os.cpu_count() or 1, prefix=prefix, port=port, locations=locations))
    # nginx workers drop root privileges: let them read the pages
    for path in [prefix.parent, prefix, *prefix.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    server = Server("nginx", [nginx_binary(), "-c", str(conf), "-p", str(prefix)], port=port,
                    log=prefix / "nginx.out")
    return server.start(wait_path="/healthz")


def main() -> dict:
    ensure_tools("wrk", "nginx")
    started = time.monotonic()
    with workdir("pages") as tmp:
        tmp = Path(tmp)
        www = tmp / "nginx" / "www"
        www.mkdir(parents=True)
        site = Site(tmp).prepare()
        servers: list = []
        try:
            site.start()
            # Render every page once: these are the bytes all three servers send.
            pages, page_sizes = [], {}
            for name, path in PAGES:
                status, _headers, body = fetch(site.url + path)
                if status != 200:
                    raise SystemExit(f"{path} answered {status}: cannot benchmark it")
                (www / f"{name}.html").write_bytes(body)
                page_sizes[name] = len(body)
                pages.append((name, path, f"{name}.html"))
            (www / "pages.tsv").write_text("".join(f"{p}\t{f}\n" for _, p, f in pages))

            nginx = start_nginx(tmp / "nginx", pages)
            servers.append(nginx)
            floor_port = free_port()
            floor = Server("floor", gunicorn_command("bench.floor:app", floor_port), port=floor_port,
                           env={**site.env, "BENCH_FLOOR_DIR": str(www)}, log=tmp / "floor.log")
            servers.append(floor.start(wait_path="/healthz"))
            targets = {"site": site.url, "floor": f"http://127.0.0.1:{floor_port}", "nginx": f"http://127.0.0.1:{nginx.port}"}

            # Same bytes everywhere, or the comparison means nothing.
            for _name, path, file in pages:
                expected = (www / file).read_bytes()
                for server, base in targets.items():
                    status, _h, body = fetch(base + path)
                    if status != 200 or body != expected:
                        if server != "site":
                            raise SystemExit(f"{server} {path} answered {status} with {len(body)} bytes, "
                                             f"not the {len(expected)} bytes the site rendered")
                        print(f"warning: {server} {path} answered {status} with {len(body)} bytes, "
                              f"not the {len(expected)} bytes rendered first (per-request content?)")

            for base in targets.values():  # warm up: imports, caches, connection pools
                wrk(base + "/", duration="1s")

            results: dict[tuple[str, str], list[dict]] = {}
            for _round in range(ROUNDS):
                for name, path, _file in pages:
                    for server, base in targets.items():
                        results.setdefault((name, server), []).append(wrk(base + path))
        finally:
            for server in servers:
                server.stop()
            site.stop()

    def m(name, server, key):
        return median(r[key] for r in results[(name, server)])

    rows, summary = [], {}
    for name, path, _file in pages:
        site_rps, nginx_rps, floor_rps = m(name, "site", "rps"), m(name, "nginx", "rps"), m(name, "floor", "rps")
        errors = sum(r["errors"] for key, runs in results.items() if key[0] == name for r in runs)
        vs_nginx, vs_floor, p99 = site_rps / nginx_rps, site_rps / floor_rps, m(name, "site", "p99")
        summary[name] = {"vs_nginx": vs_nginx, "vs_floor": vs_floor, "p99": p99, "errors": errors}
        rows.append([
            f"{name} `{path}`", page_sizes[name],
            site_rps, m(name, "site", "p50"), p99,
            floor_rps, m(name, "floor", "p99"),
            nginx_rps, m(name, "nginx", "p99"),
            f"{vs_nginx:.1%}", f"{vs_floor:.0%}", errors,
            verdict(vs_nginx >= 0.05 and vs_floor >= 0.80 and p99 < 50 and errors == 0),
        ])
    title = (f"Pages: wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION} --latency, median of {ROUNDS} round(s); "
             f"gunicorn: {gunicorn_config_description()}")
    text = table(
        ["page", "bytes", "site req/s", "site p50 ms", "site p99 ms", "floor req/s", "floor p99 ms",
         "nginx req/s", "nginx p99 ms", "site/nginx", "site/floor", "errors", "targets met"],
        rows, title=title,
    )
    text += "\n\nTargets: site/nginx >= 5%, site/floor >= 80%, site p99 < 50 ms, 0 errors."
    print(f"(pages: {time.monotonic() - started:.0f}s)")
    save_result("pages", text)
    return summary


if __name__ == "__main__":
    main()
