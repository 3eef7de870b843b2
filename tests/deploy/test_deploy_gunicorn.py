"""gunicorn.conf.py: workers from the CPU count or WEB_CONCURRENCY, bind from HOST/PORT, no control socket."""
from __future__ import annotations

import os
import runpy

from gunicorn.config import Config

from tests.conftest import ROOT


def load(monkeypatch, **env) -> Config:
    for name in ("PORT", "HOST", "WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_TIMEOUT", "GUNICORN_MAX_REQUESTS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = Config()
    for name, value in runpy.run_path(str(ROOT / "gunicorn.conf.py")).items():
        if name in config.settings:
            config.set(name, value)  # validates each value as gunicorn does when it reads the file
    return config


def test_defaults(monkeypatch):
    config = load(monkeypatch)
    assert config.bind == ["127.0.0.1:5000"]
    assert config.workers == min(2 * len(os.sched_getaffinity(0)) + 1, 12)
    assert config.worker_class_str == "web.server.HeaderTimeoutWorker"  # gthread + header deadline
    assert config.threads == 16
    assert config.reuse_port is False  # a worker's exit must not reset connections queued on its own socket
    assert config.max_requests == 50000 and config.max_requests_jitter == 50000
    assert config.control_socket_disable is True
    assert config.accesslog == "-"
    assert config.timeout == 30
    assert config.preload_app is False


def test_environment_overrides(monkeypatch):
    config = load(monkeypatch, PORT="8080", HOST="0.0.0.0", WEB_CONCURRENCY="3", GUNICORN_THREADS="4")
    assert config.bind == ["0.0.0.0:8080"]
    assert config.workers == 3
    assert config.threads == 4
    assert load(monkeypatch, GUNICORN_MAX_REQUESTS="0").max_requests == 0  # recycling off


def test_workers_recycle_one_at_a_time(tmp_path, monkeypatch):
    """Two workers past their limit: the first takes its turn, the second waits for the lock and then the gap."""
    import time

    import web.server as server

    class Worker:
        recycle_lock = None

    monkeypatch.setattr(server, "RECYCLE_GAP", 0.3)
    first, second = Worker(), Worker()
    assert server.recycle_turn(4242, str(tmp_path), first) is True
    assert server.recycle_turn(4242, str(tmp_path), second) is False  # the first still holds the lock
    assert server.recycle_turn(4343, str(tmp_path), second) is True  # another master's workers are not held up
    os.close(first.recycle_lock)  # the first worker's process exited
    assert server.recycle_turn(4242, str(tmp_path), Worker()) is False  # within the gap after the first went
    time.sleep(0.35)
    third = Worker()
    assert server.recycle_turn(4242, str(tmp_path), third) is True
    os.close(third.recycle_lock)
    os.close(second.recycle_lock)


def test_sqlite_busy_timeout_leaves_the_worker_time_to_answer(monkeypatch):
    from config import BaseConfig

    busy = BaseConfig.engine_options("sqlite:///x.db")["connect_args"]["timeout"]
    assert busy + 5 <= load(monkeypatch).timeout  # a request that waited for the lock still answers in time
