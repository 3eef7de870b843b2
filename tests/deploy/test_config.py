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


def test_passwords_are_hashed_with_scrypt_outside_tests():
    from app import create_app
    from models import AdminUser

    for mode, extra in (("production", {"SECRET_KEY": "k" * 64}), ("development", {})):
        app = create_app({"APP_ENV": mode, "SQLALCHEMY_DATABASE_URI": "sqlite://", **extra})
        with app.app_context():
            user = AdminUser(email="someone@example.com")
            user.set_password("a long enough password")
            assert user.password_hash.startswith("scrypt:"), mode
            assert user.check_password("a long enough password")


def test_site_url_sets_how_absolute_urls_are_built(tmp_path):
    from flask import url_for

    from app import create_app

    app = create_app({"APP_ENV": "testing", "SITE_URL": "https://consult.example:8443", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert (app.config["SERVER_NAME"], app.config["PREFERRED_URL_SCHEME"], app.config["SITE_HOST"]) == (
        "consult.example:8443", "https", "consult.example")
    with app.app_context():
        assert url_for("blog.post", slug="virtualization-and-containerization", _external=True) == (
            "https://consult.example:8443/blog/virtualization-and-containerization")
    # A request that came in under another name, over plain http, still links to the site itself.
    with app.test_request_context("/", base_url="http://127.0.0.1:5000"):
        assert url_for("site.home", _external=True) == "https://consult.example:8443/"


def test_site_url_defaults_to_where_make_run_serves(monkeypatch, tmp_path):
    from config import load_settings

    monkeypatch.delenv("SITE_URL", raising=False)
    monkeypatch.setenv("PORT", "5102")
    monkeypatch.delenv("HOST", raising=False)
    assert load_settings(tmp_path, "development")["SITE_URL"] == "http://127.0.0.1:5102"
    monkeypatch.setenv("HOST", "0.0.0.0")  # listening everywhere: links still name this machine
    assert load_settings(tmp_path, "development")["SITE_URL"] == "http://127.0.0.1:5102"
    monkeypatch.setenv("SITE_URL", "https://consult.example/")
    assert load_settings(tmp_path, "development")["SITE_URL"] == "https://consult.example"


def test_make_admin_creates_an_account_that_can_sign_in(tmp_path):
    """`make admin EMAIL=…` works as the README writes it (development settings, password at the prompt)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "APP_ENV": "development",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'admin.db'}"}
    result = subprocess.run(["make", "--no-print-directory", "-s", "admin", "EMAIL=Jörg@Example.com",
                             f"VENV={ROOT / '.venv'}"], cwd=ROOT, env=env, input="a long enough password\n" * 2,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "admin jörg@example.com" in result.stdout.lower()
    missing = subprocess.run(["make", "--no-print-directory", "-s", "admin", f"VENV={ROOT / '.venv'}"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "usage: make admin EMAIL=" in missing.stdout
