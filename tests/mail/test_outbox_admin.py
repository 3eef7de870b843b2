"""The admin outbox pages: list with a status filter, one message, retry a failed one."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import select

from extensions import db
from models import AuditLog, OutboxMessage, utcnow
from tests.factories import make_enquiry
from tests.mail.test_outbox_delivery import fresh, queue_row


@pytest.fixture
def rows(app):
    return {
        "sent": queue_row(subject="Was sent", status=OutboxMessage.SENT),
        "pending": queue_row(subject="Is waiting", attempts=2, last_error="451 4.3.0 Try again later"),
        "failed": queue_row(subject="Gave up", status=OutboxMessage.FAILED, attempts=8,
                            last_error="SMTPRecipientsRefused: 550 no such user", related=f"enquiry:{make_enquiry().id}",
                            text_body="Hello <b>there</b>,\nsecond line"),
    }


def test_the_list_shows_status_attempts_and_last_error(admin_client, rows):
    page = admin_client.get("/admin/outbox").get_data(as_text=True)
    for subject in ("Was sent", "Is waiting", "Gave up"):
        assert subject in page
    assert "refused the message (550): no such user" in page and "try again later (451): 4.3.0" in page
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
    assert f'href="/admin/enquiries/{rows["failed"].related.split(":")[1]}"' in page
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


# --- what the consultant reads: attempts in words, the reason in words, what it is about ------------

def test_a_sent_message_says_which_attempt_it_went_on(admin_client):
    first = queue_row(subject="First time", status=OutboxMessage.SENT, attempts=1, sent_at=utcnow())
    third = queue_row(subject="Third time", status=OutboxMessage.SENT, attempts=3, sent_at=utcnow())
    page = admin_client.get("/admin/outbox").text
    assert "Sent on the 1st attempt" in page and "Sent on the 3rd attempt" in page
    assert "<td>0</td>" not in page and "<td>1</td>" not in page
    assert "Sent on the 3rd attempt" in admin_client.get(f"/admin/outbox/{third.id}").text
    assert "Attempts</dt><dd>0" not in admin_client.get(f"/admin/outbox/{first.id}").text


@pytest.mark.parametrize(("raw", "words"), [
    ("ConnectionRefusedError: [Errno 111] Connection refused", "refused the connection"),
    ("TimeoutError: timed out", "did not answer in time"),
    ("PermanentError: SMTPRecipientsRefused: {'jörg@exämple.com': (550, b'5.1.1 Mailbox does not exist')}",
     "refused the message (550): 5.1.1 Mailbox does not exist"),
    ("SMTPDataError: (451, b'4.3.0 Try again later')", "asked to try again later (451): 4.3.0 Try again later"),
    ("SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate",
     "secure (TLS) connection"),
    ("SMTPAuthenticationError: (535, b'5.7.8 Authentication credentials invalid')", "user name or password"),
    ("gaierror: [Errno -2] Name or service not known", "could not be found"),
])
def test_the_failure_reason_is_in_words_with_the_raw_text_behind_details(admin_client, raw, words):
    row = queue_row(subject="Liefer­problem", status=OutboxMessage.FAILED, attempts=8, last_error=raw)
    page = admin_client.get(f"/admin/outbox/{row.id}").text
    reason = page.split('class="outbox-reason"', 1)[1].split("</", 1)[0]
    assert words in reason
    details = page.split("<details", 1)[1].split("</details>", 1)[0]
    from markupsafe import escape
    assert str(escape(raw)) in details
    assert words in admin_client.get("/admin/outbox?status=failed").text


def test_about_links_to_the_enquiry_booking_or_comment(admin_client, db_session):
    from tests.factories import make_booking, make_enquiry, make_post

    enquiry = make_enquiry()
    booking = make_booking()
    from models import Comment
    comment = Comment(post=make_post(), author_name="Zoë", author_email="zoe@example.com", body="Schön!",
                      status=Comment.PENDING)
    db_session.add(comment)
    db_session.commit()
    rows = [queue_row(related=f"enquiry:{enquiry.id}"), queue_row(related=f"booking:{booking.id}"),
            queue_row(related=f"comment:{comment.id}")]
    expected = [f'href="/admin/enquiries/{enquiry.id}"', f'href="/admin/sessions/{booking.session_id}#booking-{booking.id}"',
                f'href="/admin/comments?status=pending#comment-{comment.id}"']
    listing = admin_client.get("/admin/outbox").text
    assert "enquiry:" not in listing.replace(f"related=enquiry:{enquiry.id}", "")
    for row, link in zip(rows, expected, strict=True):
        assert link in listing
        assert link in admin_client.get(f"/admin/outbox/{row.id}").text
    assert f"Enquiry #{enquiry.id}" in listing and f"Booking #{booking.id}" in listing


def test_send_now_makes_a_waiting_message_due_and_is_offered_only_while_it_waits(admin_client, admin_user):
    waiting = queue_row(subject="Waiting", attempts=2, last_error="451 4.3.0 Try again later",
                        next_attempt_at=utcnow() + timedelta(hours=1))
    sent = queue_row(subject="Done", status=OutboxMessage.SENT, attempts=1)
    assert "Send now" in admin_client.get(f"/admin/outbox/{waiting.id}").text
    assert "Send now" not in admin_client.get(f"/admin/outbox/{sent.id}").text
    response = admin_client.post(f"/admin/outbox/{waiting.id}/send-now")
    assert response.status_code == 303
    assert fresh(waiting.id).next_attempt_at <= utcnow()
    assert "goes out now" in admin_client.get(response.headers["Location"]).text
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "outbox.send_now"))
    assert entry.target_id == waiting.id and entry.actor_id == admin_user.id
    refused = admin_client.post(f"/admin/outbox/{sent.id}/send-now", follow_redirects=True)
    assert "Only a waiting message" in refused.text
    assert admin_client.post("/admin/outbox/999999/send-now").status_code == 404


def test_send_now_wakes_the_delivery_thread(thread_app, smtp_server):
    from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
    from tests.factories import make_admin

    make_admin(email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
    row = queue_row(subject="Grüße aus Köln", to_addr="kunde@example.com", attempts=1,
                    last_error="ConnectionRefusedError: [Errno 111] Connection refused",
                    next_attempt_at=utcnow() + timedelta(hours=1))
    client = thread_app.test_client()
    assert client.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).status_code == 303
    time.sleep(0.5)  # the thread's first pass, started by that request, found nothing due
    assert client.post(f"/admin/outbox/{row.id}/send-now").status_code == 303
    deadline = time.monotonic() + 8  # the thread would otherwise sleep for its 30 s poll
    while time.monotonic() < deadline and not any(m["Subject"] == "Grüße aus Köln" for m in smtp_server.messages):
        time.sleep(0.1)
    assert any(m["Subject"] == "Grüße aus Köln" for m in smtp_server.messages)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and fresh(row.id).status != OutboxMessage.SENT:
        time.sleep(0.1)
    message = fresh(row.id)
    assert (message.status, message.attempts) == (OutboxMessage.SENT, 2)
