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

SafeLogger: gunicorn's logger with web/requests.py's SafeFormatter on its handlers (error and access log), so
control characters are escaped and booking tokens masked in every line gunicorn writes, as in the app's own.
"""
from __future__ import annotations

import os
import socket
import threading
import time

from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

from web.requests import SafeFormatter

HEADER_TIMEOUT = float(os.environ.get("GUNICORN_HEADER_TIMEOUT") or 10)
CHECK_EVERY = 0.5  # seconds between watchdog passes: how far past its deadline a slow client may get


class HeaderTimeoutWorker(ThreadWorker):
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
        return super().handle_request(req, conn)

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


class SafeLogger(Logger):
    def _set_handler(self, log, output, fmt, stream=None):
        super()._set_handler(log, output, SafeFormatter(fmt._fmt, fmt.datefmt), stream)
