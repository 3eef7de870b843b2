"""Hosts the site does not serve are refused; behind proxies the client address cannot be chosen by the client."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
from flask import request

from extensions import client_address, limiter
from tests.conftest import ROOT, make_app

PROBE = "/_probe/limited"


@limiter.limit("3 per minute", methods=["POST"])
def probe_limited():
    """A test-only view with a small limit, keyed like every real one (extensions.client_address)."""
    return {"remote_addr": request.remote_addr, "key": client_address(), "scheme": request.scheme, "host": request.host}


def add_probe(app):
    app.add_url_rule(PROBE, "probe_limited", probe_limited, methods=["GET", "POST"])
    return app


def dispose(app) -> None:
    from extensions import db

    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def probe_app(database_url, tmp_path):
    built = []
    prefix = limiter._key_prefix

    def build(**config):
        # Flask-Limiter keeps the first key prefix it saw on the one shared extension object;
        # forget it so this app's RATELIMIT_KEY_PREFIX is used, as in a fresh process.
        limiter._key_prefix = ""
        built.append(add_probe(make_app(database_url, tmp_path, **config)))
        return built[-1]

    yield build
    limiter._key_prefix = prefix
    for app in built:
        dispose(app)


# --- hosts --------------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example", "localhost.evil.example", "127.0.0.1.nip.io", "portico.example.evil", "x" * 300])
def test_unknown_host_gets_400(client, host):
    response = client.get("/", headers={"Host": host})
    assert response.status_code == 400
    assert "Bad request" in response.get_data(as_text=True)


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:5000", "127.0.0.1:8000", "[::1]:5000"])
def test_site_and_loopback_hosts_are_served_outside_production(client, host):
    assert client.get("/privacy", headers={"Host": host}).status_code == 200


def production_app(database_url, tmp_path, **config):
    return make_app(database_url, tmp_path, APP_ENV="production", SECRET_KEY="p" * 40, TESTING=False, OUTBOX_THREAD=False,
                    SITE_URL="https://portico.example", **config)


def test_production_serves_only_its_own_hosts(app, database_url, tmp_path):
    prod = production_app(database_url, tmp_path, ALLOWED_HOSTS=["www.portico.example"])
    client = prod.test_client()
    try:
        assert client.get("/privacy", base_url="https://portico.example").status_code == 200
        assert client.get("/privacy", base_url="https://www.portico.example").status_code == 200
        for host in ("localhost", "127.0.0.1", "evil.example", "portico.example.evil.example"):
            assert client.get("/privacy", base_url=f"https://{host}").status_code == 400, host
        # Health checks come from load balancers that use internal names.
        assert client.get("/healthz", base_url="http://10.0.0.5:8000").status_code == 200
    finally:
        dispose(prod)


def test_a_proxy_cannot_smuggle_a_foreign_host(probe_app):
    app = probe_app(PROXY_COUNT=1)
    client = app.test_client()
    response = client.get("/privacy", headers={"X-Forwarded-Host": "evil.example"})
    assert response.status_code == 400


def test_foreign_host_is_refused_before_the_rate_limiter_counts(probe_app):
    app = probe_app(RATELIMIT_ENABLED=True)
    client = app.test_client()
    for _ in range(5):
        assert client.post(PROBE, headers={"Host": "evil.example"}).status_code == 400
    assert client.post(PROBE).status_code == 200


# --- proxies and client addresses ------------------------------------------------------------

def test_without_proxies_forwarded_headers_are_ignored(probe_app):
    client = probe_app(PROXY_COUNT=0).test_client()
    data = client.get(PROBE, headers={"X-Forwarded-For": "203.0.113.50", "X-Forwarded-Proto": "https"}).get_json()
    assert data["key"] == "127.0.0.1" and data["scheme"] == "http"


def test_behind_one_proxy_the_address_is_the_last_hop(probe_app):
    client = probe_app(PROXY_COUNT=1).test_client()
    headers = {"X-Forwarded-For": "6.6.6.6, 203.0.113.7", "X-Forwarded-Proto": "https"}
    data = client.get(PROBE, headers=headers).get_json()
    assert data["key"] == "203.0.113.7"  # what the proxy saw, not what the client wrote
    assert data["scheme"] == "https"


def test_a_client_cannot_dodge_the_rate_limit_by_inventing_addresses(probe_app):
    client = probe_app(PROXY_COUNT=1, RATELIMIT_ENABLED=True).test_client()
    codes = []
    for n in range(5):
        # The client writes its own X-Forwarded-For; the proxy appends the real address.
        codes.append(client.post(PROBE, headers={"X-Forwarded-For": f"10.9.8.{n}, 198.51.100.20"}).status_code)
    assert codes == [200, 200, 200, 429, 429]
    other = client.post(PROBE, headers={"X-Forwarded-For": "198.51.100.21"})
    assert other.status_code == 200  # the limit is per client, not global


def test_429_page_says_when_to_retry(probe_app):
    client = probe_app(RATELIMIT_ENABLED=True).test_client()
    for _ in range(3):
        client.post(PROBE)
    response = client.post(PROBE)
    assert response.status_code == 429
    assert "Too many requests" in response.get_data(as_text=True)
    assert response.headers.get("Retry-After")


# --- shared counters ------------------------------------------------------------------------

SUBPROCESS = """
import json, sys
sys.path.insert(0, {root!r})
from tests.conftest import make_app
from tests.web.test_security_host_proxy import PROBE, add_probe
app = add_probe(make_app({db!r}, __import__("pathlib").Path({tmp!r}), **json.loads({config!r})))
client = app.test_client()
print(json.dumps([client.post(PROBE, headers={{"X-Forwarded-For": {addr!r}}}).status_code for _ in range(2)]))
"""


def test_rate_limits_are_shared_across_processes_through_redis(probe_app, redis_url, database_url, tmp_path):
    import redis

    prefix = f"portico-test-{uuid.uuid4().hex[:12]}"
    address = f"2001:db8::{uuid.uuid4().hex[:4]}"
    config = {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": redis_url, "RATELIMIT_KEY_PREFIX": prefix, "PROXY_COUNT": 1}
    script = SUBPROCESS.format(root=str(ROOT), db=database_url, tmp=str(tmp_path), config=json.dumps(config), addr=address)
    try:
        other = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert other.returncode == 0, other.stderr[-2000:]
        assert json.loads(other.stdout.strip().splitlines()[-1]) == [200, 200]

        # This process has its own memory: only a shared store knows about the other process's two requests.
        shared = probe_app(**config).test_client()
        codes = [shared.post(PROBE, headers={"X-Forwarded-For": address}).status_code for _ in range(2)]
        assert codes == [200, 429]

        alone = probe_app(**{**config, "RATELIMIT_STORAGE_URI": "memory://"}).test_client()
        assert [alone.post(PROBE, headers={"X-Forwarded-For": address}).status_code for _ in range(2)] == [200, 200]
    finally:
        store = redis.Redis.from_url(redis_url)
        keys = list(store.scan_iter(f"*{prefix}*"))
        if keys:
            store.delete(*keys)
