"""Benchmark 3: a form never waits on mail. POST /contact latency with an instant SMTP server vs one taking 2 s.

The site runs under gunicorn with the production settings and its default
delivery (whatever `make serve` does: the outbox thread and/or workers), with
the rate limit off and SPAM_MIN_SECONDS=0 for the run. CSRF stays ON: each
client fetches the form first (session cookie, CSRF token, spam timestamp) and
then posts it. Each phase gets a fresh database so the slow phase's backlog
cannot weigh on the other.

    python -m bench.forms        # BENCH_FORM_POSTS=200 BENCH_FORM_CLIENTS=8
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from bench.common import FormClient, Site, SmtpSink, median, percentile, save_result, table, verdict, workdir

POSTS = int(os.environ.get("BENCH_FORM_POSTS", "200"))
CLIENTS = int(os.environ.get("BENCH_FORM_CLIENTS", "8"))
SLOW_SECONDS = 2.0
TARGET = 1.1


def contact_values(client: int, n: int) -> dict[str, str]:
    return {
        "name": f"Bench Client {client}", "email": f"bench{client}.{n}@example.com", "company": "Bench Ltd",
        "message": "We would like help moving our workloads to Kubernetes next quarter. Could we talk?",
        "consent": "y", "website": "",
    }


def run_phase(tmp: Path, delay: float) -> dict:
    with SmtpSink(delay=delay) as smtp:
        site = Site(tmp, env={**smtp.env(), "RATELIMIT_ENABLED": "0", "SPAM_MIN_SECONDS": "0"}).prepare()
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        failures: list[str] = []
        lock = threading.Lock()
        try:
            site.start()

            def client_run(number: int, count: int) -> None:
                client = FormClient(site.port)
                try:
                    if client.load_form("/contact") != 200:
                        raise RuntimeError("GET /contact did not answer 200")
                    for n in range(count):
                        t0 = time.perf_counter()
                        status, body = client.submit("/contact", contact_values(number, n))
                        elapsed = (time.perf_counter() - t0) * 1000
                        with lock:
                            latencies.append(elapsed)
                            statuses[status] = statuses.get(status, 0) + 1
                            if status not in (302, 303) and len(failures) < 3:
                                failures.append(f"{status}: {body[:300]!r}")
                except Exception as error:  # noqa: BLE001  (reported, and counted as an error)
                    with lock:
                        statuses[0] = statuses.get(0, 0) + 1
                        failures.append(repr(error))
                finally:
                    client.close()

            # warm-up: a few submissions so first-request costs are not measured
            client_run(-1, 3)
            latencies.clear()
            statuses.clear()
            per_client = [POSTS // CLIENTS + (1 if i < POSTS % CLIENTS else 0) for i in range(CLIENTS)]
            threads = [threading.Thread(target=client_run, args=(i, c)) for i, c in enumerate(per_client)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=300)
            wall = time.perf_counter() - started
            delivered = smtp.received
        finally:
            site.drop()
    for failure in failures:
        print(f"  contact POST failure: {failure}")
    ok = sum(v for k, v in statuses.items() if k in (302, 303))
    return {"p50": median(latencies), "p99": percentile(latencies, 99), "ok": ok, "errors": len(latencies) - ok
            + statuses.get(0, 0), "wall": wall, "delivered": delivered, "statuses": statuses}


def main() -> dict:
    started = time.monotonic()
    with workdir("forms") as tmp:
        (Path(tmp) / "instant").mkdir()
        (Path(tmp) / "slow").mkdir()
        instant = run_phase(Path(tmp) / "instant", 0.0)
        slow = run_phase(Path(tmp) / "slow", SLOW_SECONDS)
    ratio50, ratio99 = slow["p50"] / instant["p50"], slow["p99"] / instant["p99"]
    rows = [
        ["SMTP instant", POSTS, CLIENTS, instant["ok"], instant["errors"], instant["p50"], instant["p99"],
         POSTS / instant["wall"], instant["delivered"], "", ""],
        [f"SMTP +{SLOW_SECONDS:.0f} s per message", POSTS, CLIENTS, slow["ok"], slow["errors"], slow["p50"],
         slow["p99"], POSTS / slow["wall"], slow["delivered"], f"{ratio50:.2f}", f"{ratio99:.2f}"],
    ]
    text = table(["SMTP server", "POSTs", "clients", "303s", "errors", "p50 ms", "p99 ms", "POSTs/s",
                  "emails delivered during run", "slow/instant p50", "slow/instant p99"], rows,
                 title="Contact form POST latency, mail off the request path (CSRF on; rate limit off; "
                       "SPAM_MIN_SECONDS=0)")
    met = ratio50 <= TARGET and instant["errors"] == 0 and slow["errors"] == 0
    text += f"\n\nTarget: slow/instant p50 <= {TARGET} and 0 errors: {verdict(met)}."
    print(text.rsplit("\n", 1)[-1])
    print(f"(forms: {time.monotonic() - started:.0f}s)")
    save_result("forms", text)
    return {"ratio_p50": ratio50, "ratio_p99": ratio99, "met": met}


if __name__ == "__main__":
    main()
