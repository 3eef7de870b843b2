"""`make audit`: Lighthouse (mobile preset) on the main pages, served the way production serves them.

Migrates and seeds a fresh SQLite database (with demo sessions), starts gunicorn
with APP_ENV=production on a free loopback port, runs Lighthouse 12.2.3 from
node_modules against each page with Debian's Chromium, writes the JSON and HTML
reports under reports/lighthouse/ and prints a summary table (also written to
reports/lighthouse/summary.md). Exits 1 if a page misses a target.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
REPORTS = ROOT / "reports" / "lighthouse"
CHROMIUM = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
PAGES = {
    "home": "/",
    "article": "/blog/virtualization-and-containerization",
    "training": "/training",
    "course": "/training/docker",
    "contact": "/contact",
}
CATEGORIES = {"performance": "Performance", "accessibility": "Accessibility", "best-practices": "Best Practices", "seo": "SEO"}
TARGETS = {"performance": 95, "accessibility": 100, "best-practices": 100, "seo": 100}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"audit: gunicorn exited with code {server.returncode} before answering")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:  # noqa: S310 (loopback URL we built)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # polling a starting server: nothing to wait on but the socket
    sys.exit(f"audit: the server at {url} did not answer within {timeout}s")


def run_lighthouse(name: str, url: str, env: dict) -> dict:
    base = REPORTS / name
    command = [
        str(LIGHTHOUSE), url, "--quiet", "--output=json", "--output=html", f"--output-path={base}",
        "--chrome-flags=--headless=new --no-sandbox", f"--only-categories={','.join(CATEGORIES)}",
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    report = base.with_suffix(".report.json")
    if result.returncode != 0 or not report.exists():
        sys.exit(f"audit: Lighthouse failed on {url} (exit {result.returncode}):\n{result.stderr[-2000:]}")
    data = json.loads(report.read_text())
    scores = {key: round((data["categories"][key]["score"] or 0) * 100) for key in CATEGORIES}
    misses = []
    for key, category in data["categories"].items():
        for ref in category["auditRefs"]:
            audit = data["audits"][ref["id"]]
            if ref.get("weight", 0) > 0 and audit.get("score") is not None and audit["score"] < 1:
                misses.append(f"{CATEGORIES.get(key, key)}: {audit['title']} ({audit.get('displayValue', audit['score'])})")
    return {"scores": scores, "misses": misses}


def table(results: dict[str, dict]) -> str:
    header = "| page | path | " + " | ".join(CATEGORIES.values()) + " |"
    rule = "| --- | --- | " + " | ".join("---:" for _ in CATEGORIES) + " |"
    rows = [
        f"| {name} | {PAGES[name]} | " + " | ".join(str(result["scores"][key]) for key in CATEGORIES) + " |"
        for name, result in results.items()
    ]
    return "\n".join([header, rule, *rows])


def main() -> int:
    if not LIGHTHOUSE.exists():
        sys.exit("audit: node_modules/.bin/lighthouse is missing; run `make test-tools` (npm ci)")
    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"audit: no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROME_PATH)")
    REPORTS.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="portico-audit-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": f"sqlite:///{work / 'audit.db'}",
        "SITE_URL": url,
        "PORT": str(port),
        "CHROME_PATH": CHROMIUM,
        "XDG_CONFIG_HOME": str(work / "config"),
        "XDG_CACHE_HOME": str(work / "cache"),
    }
    env.pop("MAIL_SERVER", None)  # the audit only reads pages; nothing may be mailed anywhere
    python = sys.executable
    for step in (["db", "upgrade"], ["seed", "--demo"]):
        subprocess.run([python, "-m", "flask", "--app", "app", *step], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    gunicorn = Path(python).with_name("gunicorn")
    server_log = (REPORTS / "server.log").open("w")  # gunicorn's access log, kept out of the table's way
    server = subprocess.Popen(
        [str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", "2", "app:create_app()"],
        cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(url, server)
        results = {}
        for name, path in PAGES.items():
            print(f"audit: Lighthouse on {path} …", flush=True)
            results[name] = run_lighthouse(name, url + path, env)
    finally:
        server.terminate()
        server.wait(timeout=30)
        server_log.close()
        shutil.rmtree(work, ignore_errors=True)

    summary = table(results)
    notes = [f"- {name}: {miss}" for name, result in results.items() for miss in result["misses"]]
    (REPORTS / "summary.md").write_text(
        "# Lighthouse 12.2.3, mobile preset\n\n" + summary + "\n" + ("\n## Audits not passed\n\n" + "\n".join(notes) + "\n" if notes else "")
    )
    print()
    print(summary)
    if notes:
        print("\nAudits not passed:\n" + "\n".join(notes))
    print(f"\nReports: {REPORTS.relative_to(ROOT)}/<page>.report.html (server log: server.log)")
    below = [f"{name} {CATEGORIES[key]} {result['scores'][key]} < {target}"
             for name, result in results.items() for key, target in TARGETS.items() if result["scores"][key] < target]
    if below:
        print("Below target: " + "; ".join(below))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
