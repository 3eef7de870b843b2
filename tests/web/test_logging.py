"""Log lines: one record is one line whatever a visitor sends, booking tokens never appear; NUL in a URL is no 500."""
from __future__ import annotations

import io
import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from extensions import db
from models.base import utcnow
from web.requests import SafeFormatter, init_logging

FORGED = "/blog/x\n2026-12-01 12:00:00,000 INFO portico [-] admin signed in\u2028\x00\x1b[31m"


def written(name: str, message: str, *args) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        logger.warning(message, *args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_control_characters_in_a_logged_value_cannot_start_a_line():
    line = written("portico.test", "unhandled error path=%s", FORGED)
    assert line.count("\n") == 1 and line.endswith("\n")
    assert "\\x0a2026-12-01" in line and "\\u2028" in line and "\\x00" in line and "\x1b" not in line


@pytest.mark.parametrize("path", ["/bookings/tökén-ü1/cancel", "/bookings/abc123?x=1", 'GET /bookings/abc123 HTTP/1.1"'])
def test_booking_tokens_are_masked_in_every_line(path):
    line = written("gunicorn.access", '"%s" 200', path)
    assert "/bookings/\u2026" in line
    assert "abc123" not in line and "tökén" not in line


def test_production_logging_uses_the_safe_formatter(monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    init_logging(SimpleNamespace(config={"APP_ENV": "production"}))
    assert [type(h.formatter) for h in root.handlers] == [SafeFormatter]


@pytest.mark.parametrize("url, status", [
    ("/blog/a%00b", 404), ("/services/%00", 404), ("/x%00%0a", 404), ("/bookings/ab%00cd", 404),
    ("/blog?q=%00", 404), ("/training?page=1%00", 404), ("/?utm=%C3%A9%00", 404),
])
def test_nul_in_a_path_or_query_string_is_a_client_error(client, url, status):
    assert client.get(url).status_code == status


# --- the mailer's lines: ids, never names, addresses or subjects -----------------------------------------

def mailer_lines(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("portico"))


def test_mailer_log_lines_carry_ids_not_personal_data(mail_app, smtp_server, caplog):
    from mail import delivery
    from mail.compose import new_message_id
    from models import OutboxMessage

    def queue(to_addr: str) -> OutboxMessage:
        row = OutboxMessage(message_id=new_message_id(), template="test", to_addr=to_addr, to_name="Zoë Ångström",
                            subject="New enquiry from Zoë Ångström", text_body="Hi", html_body="<p>Hi</p>",
                            attachments=[])
        db.session.add(row)
        db.session.commit()
        return row

    smtp_server.handler.refuse = True
    row = queue("zoe.angstrom@exämple.com")
    with caplog.at_level(logging.INFO, logger="portico.mailer"):
        delivery.deliver_pending()
    lines = mailer_lines(caplog)
    assert row.message_id in lines
    assert "Zoë" not in lines and "zoe.angstrom" not in lines

    caplog.clear()
    mail_app.config["MAIL_SERVER"] = None  # FileTransport: written to instance/mail/
    db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(hours=1), status=OutboxMessage.PENDING))
    db.session.commit()
    with caplog.at_level(logging.INFO, logger="portico.mailer"):
        delivery.deliver_pending()
    lines = mailer_lines(caplog)
    assert "written to" in lines and row.message_id in lines
    assert "Zoë" not in lines and "zoe.angstrom" not in lines
