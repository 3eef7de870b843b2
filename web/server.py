"""The gunicorn classes gunicorn.conf.py names: a worker that cuts slow clients off, a logger whose lines are safe.

HeaderTimeoutWorker: gunicorn's gthread worker with a header deadline: a client gets HEADER_TIMEOUT seconds to send its request line
and headers, however slowly it trickles them, or its connection is cut.

gthread already waits for a connection's first byte in its poller, not in a thread, but once a byte has arrived a
thread reads the headers and blocks until they are complete: a client sending one byte every two seconds (slowloris)
holds that thread for as long as it likes, and a dozen of them stall a small server. Here one watchdog thread per
worker shuts down the socket of any connection whose headers are late; the blocked read then ends at once and the
thread is free. The deadline ends when the headers are in (`handle_request`): bodies are bounded by
MAX_CONTENT_LENGTH and gunicorn's own timeouts, the app's work by `timeout`.

A reverse proxy in front is defence in depth, not the fix.

Recycling (max_requests) one worker at a time: gunicorn's own check stops a worker the moment it reaches its
limit, so workers started together and loaded evenly reach theirs within seconds of each other (20,000 ± 2,000
was ~3 s apart at the benchmark's rate), and while one is stopping and its successor imports the app, the others
carry its share. Here a worker past its limit first takes a lock shared by the workers of one master (a file in
worker_tmp_dir, flock) and goes only if no other worker went in the last RECYCLE_GAP seconds; otherwise it keeps
serving and asks again a second later. The lock is held until the process exits, so the next worker waits for
the drain as well as the gap (which covers the successor's boot).

SafeLogger: gunicorn's logger with web/requests.py's SafeFormatter on its handlers (error and access log), so
control characters are escaped and booking tokens masked in every line gunicorn writes, as in the app's own.
"""
from __future__ import annotations

import fcntl
import os
import socket
import sys
import tempfile
import threading
import time

from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

from web.requests import SafeFormatter

HEADER_TIMEOUT = float(os.environ.get("GUNICORN_HEADER_TIMEOUT") or 10)
CHECK_EVERY = 0.5  # seconds between watchdog passes: how far past its deadline a slow client may get
# Seconds between two workers' recycling: a stopping worker drains for up to 2 s (gthread's keep-alive linger) and
# its successor takes ~1-2 s of CPU to import the app and warm up; measured in bench/servers.py.
RECYCLE_GAP = float(os.environ.get("GUNICORN_RECYCLE_GAP") or 15)


class HeaderTimeoutWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # gunicorn's own check (nr >= max_requests) would stop this worker at once: ours asks the others first.
        self.recycle_after, self.max_requests = self.max_requests, sys.maxsize
        self.recycle_asked_at = 0.0
        self.recycle_lock = None

    def init_process(self):
        self.header_deadlines: dict[object, float] = {}  # connection -> monotonic deadline for its headers
        self.deadlines_lock = threading.Lock()
        threading.Thread(target=self.cut_late_headers, name="header-watchdog", daemon=True).start()
        super().init_process()  # runs the worker loop; returns only when the worker exits

    def handle(self, conn):
        with self.deadlines_lock:
            self.header_deadlines[conn] = time.monotonic() + HEADER_TIMEOUT
        try:
            return super().handle(conn)
        finally:
            with self.deadlines_lock:
                self.header_deadlines.pop(conn, None)

    def handle_request(self, req, conn):
        with self.deadlines_lock:
            self.header_deadlines.pop(conn, None)  # the headers are in: the app's time is `timeout`'s business
        if self.nr + 1 >= self.recycle_after and self.alive:
            self.maybe_recycle()
        return super().handle_request(req, conn)  # not alive: this response says "Connection: close"

    def maybe_recycle(self) -> None:
        now = time.monotonic()
        if now - self.recycle_asked_at < 1.0:
            return
        self.recycle_asked_at = now
        if recycle_turn(self.ppid, self.cfg.worker_tmp_dir, self):
            self.log.info("Recycling worker after %d requests (one worker at a time).", self.nr + 1)
            self.alive = False

    def cut_late_headers(self) -> None:
        while True:
            time.sleep(CHECK_EVERY)
            now = time.monotonic()
            with self.deadlines_lock:
                late = [conn for conn, deadline in self.header_deadlines.items() if deadline < now]
                for conn in late:
                    del self.header_deadlines[conn]
                    try:
                        conn.sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked reading it
                    except OSError:
                        pass  # already closed by the client
            if late:
                self.log.info("closed %d connection(s) that sent no complete headers within %ss", len(late),
                              HEADER_TIMEOUT)


def recycle_turn(master_pid: int, folder: str | None, holder) -> bool:
    """True when this worker may recycle now: it holds the master's recycle lock and the last one went long enough ago.

    The lock file stays open (and locked) on `holder` until the process exits; it records when the last recycle began.
    """
    path = os.path.join(folder or tempfile.gettempdir(), f"portico-recycle-{master_pid}")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False  # another worker is recycling right now
    last = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    try:
        went = float(last)
    except ValueError:
        went = 0.0
    now = time.time()
    if now - went < RECYCLE_GAP:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        return False
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{now:.3f}".encode(), 0)
    holder.recycle_lock = fd  # released by the kernel when this process exits
    return True


class SafeLogger(Logger):
    def _set_handler(self, log, output, fmt, stream=None):
        super()._set_handler(log, output, SafeFormatter(fmt._fmt, fmt.datefmt), stream)
