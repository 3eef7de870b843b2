"""Benchmark 3: a form never waits on mail. POST /contact latency with an instant SMTP server vs one taking 2 s.

The site runs under gunicorn with the production settings and its default
delivery (whatever `make serve` does: the outbox thread and/or workers), with
the rate limit off and SPAM_MIN_SECONDS=0 for the run. CSRF stays ON: each
client fetches the form first (session cookie, CSRF token, spam timestamp) and
then posts it. The two servers (each with its own database and SMTP server)
run side by side and get the submissions in interleaved batches, so both see
the same background load.

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
ROUNDS = 8  # batches per server, interleaved
SLOW_SECONDS = 2.0
TARGET = 1.1


def contact_values(client: int, n: int) -> dict[str, str]:
    return {
        "name": f"Bench Client {client}", "email": f"bench{client}.{n}@example.com", "company": "Bench Ltd",
        "message": "We would like help moving our workloads to Kubernetes next quarter. Could we talk?",
        "consent": "y", "website": "",
    }


class Phase:
    """One site (its own database and SMTP server) and the latencies measured against it."""

    def __init__(self, tmp: Path, smtp: SmtpSink) -> None:
        self.smtp = smtp
        self.site = Site(tmp, env={**smtp.env(), "RATELIMIT_ENABLED": "0", "SPAM_MIN_SECONDS": "0"})
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.failures: list[str] = []
        self.wall = 0.0
        self.lock = threading.Lock()

    def client_run(self, number: int, count: int, record: bool = True) -> None:
        client = FormClient(self.site.port)
        try:
            if client.load_form("/contact") != 200:
                raise RuntimeError("GET /contact did not answer 200")
            for n in range(count):
                t0 = time.perf_counter()
                status, body = client.submit("/contact", contact_values(number, n))
                elapsed = (time.perf_counter() - t0) * 1000
                if not record:
                    continue
                with self.lock:
                    self.latencies.append(elapsed)
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                    if status not in (302, 303) and len(self.failures) < 3:
                        self.failures.append(f"{status}: {body[:300]!r}")
        except Exception as error:  # noqa: BLE001  (reported, and counted as an error)
            with self.lock:
                self.statuses[0] = self.statuses.get(0, 0) + 1
                self.failures.append(repr(error))
        finally:
            client.close()

    def batch(self, posts: int, offset: int) -> None:
        per_client = [posts // CLIENTS + (1 if i < posts % CLIENTS else 0) for i in range(CLIENTS)]
        threads = [threading.Thread(target=self.client_run, args=(offset + i, c)) for i, c in enumerate(per_client)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        self.wall += time.perf_counter() - started

    def result(self) -> dict:
        ok = sum(v for k, v in self.statuses.items() if k in (302, 303))
        return {"p50": median(self.latencies), "p99": percentile(self.latencies, 99), "ok": ok,
                "errors": sum(self.statuses.values()) - ok, "wall": self.wall, "delivered": self.smtp.received}


def main() -> dict:
    started = time.monotonic()
    with workdir("forms") as tmp, SmtpSink() as fast_smtp, SmtpSink(delay=SLOW_SECONDS) as slow_smtp:
        (Path(tmp) / "instant").mkdir()
        (Path(tmp) / "slow").mkdir()
        instant, slow = Phase(Path(tmp) / "instant", fast_smtp), Phase(Path(tmp) / "slow", slow_smtp)
        try:
            for phase in (instant, slow):
                phase.site.prepare().start()
                phase.client_run(-1, 3, record=False)  # warm-up: first-request costs are not measured
            # Interleaved batches (A B B A …), so both servers see the same background load on a shared machine.
            for number in range(ROUNDS):
                order = (instant, slow) if number % 2 == 0 else (slow, instant)
                for phase in order:
                    phase.batch(POSTS // ROUNDS, number * 1000)
            results = {"instant": instant.result(), "slow": slow.result()}
        finally:
            instant.site.drop()
            slow.site.drop()
    for phase in (instant, slow):
        for failure in phase.failures:
            print(f"  contact POST failure: {failure}")
    instant, slow = results["instant"], results["slow"]
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
