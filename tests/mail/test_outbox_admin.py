"""The admin outbox pages: list with a status filter, one message, retry a failed one."""
from __future__ import annotations

import pytest
from flask import g
from sqlalchemy import select

from extensions import db
from models import AuditLog, OutboxMessage
from tests.mail.test_outbox_delivery import fresh, queue_row


@pytest.fixture
def rows(app):
    return {
        "sent": queue_row(subject="Was sent", status=OutboxMessage.SENT),
        "pending": queue_row(subject="Is waiting", attempts=2, last_error="451 4.3.0 Try again later"),
        "failed": queue_row(subject="Gave up", status=OutboxMessage.FAILED, attempts=8,
                            last_error="SMTPRecipientsRefused: 550 no such user", related="enquiry:7",
                            text_body="Hello <b>there</b>,\nsecond line"),
    }


def test_the_list_shows_status_attempts_and_last_error(admin_client, rows):
    page = admin_client.get("/admin/outbox").get_data(as_text=True)
    for subject in ("Was sent", "Is waiting", "Gave up"):
        assert subject in page
    assert "550 no such user" in page and "451 4.3.0" in page
    assert 'class="badge badge-failed"' in page


def test_the_status_filter(admin_client, rows):
    page = admin_client.get("/admin/outbox?status=failed").get_data(as_text=True)
    assert "Gave up" in page and "Was sent" not in page and "Is waiting" not in page
    page = admin_client.get("/admin/outbox?status=nonsense").get_data(as_text=True)
    assert "Gave up" in page and "Was sent" in page


def test_one_message_with_its_text_escaped(admin_client, rows):
    page = admin_client.get(f"/admin/outbox/{rows['failed'].id}").get_data(as_text=True)
    assert "Hello &lt;b&gt;there&lt;/b&gt;,\nsecond line" in page
    assert rows["failed"].message_id.replace("<", "&lt;").replace(">", "&gt;") in page
    assert 'href="/admin/enquiries/7"' in page
    assert "Retry delivery" in page
    assert "Retry delivery" not in admin_client.get(f"/admin/outbox/{rows['sent'].id}").get_data(as_text=True)
    assert admin_client.get("/admin/outbox/999999").status_code == 404


def test_retry_requeues_a_failed_message_and_is_audited(admin_client, rows, admin_user):
    response = admin_client.post(f"/admin/outbox/{rows['failed'].id}/retry")
    assert response.status_code == 303
    message = fresh(rows["failed"].id)
    assert (message.status, message.attempts) == (OutboxMessage.PENDING, 0)
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "outbox.retry"))
    assert entry.target_id == message.id and entry.actor_id == admin_user.id
    assert "550 no such user" in entry.detail["last_error"]
    assert "Queued again" in admin_client.get(response.headers["Location"]).get_data(as_text=True)


def test_retrying_a_message_that_is_not_failed_changes_nothing(admin_client, rows):
    response = admin_client.post(f"/admin/outbox/{rows['sent'].id}/retry", follow_redirects=True)
    assert "Only a failed message can be retried; this one is sent" in response.get_data(as_text=True)
    assert fresh(rows["sent"].id).status == OutboxMessage.SENT
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "outbox.retry")) is None
    assert admin_client.post("/admin/outbox/999999/retry").status_code == 404


@pytest.fixture
def app_config(request):
    return dict(getattr(request, "param", {}))


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}], indirect=True)
def test_retry_needs_the_csrf_token(app, rows, admin_user):
    from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

    client = app.test_client()
    login = client.get("/admin/login").get_data(as_text=True)
    token = login.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert client.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
                                             "csrf_token": token}).status_code in (302, 303)
    assert client.post(f"/admin/outbox/{rows['failed'].id}/retry").status_code == 400
    assert fresh(rows["failed"].id).status == OutboxMessage.FAILED
    g.pop("csrf_token", None)  # the test's one app context outlives requests; a server's does not
    page = client.get(f"/admin/outbox/{rows['failed'].id}").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert client.post(f"/admin/outbox/{rows['failed'].id}/retry", data={"csrf_token": token}).status_code == 303
    assert fresh(rows["failed"].id).status == OutboxMessage.PENDING


def test_the_outbox_pages_need_a_signed_in_consultant(client, rows):
    for method, path in (("get", "/admin/outbox"), ("get", f"/admin/outbox/{rows['failed'].id}"),
                         ("post", f"/admin/outbox/{rows['failed'].id}/retry")):
        response = getattr(client, method)(path)
        assert response.status_code in (302, 303, 401) and "/admin/login" in response.headers.get("Location", "/admin/login")
    assert fresh(rows["failed"].id).status == OutboxMessage.FAILED
