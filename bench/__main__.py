"""`make bench` / `python -m bench`: every benchmark in one run, then a summary against the targets."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
import traceback

from bench import contention, forms, pages, queries, search, stats
from bench.common import ROOT, ensure_tools, save_result, table, verdict


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    mem = next((int(line.split()[1]) // 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    load = os.getloadavg()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    return (f"{os.cpu_count()} CPUs ({cpu}), {mem} MB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}; load average before the run {load[0]:.2f} {load[1]:.2f} "
            f"{load[2]:.2f}; commit {commit.strip()}")


def main() -> int:
    started = time.monotonic()
    ensure_tools("wrk", "nginx")
    about = machine()
    print(f"Machine: {about}\n", flush=True)
    results, crashed = {}, []
    for name, module in (("queries", queries), ("forms", forms), ("contention", contention), ("pages", pages),
                         ("stats", stats), ("search", search)):
        print(f"== {name} ==", flush=True)
        try:
            results[name] = module.main()
        except Exception:  # noqa: BLE001  (one broken benchmark must not hide the others)
            traceback.print_exc()
            crashed.append(name)
    rows = []
    if "pages" in results:
        for page, r in results["pages"].items():
            rows.append([f"page {page}", f"site/nginx {r['vs_nginx']:.1%} (>= 5%), site/floor {r['vs_floor']:.0%} "
                         f"(>= 80%), p99 {r['p99']:.1f} ms (< 50)",
                         verdict(r["vs_nginx"] >= 0.05 and r["vs_floor"] >= 0.8 and r["p99"] < 50 and not r["errors"])])
    if "stats" in results:
        for page, r in results["stats"].items():
            if isinstance(r, dict):
                rows.append([f"visit counting, page {page}", f"on/off {r['ratio']:.1%} (>= 90%)",
                             verdict(r["ratio"] >= stats.TARGET and not r["errors"])])
    if "forms" in results:
        r = results["forms"]
        rows.append(["contact POST, SMTP slow/instant", f"p50 {r['ratio_p50']:.2f}, p99 {r['ratio_p99']:.2f} (<= 1.1)",
                     verdict(r["met"])])
    if "contention" in results:
        for database, r in results["contention"].items():
            rows.append([f"booking contention, {database}", f"{r['errors']} errors, {r['seats_held']} seats held of 10",
                         verdict(r["errors"] == 0 and r["seats_held"] == 10)])
    if "queries" in results:
        r = results["queries"]
        rows.append(["SQL statements per public page", f"at most {r['worst_statements']:g} (<= 4)",
                     verdict(r["worst_statements"] <= 4)])
        if r["home_bytes"]:
            rows.append(["home page weight", f"{r['home_bytes'] / 1024:.1f} KB (<= 40 KB)",
                         verdict(r["home_bytes"] <= 40 * 1024)])
    if "search" in results:
        for database, r in results["search"].items():
            rows.append([f"admin search at {search.ENQUIRIES:,} enquiries, {database}",
                         f"worst p95 {r['worst_p95']:.1f} ms (< 50)", verdict(r["worst_p95"] < 50)])
    for name in crashed:
        rows.append([name, "crashed (see the traceback above)", "NO"])
    text = f"Machine: {about}\n\n" + table(["benchmark", "measured", "target met"], rows, title="Summary")
    text += f"\n\nTotal time: {time.monotonic() - started:.0f} s."
    print(f"Total time: {time.monotonic() - started:.0f} s; tables saved under bench/out/.")
    save_result("summary", text)
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
