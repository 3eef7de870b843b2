"""Errors are logged with a request id; the 500 page shows that id and nothing else; production refuses unsafe settings."""
from __future__ import annotations

import logging
import re

import pytest

from config import ConfigError

SECRET_DETAIL = "db password is hunter2"


def boom():
    raise RuntimeError(SECRET_DETAIL)


@pytest.fixture
def boom_app(app):
    app.add_url_rule("/_probe/boom", "probe_boom", boom)
    return app


def test_500_page_shows_the_request_id_and_nothing_else(boom_app, caplog):
    client = boom_app.test_client()
    with caplog.at_level(logging.ERROR):
        response = client.get("/_probe/boom")
    assert response.status_code == 500
    request_id = response.headers["X-Request-ID"]
    body = response.get_data(as_text=True)
    assert request_id in body
    for leak in (SECRET_DETAIL, "RuntimeError", "Traceback", "boom", "File \"", "sqlite"):
        assert leak not in body, f"500 page leaks {leak!r}"
    records = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert records, "the error was not logged"
    assert records[0].request_id == request_id
    assert request_id in records[0].getMessage()
    assert records[0].exc_info and SECRET_DETAIL in str(records[0].exc_info[1])


def test_every_log_record_in_a_request_carries_its_id(boom_app, caplog):
    def chatty():
        logging.getLogger("portico.probe").warning("something odd")
        return "ok"

    boom_app.add_url_rule("/_probe/chatty", "probe_chatty", chatty)
    with caplog.at_level(logging.WARNING):
        response = boom_app.test_client().get("/_probe/chatty")
    record = next(r for r in caplog.records if r.getMessage() == "something odd")
    assert record.request_id == response.headers["X-Request-ID"]
    outside = logging.getLogger("portico.probe").makeRecord("x", logging.INFO, "f", 1, "m", (), None)
    assert outside.request_id == "-"


def test_when_the_error_page_itself_fails_a_bare_page_still_shows_the_id(boom_app, monkeypatch):
    from web import errors as app_module

    def broken(*args, **kwargs):
        raise RuntimeError("template machinery down")

    monkeypatch.setattr(app_module, "render_template", broken)
    response = boom_app.test_client().get("/_probe/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert response.headers["X-Request-ID"] in body
    assert SECRET_DETAIL not in body and "template machinery" not in body
    assert response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(("sent", "kept"), [("abc123", True), ("a" * 64, True), ("a" * 65, False),
                                            ("<script>x</script>", False), ("id with spaces", False), ("ａｂｃ", False)])
def test_an_incoming_request_id_is_kept_only_when_harmless(client, sent, kept):
    response = client.get("/no/such/page", headers={"X-Request-ID": sent})
    assert (response.headers["X-Request-ID"] == sent) is kept
    assert re.fullmatch(r"[A-Za-z0-9]{1,64}", response.headers["X-Request-ID"])
    assert "<script>x" not in response.get_data(as_text=True)


# --- production refuses unsafe settings ---------------------------------------------------------

def production(**config):
    from app import create_app

    return create_app({"APP_ENV": "production", "SQLALCHEMY_DATABASE_URI": "sqlite://", **config})


@pytest.mark.parametrize("key", [None, "", "   ", "secret", "changeme", "testing-secret-key-not-for-production", "x" * 15])
def test_production_refuses_missing_default_or_short_keys(key):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        production(SECRET_KEY=key)


@pytest.mark.parametrize("setting", [{"DEBUG": True}, {"TESTING": True}, {"WTF_CSRF_ENABLED": False}])
def test_production_refuses_debug_testing_or_disabled_csrf(setting):
    with pytest.raises(ConfigError):
        production(SECRET_KEY="k" * 64, **setting)


def test_production_refuses_flask_debug_from_the_environment(monkeypatch):
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(ConfigError, match="debug"):
        production(SECRET_KEY="k" * 64)


def test_production_defaults_are_safe(monkeypatch, tmp_path):
    from config import load_settings

    for name in ("SECRET_KEY", "RATELIMIT_ENABLED", "MAX_CONTENT_LENGTH", "SITE_URL", "ALLOWED_HOSTS"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(tmp_path, "production")
    assert settings["DEBUG"] is False and settings["TESTING"] is False
    assert settings["RATELIMIT_ENABLED"] is True
    assert settings["SESSION_COOKIE_HTTPONLY"] is True and settings["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert settings["MAX_CONTENT_LENGTH"] <= 1024 * 1024
    assert settings["PERMANENT_SESSION_LIFETIME"] <= 8 * 3600
    assert settings.get("WTF_CSRF_ENABLED", True) is True
    assert settings["PROXY_COUNT"] == 0  # X-Forwarded-* trusted only when the operator says so
