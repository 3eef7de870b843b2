"""Benchmark: what counting visits costs a cached page (web/stats.py), counting on vs off in the same run.

Two copies of the seeded site under the same gunicorn settings (`make serve`), one with STATS_ENABLED=1
and one with STATS_ENABLED=0, are loaded with the same wrk command one right after the other, page by page, round after round, the
order swapped each round; the ratio is the median of the rounds' on/off ratios. (Loading both at the same
time was tried: on 2 cores the scheduler does not share them fairly between ten workers, ratios ran from
64 % to 210 %.) wrk sends a browser's User-Agent, so every request takes the dearest path a
real view takes (classified, hashed with the day's salt, buffered, written in batches by the flusher).
After the run the counting site is stopped (its workers flush at exit) and its stored hits are compared
with the requests wrk made: the measured cost is the cost of counting every one of them.

    python -m bench.stats            # BENCH_DURATION=3s BENCH_ROUNDS=1 for a quick look

Target: cached-page throughput with counting on >= 90 % of off.
"""
from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from bench.common import (
    CONNECTIONS,
    DURATION,
    THREADS,
    Site,
    ensure_tools,
    fetch,
    gunicorn_config_description,
    median,
    parse_wrk,
    save_result,
    table,
    verdict,
    workdir,
)

ROUNDS = max(int(os.environ.get("BENCH_ROUNDS", "5")), 1)
PAGES = [("home", "/"), ("services", "/services"), ("article", "/blog/virtualization-and-containerization")]
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
TARGET = 0.90


def wrk_command(url: str) -> list[str]:
    return ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency", "-H", f"User-Agent: {AGENT}",
            "-H", "Accept-Encoding: gzip", url]


def parse(out: str, url: str) -> dict:
    if "Requests/sec" not in out:
        raise RuntimeError(f"wrk gave no result for {url}:\n{out}")
    result = parse_wrk(out)
    result["requests"] = int(re.search(r"(\d+) requests in", out).group(1))
    return result


def wrk_browser(url: str) -> dict:
    return parse(subprocess.run(wrk_command(url), capture_output=True, text=True, timeout=600).stdout, url)


def count_hits() -> int:
    from sqlalchemy import func, select

    from extensions import db
    from models import StatsHit

    return db.session.scalar(select(func.count()).select_from(StatsHit))


def per_hit_microseconds(site: Site, enabled: bool, hits: int = 20_000, rounds: int = 5) -> float:
    """Median µs of one cached home-page hit straight through the WSGI stack, in this process (no server, no wrk)."""
    import io

    from werkzeug.test import EnvironBuilder

    app = site.app(PAGE_CACHE_SECONDS=600, STATS_ENABLED=enabled, STATS_FLUSH_SECONDS=5)
    base = EnvironBuilder(path="/", headers={"User-Agent": AGENT, "Accept-Encoding": "gzip", "Host": "127.0.0.1"},
                          environ_base={"REMOTE_ADDR": "198.51.100.7"}).get_environ()

    def start_response(status, headers, exc_info=None):
        return None

    def hit() -> None:
        environ = dict(base)
        environ["wsgi.input"] = io.BytesIO()
        b"".join(app(environ, start_response))

    hit()
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(hits):
            hit()
        timings.append((time.perf_counter() - started) / hits * 1e6)
    if enabled:
        app.extensions["stats"].flush()
    return median(timings)


def main() -> dict:
    ensure_tools("wrk")
    started = time.monotonic()
    with workdir("stats") as tmp:
        tmp = Path(tmp)
        sites = {}
        for name, enabled in (("off", "0"), ("on", "1")):
            folder = tmp / name
            folder.mkdir()
            sites[name] = Site(folder, env={"STATS_ENABLED": enabled, "PAGE_CACHE_SECONDS": "600"}).prepare()
        requests_made = 0
        results: dict[tuple[str, str], list[dict]] = {}
        try:
            for site in sites.values():
                site.start()
                for _name, path in PAGES:
                    status, headers, _body = fetch(site.url + path, {"User-Agent": AGENT})
                    if status != 200:
                        raise SystemExit(f"{path} answered {status}: cannot benchmark it")
                    if "Set-Cookie" in headers and path == "/":
                        raise SystemExit("the home page set a cookie")
                requests_made += len(PAGES) if site is sites["on"] else 0
            for site in sites.values():  # warm up: every worker's page cache and connection pool
                wrk_browser(site.url + "/")
            for _round in range(ROUNDS):
                for name, path in PAGES:
                    for mode in ("off", "on") if _round % 2 == 0 else ("on", "off"):  # neither always goes first
                        results.setdefault((name, mode), []).append(wrk_browser(sites[mode].url + path))
            requests_made += sum(r["requests"] for (_p, mode), runs in results.items() if mode == "on" for r in runs)
        finally:
            for site in sites.values():
                site.stop()
        stored = sites["on"].run(count_hits)
        stored_off = sites["off"].run(count_hits)
        micro = {mode: per_hit_microseconds(sites["off"], mode == "on") for mode in ("off", "on")}

    def m(name, mode, key):
        return median(r[key] for r in results[(name, mode)])

    rows, summary = [], {}
    for name, path in PAGES:
        on, off = m(name, "on", "rps"), m(name, "off", "rps")
        errors = sum(r["errors"] for (p, _mode), runs in results.items() if p == name for r in runs)
        # The median of each round's ratio: each pair was measured within seconds of each other.
        ratio = median(a["rps"] / b["rps"] for a, b in zip(results[(name, "on")], results[(name, "off")], strict=True))
        summary[name] = {"ratio": ratio, "errors": errors}
        rows.append([f"{name} `{path}`", off, m(name, "off", "p99"), on, m(name, "on", "p99"), f"{ratio:.1%}", errors,
                     verdict(ratio >= TARGET and errors == 0)])
    title = (f"Visit counting: wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION} --latency (browser User-Agent), median of "
             f"{ROUNDS} round(s), off and on one after the other, order swapped each round; gunicorn: {gunicorn_config_description()}")
    text = table(["page", "off req/s", "off p99 ms", "on req/s", "on p99 ms", "on/off", "errors", "target met"],
                 rows, title=title)
    # wrk's own warm-up run (1 per site) is not in requests_made: stored counts it too.
    text += (f"\n\nTarget: on/off >= {TARGET:.0%}, 0 errors. Hits stored by the counting site: {stored:,} "
             f"(wrk's measured requests and the set-up fetches: {requests_made:,}; the rest is the warm-up run); "
             f"by the site with counting off: {stored_off:,}.")
    text += (f"\n\nIn this process, straight through the WSGI stack (no server, no network): a cached home-page hit "
             f"takes {micro['off']:.1f} µs with counting off and {micro['on']:.1f} µs with it on "
             f"(+{micro['on'] - micro['off']:.1f} µs; median of 5 × 20,000 hits).")
    print(text.split("\n\n")[-2])
    print(text.splitlines()[-1])
    print(f"(stats: {time.monotonic() - started:.0f}s)")
    save_result("stats", text)
    summary["stored"], summary["requests"] = stored, requests_made
    return summary


if __name__ == "__main__":
    main()
