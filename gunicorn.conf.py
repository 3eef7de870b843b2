"""gunicorn settings for production: `make serve`, the Dockerfile and docs/deploy.md use this file.

Environment:
  PORT               port to listen on (default 5000)
  HOST               address to bind (default 127.0.0.1, behind nginx on the same host;
                     the container image sets 0.0.0.0)
  WEB_CONCURRENCY    worker processes (default 2 × CPUs + 1, at most 12)
  GUNICORN_THREADS   threads per worker (default 16)
  GUNICORN_TIMEOUT   seconds before a stuck worker is restarted (default 30)
  GUNICORN_HEADER_TIMEOUT  seconds a client has to send its request headers (default 10)
  GUNICORN_MAX_REQUESTS    requests after which a worker is replaced, one worker at a time (default 50000; 0 = never)

Why threads with a header deadline (web/server.py): `make serve` must keep answering with no
proxy in front. A sync worker reads a request's headers for as long as the client takes; twelve sockets
trickling one byte every two seconds stalled every worker (measured: with 2 workers, ten /healthz requests
all timed out after 2 s). gthread waits for a connection's first byte in its poller, the header deadline
frees a thread from a client that trickles the rest, and 16 threads per worker leave room for the slow
ones meanwhile (the database pool, DB_POOL_SIZE + DB_MAX_OVERFLOW, still bounds database work).
One listening socket shared by the workers (`reuse_port` off): with SO_REUSEPORT gunicorn 27 gives each worker
a socket of its own, and when a worker exits (recycling, a HUP reload) the kernel resets every connection still
queued on that socket (net.ipv4.tcp_migrate_req is off by default): wrk -c32 counted 38 read and 194,584 write
errors in 5 s with workers recycling every 3,000 requests, and 0 with the shared socket, at the same throughput
(bench/servers.py, docs/benchmarks.md).

The gunicorn 27 control socket (a Unix socket in the home folder) is turned off: the
container user has no writable home, and nothing here uses `gunicornc`.
"""
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours CPU pinning (taskset, container cpusets)
    except AttributeError:
        return os.cpu_count() or 1


bind = f"{os.environ.get('HOST') or '127.0.0.1'}:{os.environ.get('PORT') or '5000'}"
workers = int(os.environ.get("WEB_CONCURRENCY") or min(2 * _cpu_count() + 1, 12))
threads = int(os.environ.get("GUNICORN_THREADS") or 16)
worker_class = "web.server.HeaderTimeoutWorker"  # gthread with a header deadline
reuse_port = False  # see above: a shared socket survives a worker's exit
keepalive = 5  # idle keep-alive connections wait in the poller, not in a thread, and are closed after this

timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)
graceful_timeout = 30
# Recycle workers now and then, so a slow leak never becomes an outage. Not too often: a new worker imports the
# app and warms its page cache again (about a second of CPU), and at a few thousand requests/s 2,000 requests
# meant a restart every few seconds (bench: -15 to -40% req/s). Never two at once: the jitter spreads the limits
# over a whole lifetime, and HeaderTimeoutWorker lets a worker past its limit go only when no other worker went
# in the last GUNICORN_RECYCLE_GAP seconds (web/server.py). GUNICORN_MAX_REQUESTS=0 turns recycling off.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS") or 50000)
max_requests_jitter = max_requests
# The app is loaded in each worker, not the master: nothing (database connections, the
# outbox thread) is created before fork, and `kill -HUP` reloads new code.
preload_app = False
control_socket_disable = True
# Heartbeat files in memory, not on a possibly slow disk (Docker's overlay filesystem).
SHM = "/dev/shm"  # noqa: S108 (gunicorn creates its own private files in it)
worker_tmp_dir = SHM if os.path.isdir(SHM) else None

accesslog = "-"
logger_class = "web.server.SafeLogger"  # control characters escaped, booking tokens masked (web/requests.py)
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL") or "info"
# Client address, request, status, bytes, duration in µs, and the request id the app returns.
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(D)sus rid=%({x-request-id}o)s ua="%(a)s"'
proxy_protocol = False
# X-Forwarded-* are handled by the app (PROXY_COUNT), not by gunicorn.
forwarded_allow_ips = "127.0.0.1,::1"


def on_starting(server):
    """Fingerprint and compress static files once, in the master, before any worker loads the app."""
    import sys

    sys.path.insert(0, str(HERE))
    from web.static_build import DEFAULT_BUILD_DIR, build

    folder = build(HERE / "static", Path(os.environ.get("STATIC_BUILD_DIR") or DEFAULT_BUILD_DIR))
    server.log.info("static files: %s", folder)


def worker_exit(server, worker):
    """A worker exiting (SIGTERM, a HUP reload, max_requests): stop its outbox thread so its claims go back now.

    Looked up, not imported: the master calls this hook too and has never loaded the app.
    """
    import sys

    thread = sys.modules.get("mail.thread")
    if thread is not None:
        thread.stop_all()
