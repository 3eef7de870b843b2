"""A real gunicorn (gunicorn.conf.py, no proxy in front): slow clients do not stall it; its log keeps secrets out.

Slow clients:

Twelve sockets each send one byte of a request header every two seconds (slowloris). Meanwhile a
normal client asks for /healthz again and again: every answer comes within two seconds, and the
slow sockets are cut off once the header timeout (GUNICORN_HEADER_TIMEOUT) has passed.
Measured before the fix (two sync workers): all ten requests timed out.

Logs: the access log shows `/bookings/…`, never the token, and a request cannot write a line of its own.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow

SLOW_SOCKETS = 12
PROMPT = 2.0  # seconds a normal request may take while the slow sockets are open
HEADER_TIMEOUT = 3  # shorter than the default 10 s, so the test sees the server cut the slow sockets off
TRICKLE = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 200


def get(url: str, timeout: float) -> float:
    start = time.monotonic()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        response.read()
        assert response.status == 200
    return time.monotonic() - start


@pytest.fixture
def gunicorn_server(tmp_path):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "GUNICORN_", "WEB_CONCURRENCY"))},
        "APP_ENV": "production", "SECRET_KEY": "slow-clients-" + "s" * 48, "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'slow.db'}", "SITE_URL": f"http://127.0.0.1:{port}",
        "OUTBOX_THREAD": "0", "STATIC_BUILD_DIR": str(tmp_path / "static-build"),
        "WEB_CONCURRENCY": "2",  # few workers, as on a small machine: the case the slow sockets hurt most
        "GUNICORN_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
    }
    log = open(tmp_path / "gunicorn.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "app:create_app()"],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    url = f"http://127.0.0.1:{port}/healthz"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()[-3000:]
        try:
            get(url, timeout=2)
            break
        except OSError:
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
    yield port, url, tmp_path / "gunicorn.log"
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_slow_header_sockets_do_not_stall_other_clients(gunicorn_server):
    port, url, _ = gunicorn_server
    stop = threading.Event()
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(SLOW_SOCKETS)]

    def trickle(sock: socket.socket) -> None:
        for byte in TRICKLE:
            try:
                sock.sendall(bytes([byte]))
            except OSError:  # the server cut it off
                return
            if stop.wait(2):
                return

    threads = [threading.Thread(target=trickle, args=(sock,), daemon=True) for sock in sockets]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)  # every slow socket has sent its first byte and been taken by a worker
        timings = []
        for _ in range(10):
            try:
                timings.append(get(url, timeout=PROMPT))
            except OSError as error:
                timings.append(f"{error}")
            time.sleep(0.5)
        assert all(isinstance(t, float) and t < PROMPT for t in timings), timings
        # By now (about 6 s in) the header deadline has passed for every slow socket: the server closed them.
        for sock in sockets:
            sock.settimeout(5)
            try:
                assert sock.recv(1024) == b""
            except ConnectionResetError:
                pass
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        for sock in sockets:
            sock.close()


def test_access_log_masks_booking_tokens_and_escapes_control_characters(gunicorn_server):
    port, _, log = gunicorn_server
    token = "Zq9SecretToken"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        # A forged line in the query, the token in the user agent too (gunicorn refuses control bytes in headers).
        sock.sendall(f"GET /bookings/{token}/cancel?x=%0d%0a HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"User-Agent: evil /bookings/{token}\r\nConnection: close\r\n\r\n".encode())
        while sock.recv(65536):
            pass
    deadline = time.monotonic() + 5
    while "/bookings/" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text()
    assert "/bookings/\u2026/cancel" in text
    assert token not in text
    # gunicorn's lines, the access log's and the app's: nothing else starts a line.
    assert all(re.match(r"\[|127\.0\.0\.1 |\d{4}-\d\d-\d\d ", line) for line in text.splitlines()), text


def test_a_chunked_body_over_the_limit_is_413_through_gunicorn(gunicorn_server):
    port, _, _ = gunicorn_server
    body = b"message=" + b"x" * 70000  # over MAX_CONTENT_LENGTH (65536), sent with no length up front
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /contact HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        for start in range(0, len(body), 8192):
            chunk = body[start:start + 8192]
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:  # the server answered and closed before the whole body
                break
        else:
            sock.sendall(b"0\r\n\r\n")
        status_line = sock.recv(65536).split(b"\r\n", 1)[0]
    assert status_line.split()[1] == b"413", status_line
