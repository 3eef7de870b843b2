"""Settings and the refusal to run production unsafely."""
from __future__ import annotations

import subprocess
import sys

import pytest

from config import ConfigError, normalise_database_url
from tests.conftest import ROOT


def run_flask(env: dict, *args: str) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT,
                          env={**base, **env}, capture_output=True, text=True, timeout=60)


def test_production_refuses_to_start_without_secret_key():
    result = run_flask({"APP_ENV": "production", "DATABASE_URL": "sqlite://"}, "routes")
    assert result.returncode != 0
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert lines == [lines[-1]] and "SECRET_KEY" in lines[-1]  # one line, no traceback


@pytest.mark.parametrize("key", ["", "dev", "changeme", "short"])
def test_production_refuses_weak_keys(key):
    from app import create_app

    with pytest.raises(ConfigError):
        create_app({"APP_ENV": "production", "SECRET_KEY": key, "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_production_refuses_debug():
    from app import create_app

    with pytest.raises(ConfigError, match="debug"):
        create_app({"APP_ENV": "production", "SECRET_KEY": "x" * 40, "DEBUG": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_production_starts_with_a_real_key():
    from app import create_app

    app = create_app({"APP_ENV": "production", "SECRET_KEY": "k" * 64, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["APP_ENV"] == "production"


def test_database_urls_use_psycopg():
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"
