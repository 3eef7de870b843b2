"""Benchmark 4: 50 clients booking the seats of one 10-seat session at once, through gunicorn, on SQLite and PostgreSQL.

Every client first loads the booking form (its own session, CSRF token and spam
timestamp), then all post at the same moment (a barrier). Afterwards the
database is asked how many seats are held: it must equal the capacity, and no
request may fail (anything but a redirect or the form refusing: 200/302/303/409/422).

    python -m bench.contention      # BENCH_BOOKING_CLIENTS=50
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from bench.common import FormClient, Site, SmtpSink, postgres_available, save_result, table, verdict, workdir

CLIENTS = int(os.environ.get("BENCH_BOOKING_CLIENTS", "50"))
CAPACITY = 10
# What a client may get: booked or waitlisted (a redirect to its booking), or the form again saying
# there are not enough seats left (422, or 200/409 in other designs).
ANSWERS = (200, 302, 303, 409, 422)

def add_session() -> int:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from extensions import db
    from models import Course, TrainingSession

    course = db.session.scalar(select(Course).where(Course.slug == "docker")) or db.session.scalar(select(Course))
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    session = TrainingSession(course=course, starts_at=starts, ends_at=starts + timedelta(hours=8),
                              timezone="Europe/Berlin", capacity=CAPACITY)
    db.session.add(session)
    db.session.commit()
    return session.id


def bookings_by_status(session_id: int) -> dict[str, tuple[int, int]]:
    """{status: (bookings, seats)} for one session."""
    from sqlalchemy import func, select

    from extensions import db
    from models import Booking

    rows = db.session.execute(select(Booking.status, func.count(), func.sum(Booking.seats))
                              .where(Booking.session_id == session_id).group_by(Booking.status)).all()
    return {status: (count, int(seats or 0)) for status, count, seats in rows}


def book_values(number: int) -> dict[str, str]:
    return {"name": f"Bench Client {number}", "email": f"bench{number}@example.com", "company": "Bench Ltd",
            "seats": "1", "notes": "", "consent": "y", "website": ""}


def run(tmp: Path, database: str) -> dict:
    with SmtpSink() as smtp:
        site = Site(tmp, database=database, env={**smtp.env(), "RATELIMIT_ENABLED": "0", "SPAM_MIN_SECONDS": "0"})
        try:
            site.prepare()
            session_id = site.run(add_session)
            path = f"/training/sessions/{session_id}/book"
            site.start()
            clients = [FormClient(site.port) for _ in range(CLIENTS)]
            form_statuses = [0] * CLIENTS
            loaders = [threading.Thread(target=lambda i=i: form_statuses.__setitem__(i, clients[i].load_form(path)))
                       for i in range(CLIENTS)]
            for thread in loaders:
                thread.start()
            for thread in loaders:
                thread.join(timeout=120)
            barrier = threading.Barrier(CLIENTS + 1)
            statuses: list[int] = [0] * CLIENTS
            failures: list[str] = []

            def post(i: int) -> None:
                barrier.wait()
                try:
                    status, body = clients[i].submit(path, book_values(i))
                    statuses[i] = status
                    if status not in ANSWERS and len(failures) < 3:
                        failures.append(f"{status}: {body[:200]!r}")
                except Exception as error:  # noqa: BLE001  (counted as an error)
                    failures.append(repr(error))

            threads = [threading.Thread(target=post, args=(i,)) for i in range(CLIENTS)]
            for thread in threads:
                thread.start()
            barrier.wait()
            started = time.perf_counter()
            for thread in threads:
                thread.join(timeout=120)
            wall = time.perf_counter() - started
            for client in clients:
                client.close()
            by_status = site.run(bookings_by_status, session_id)
        finally:
            site.drop()
    seats_held = sum(seats for status, (_c, seats) in by_status.items() if status in ("pending", "confirmed"))
    errors = sum(1 for s in statuses if s not in ANSWERS)
    for failure in failures:
        print(f"  {database} booking failure: {failure}")
    codes = {}
    for s in statuses:
        codes[s] = codes.get(s, 0) + 1
    return {"wall": wall, "errors": errors, "seats_held": seats_held, "by_status": by_status, "codes": codes,
            "form_ok": all(s == 200 for s in form_statuses)}


def main() -> dict:
    started = time.monotonic()
    databases = ["sqlite"] + (["postgresql"] if postgres_available() else [])
    results = {}
    with workdir("contention") as tmp:
        for database in databases:
            (Path(tmp) / database).mkdir()
            results[database] = run(Path(tmp) / database, database)
    rows = []
    for database, r in results.items():
        met = r["errors"] == 0 and r["seats_held"] == CAPACITY and r["form_ok"]
        rows.append([
            database, CLIENTS, CAPACITY, f"{CLIENTS / r['wall']:.1f}", r["wall"] * 1000,
            " ".join(f"{k}x{v}" for k, v in sorted(r["codes"].items())),
            ", ".join(f"{s} {c}" for s, (c, _n) in sorted(r["by_status"].items())) or "none",
            r["errors"], r["seats_held"], verdict(met),
        ])
    if "postgresql" not in results:
        rows.append(["postgresql", "-", "-", "-", "-", "-", "-", "-", "-", "skipped: not reachable"])
    text = table(["database", "clients", "capacity", "booking POSTs/s", "all done in ms", "HTTP statuses",
                  "bookings by state", "errors", "seats held", "0 errors, seats held = capacity"], rows,
                 title=f"Booking contention: {CLIENTS} clients post at once for a {CAPACITY}-seat session")
    print(f"(contention: {time.monotonic() - started:.0f}s)")
    save_result("contention", text)
    return {db: {"errors": r["errors"], "seats_held": r["seats_held"]} for db, r in results.items()}


if __name__ == "__main__":
    main()
