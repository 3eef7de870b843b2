"""The outbox and the mailer: MIME building, delivery, retries with backoff, claims, the CLI."""
from __future__ import annotations

import base64
import itertools
import logging
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select, update

from extensions import db
from mail import delivery as mailer
from mail import thread as outbox_thread
from models import OutboxMessage
from models.base import utcnow

_seq = itertools.count(1)


def queue_row(**fields) -> OutboxMessage:
    n = next(_seq)
    defaults = dict(message_id=f"<test-{n}-{id(fields)}@localhost>", template="test", to_addr=f"person{n}@example.com",
                    to_name=f"Person {n}", subject=f"Subject {n}", text_body=f"Text body {n}",
                    html_body=f"<p>HTML body {n}</p>", attachments=[])
    row = OutboxMessage(**{**defaults, **fields})
    db.session.rollback()  # a fresh transaction: on SQLite an old read snapshot cannot become a write
    db.session.add(row)
    db.session.commit()
    return row


def fresh(row_id: int) -> OutboxMessage:
    """The row as the database has it now (the delivery ran in a session of its own)."""
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(OutboxMessage, row_id)


def make_due() -> None:
    """Skip the backoff: every pending message is due now."""
    db.session.rollback()
    db.session.execute(update(OutboxMessage).where(OutboxMessage.status == OutboxMessage.PENDING)
                       .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def bring_back(server) -> None:
    """Start the stopped test SMTP server again on the same port (a Controller cannot be restarted)."""
    from aiosmtpd.controller import Controller

    server.controller = Controller(server.handler, hostname="127.0.0.1", port=server.port)
    server.controller.start()


def ids_at(server) -> list[str]:
    return [str(m["Message-ID"]) for m in server.messages]


# --- building the message --------------------------------------------------------------------

def test_message_has_headers_from_the_row_and_both_parts(app):
    row = queue_row(to_name="Zoë Ångström", reply_to="client@example.org", reply_to_name="Client Name",
                    subject="Über den Wolken", text_body="Grüße, ☃", html_body="<p>Grüße, ☃</p>")
    msg = mailer.build_message(row, app.config)
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == row.message_id
    assert parsed["To"].addresses[0].display_name == "Zoë Ångström"
    assert parsed["To"].addresses[0].addr_spec == row.to_addr
    assert parsed["Reply-To"].addresses[0].addr_spec == "client@example.org"
    assert parsed["From"].addresses[0].addr_spec == "noreply@localhost"
    assert parsed["Reply-To"].addresses[0].display_name == "Client Name"
    assert parsed["Subject"] == "Über den Wolken"
    assert parsed["Auto-Submitted"] == "auto-generated" and parsed["Date"].datetime is not None
    # Flask-Mail always wraps the alternatives in multipart/mixed (where attachments would go).
    assert [part.get_content_type() for part in parsed.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "text/html"]
    assert parsed.get_body(("plain",)).get_content().strip() == "Grüße, ☃"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Grüße, ☃</p>"


def test_calendar_attachment_keeps_method_request(app):
    ics = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    row = queue_row(attachments=[{"filename": "invite.ics", "content_type": "text/calendar; method=REQUEST; charset=utf-8",
                                  "data": base64.b64encode(ics).decode()}])
    parsed = message_from_bytes(mailer.build_message(row, app.config).as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    (attachment,) = list(parsed.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "REQUEST"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_payload(decode=True) == ics


@pytest.mark.parametrize("evil", ["Eve\r\nBcc: victim@example.net", "Eve\nX-Injected: yes", "Eve\rCc: victim@example.net"])
def test_crlf_in_names_and_subject_adds_no_header(app, evil):
    row = queue_row(to_name=evil, reply_to="client@example.org", reply_to_name=evil, subject=f"Hello {evil}")
    raw = mailer.build_message(row, app.config).as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None and parsed["Cc"] is None and parsed["X-Injected"] is None
    assert len(parsed["To"].addresses) == 1 and len(parsed["Reply-To"].addresses) == 1
    assert b"\nBcc:" not in raw and b"\nCc:" not in raw and b"\nX-Injected" not in raw


@pytest.mark.parametrize("addr", ["a@example.com\r\nBcc: b@example.com", "a@example.com, b@example.com",
                                  "Name <a@example.com>", "no-at-sign", ""])
def test_a_bad_address_is_refused(app, addr):
    row = queue_row(to_addr=addr)
    with pytest.raises(ValueError):
        mailer.build_message(row, app.config)


# --- delivering --------------------------------------------------------------------------------

def test_no_mail_server_writes_eml_files_and_logs_one_line(app, tmp_path, caplog):
    row = queue_row(subject="Written to disk")
    with caplog.at_level(logging.INFO, logger="portico.mailer"):
        report = mailer.deliver_pending()
    assert report.sent == 1
    path = tmp_path / "mail" / (row.message_id.strip("<>") + ".eml")
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert parsed["Subject"] == "Written to disk"
    assert parsed["Message-ID"] == row.message_id and parsed["Auto-Submitted"] == "auto-generated"
    assert parsed.get_body(("html",)).get_content().strip() == row.html_body
    assert [r for r in caplog.records if str(path) in r.getMessage()]
    assert fresh(row.id).status == OutboxMessage.SENT


def test_delivery_over_smtp_marks_sent(mail_app, smtp_server):
    row = queue_row(to_addr="someone@example.com")
    report = mailer.deliver_pending()
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    (msg,) = smtp_server.messages
    assert msg["Message-ID"] == row.message_id
    assert msg.envelope_to == ["someone@example.com"]
    assert msg.envelope_from == "noreply@localhost"
    stored = fresh(row.id)
    assert stored.status == OutboxMessage.SENT and stored.sent_at is not None and stored.claimed_by is None
    assert mailer.deliver_pending().sent == 0  # nothing is sent twice


def test_refusal_backs_off_then_fails_and_retry_sends_it(mail_app, smtp_server):
    mail_app.config["OUTBOX_MAX_ATTEMPTS"] = 3
    smtp_server.handler.refuse = True
    row = queue_row()
    before = utcnow()
    assert mailer.deliver_pending().retrying == 1
    stored = fresh(row.id)
    assert stored.status == OutboxMessage.PENDING and stored.attempts == 1
    assert "451" in stored.last_error
    assert timedelta(seconds=55) < stored.next_attempt_at - before < timedelta(seconds=65)
    assert mailer.deliver_pending().sent == 0  # not due yet

    for expected_attempts, expected_status in ((2, OutboxMessage.PENDING), (3, OutboxMessage.FAILED)):
        make_due()
        mailer.deliver_pending()
        stored = fresh(row.id)
        assert (stored.attempts, stored.status) == (expected_attempts, expected_status)
    assert smtp_server.messages == []

    smtp_server.handler.refuse = False
    assert stored.retry() is True
    db.session.commit()
    assert mailer.deliver_pending().sent == 1
    assert ids_at(smtp_server) == [row.message_id]
    assert fresh(row.id).status == OutboxMessage.SENT
    assert fresh(row.id).retry() is False  # only a failed message can be retried


def test_backoff_doubles_and_is_capped():
    assert [OutboxMessage.backoff(n).total_seconds() / 60 for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert OutboxMessage.backoff(30) == OutboxMessage.BACKOFF_CAP


def test_an_undeliverable_address_fails_at_once(mail_app, smtp_server):
    row = queue_row(to_addr="not an address")
    report = mailer.deliver_pending()
    assert report.failed == 1
    stored = fresh(row.id)
    assert stored.status == OutboxMessage.FAILED and stored.attempts == 1 and "address" in stored.last_error


def test_smtp_down_keeps_messages_pending_and_delivers_once_it_is_back(mail_app, smtp_server):
    rows = [queue_row() for _ in range(5)]
    smtp_server.controller.stop()  # the server is gone: connections are refused
    report = mailer.deliver_pending()
    assert report.retrying == 5
    assert {fresh(r.id).status for r in rows} == {OutboxMessage.PENDING}
    assert all("Connection refused" in fresh(r.id).last_error for r in rows)
    bring_back(smtp_server)
    make_due()
    assert mailer.deliver_pending().sent == 5
    assert sorted(ids_at(smtp_server)) == sorted(r.message_id for r in rows)


def test_a_server_that_hangs_up_is_reconnected_for_the_next_message(mail_app, smtp_server):
    first, second, third = queue_row(), queue_row(), queue_row()
    collect = smtp_server.handler.handle_DATA
    hung_up = []

    async def hang_up_once(server, session, envelope):
        if not hung_up:
            hung_up.append(envelope)
            return "421 4.3.2 Service shutting down"  # smtplib closes the session on a 421
        return await collect(server, session, envelope)

    smtp_server.handler.handle_DATA = hang_up_once
    report = mailer.deliver_pending()
    assert (report.sent, report.retrying, report.failed) == (2, 1, 0)
    assert ids_at(smtp_server) == [second.message_id, third.message_id]
    assert "421" in fresh(first.id).last_error and fresh(first.id).status == OutboxMessage.PENDING


@pytest.fixture
def app_config(request):
    return dict(getattr(request, "param", {}))


@pytest.mark.parametrize("app_config", [{"SITE_URL": "https://Consult.Example:8443/site/"}], indirect=True)
def test_a_message_id_names_the_sites_host(app):
    from mail.compose import new_message_id

    first, second = new_message_id(), new_message_id()
    assert first != second
    assert first.startswith("<") and first.endswith("@consult.example>")


def test_a_stale_claim_returns_to_pending_and_a_live_one_does_not(app):
    stale = queue_row(status=OutboxMessage.SENDING, claimed_by="dead-worker", claimed_at=utcnow() - timedelta(hours=1))
    live = queue_row(status=OutboxMessage.SENDING, claimed_by="busy-worker", claimed_at=utcnow())
    report = mailer.deliver_pending()
    assert report.sent == 1
    assert fresh(stale.id).status == OutboxMessage.SENT
    assert fresh(live.id).status == OutboxMessage.SENDING


def test_a_late_worker_cannot_mark_a_message_it_no_longer_holds(app):
    row = queue_row()
    session = mailer.delivery_session()
    try:
        (claimed,) = OutboxMessage.claim_batch(session, "worker-a")
        assert claimed.id == row.id
        assert OutboxMessage.claim_batch(session, "worker-b") == []
        assert OutboxMessage.mark_sent(session, row.id, "worker-b") is False
        assert OutboxMessage.mark_sent(session, row.id, "worker-a") is True
    finally:
        session.close()


def test_stopping_releases_the_rest_of_the_batch(mail_app, smtp_server):
    rows = [queue_row() for _ in range(4)]
    sent = []

    def stop_after_two():
        sent.append(None)
        return len(smtp_server.messages) >= 2

    report = mailer.deliver_pending(should_stop=stop_after_two)
    assert (report.sent, report.released) == (2, 2)
    statuses = sorted(fresh(r.id).status for r in rows)
    assert statuses == [OutboxMessage.PENDING] * 2 + [OutboxMessage.SENT] * 2
    assert all(fresh(r.id).claimed_by is None for r in rows)


# --- the CLI ------------------------------------------------------------------------------

def test_cli_deliver_prints_a_summary(mail_app, smtp_server):
    queue_row()
    queue_row(to_addr="broken address")
    result = mail_app.test_cli_runner().invoke(args=["outbox", "deliver"])
    assert result.exit_code == 0, result.output
    assert "sent 1, will retry 0, failed 1" in result.output
    result = mail_app.test_cli_runner().invoke(args=["outbox", "status"])
    assert "0 pending, 0 sending, 1 sent, 1 failed" in result.output


def test_after_commit_in_a_request_wakes_the_thread_and_nothing_else_does(mail_app, smtp_server, monkeypatch):
    woken = []
    monkeypatch.setattr(outbox_thread, "ensure_thread", lambda app: woken.append(app) or None)
    queue_row()  # no request: no thread (a CLI command would exit under it)
    assert woken == []
    with mail_app.test_request_context("/"):
        queue_row()
        assert woken == [mail_app]
        other = db.session.scalar(select(OutboxMessage).limit(1))
        other.subject = "Changed"
        db.session.commit()  # a commit that queues nothing does not wake it
        assert woken == [mail_app]
        db.session.add(OutboxMessage(message_id="<rolled-back@localhost>", to_addr="a@example.com", subject="x", text_body="x"))
        db.session.flush()
        db.session.rollback()
        db.session.commit()
        assert woken == [mail_app]


def test_message_ids_stay_unique_when_random_is_seeded(app):
    """A seeded `random` module (hypothesis does it; so can a forked worker) must not repeat Message-IDs."""
    import random

    from mail.compose import new_message_id

    random.seed(7)
    first = new_message_id()
    random.seed(7)
    assert new_message_id() != first and first.endswith("@localhost>")
