"""Database faults during delivery: nothing stays stranded in `sending`, nothing the relay accepted goes out twice.

The faults are injected into the delivery's own sessions (a COMMIT that raises, as a dropped
PostgreSQL connection or a locked SQLite file does); the SMTP server is the real one on loopback.
"""
from __future__ import annotations

import collections
import time

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.exc import OperationalError

from extensions import db
from mail import delivery as mailer
from models import OutboxMessage
from tests.mail.test_outbox_delivery import fresh, make_due, queue_row


def database_fault(monkeypatch, should_fail) -> None:
    """Every COMMIT of a delivery session for which `should_fail(session)` is true raises, as a lost connection does."""
    original = mailer.delivery_session
    mark_sent = OutboxMessage.mark_sent.__func__

    def marking(cls, session, *args, **kwargs):
        session.info["fault.marking_sent"] = True  # so that `marks_sent` can tell this commit apart
        try:
            return mark_sent(cls, session, *args, **kwargs)
        finally:
            session.info.pop("fault.marking_sent", None)

    monkeypatch.setattr(OutboxMessage, "mark_sent", classmethod(marking))

    def flaky_session():
        session = original()

        @event.listens_for(session, "before_commit")
        def fail(inner):
            if should_fail(inner):
                raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

        return session

    monkeypatch.setattr(mailer, "delivery_session", flaky_session)


def marks_sent(session) -> bool:
    """The COMMIT of OutboxMessage.mark_sent: the relay has accepted the message."""
    return bool(session.info.get("fault.marking_sent"))


def copies(server) -> collections.Counter:
    return collections.Counter(str(m["Message-ID"]) for m in server.messages)


@pytest.fixture
def quick_retries(monkeypatch):
    monkeypatch.setattr(mailer, "BOOKKEEPING_PAUSES", (0.01,) * 5)


def test_a_failed_commit_of_mark_sent_is_retried_and_the_message_is_not_sent_again(mail_app, smtp_server, monkeypatch,
                                                                                quick_retries):
    rows = [queue_row(to_name="Zoë Ångström") for _ in range(3)]
    failures = []

    def once(session):
        if marks_sent(session) and not failures:
            failures.append(True)
            return True
        return False

    database_fault(monkeypatch, once)
    report = mailer.deliver_pending()
    assert failures == [True]
    assert (report.sent, report.unrecorded) == (3, 0)
    assert copies(smtp_server) == {r.message_id: 1 for r in rows}
    assert [(fresh(r.id).status, fresh(r.id).attempts) for r in rows] == [(OutboxMessage.SENT, 1)] * 3
    assert mailer.deliver_pending().sent == 0
    assert copies(smtp_server) == {r.message_id: 1 for r in rows}


def test_an_outage_for_the_rest_of_the_pass_hands_back_untried_claims_and_records_the_sent_one_later(
        mail_app, smtp_server, monkeypatch, quick_retries):
    rows = [queue_row() for _ in range(5)]
    down = {"on": False, "over": False}

    def outage(session):  # from the first mark_sent on, until it is over
        if marks_sent(session) and not down["over"]:
            down["on"] = True
        return down["on"] and not down["over"]

    database_fault(monkeypatch, outage)
    report = mailer.deliver_pending()
    # The database is still down: the untried four wait in the process, claimed, not for ten minutes.
    assert report.unrecorded == 5 and len(smtp_server.messages) == 1
    assert [fresh(r.id).status for r in rows] == [OutboxMessage.SENDING] * 5

    down["over"] = True  # it answers again; a takeover of the first claim (as after the claim timeout) changes nothing
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == rows[0].id)
                       .values(status=OutboxMessage.PENDING, claimed_by=None, claimed_at=None))
    db.session.commit()
    report = mailer.deliver_pending()
    assert report.sent == 4
    assert copies(smtp_server) == {r.message_id: 1 for r in rows}, "a message the relay had accepted was sent again"
    assert {fresh(r.id).status for r in rows} == {OutboxMessage.SENT}
    assert mailer.unrecorded(mail_app) == {}


def test_when_only_the_sent_message_cannot_be_recorded_the_rest_go_back_at_once(mail_app, smtp_server, monkeypatch,
                                                                              quick_retries):
    rows = [queue_row() for _ in range(4)]
    fault = {"on": True}
    database_fault(monkeypatch, lambda session: fault["on"] and marks_sent(session))
    report = mailer.deliver_pending()
    assert (report.sent, report.unrecorded, len(smtp_server.messages)) == (0, 1, 1)
    statuses = [fresh(r.id).status for r in rows]
    assert statuses == [OutboxMessage.SENDING] + [OutboxMessage.PENDING] * 3, "untried claims were left stranded"
    assert all(fresh(r.id).claimed_by is None for r in rows[1:])
    fault["on"] = False
    mailer.deliver_pending()
    assert copies(smtp_server) == {r.message_id: 1 for r in rows}
    assert {fresh(r.id).status for r in rows} == {OutboxMessage.SENT}


@pytest.mark.slow
def test_a_four_second_database_blip_is_ridden_out_in_the_same_pass(mail_app, smtp_server, monkeypatch):
    rows = [queue_row() for _ in range(5)]
    blip = {}

    def during_blip(session):
        if not smtp_server.messages:
            return False
        blip.setdefault("start", time.monotonic())
        return time.monotonic() - blip["start"] < 4.0

    database_fault(monkeypatch, during_blip)
    started = time.monotonic()
    report = mailer.deliver_pending()
    took = time.monotonic() - started
    assert (report.sent, report.unrecorded, report.released) == (5, 0, 0)
    assert copies(smtp_server) == {r.message_id: 1 for r in rows}
    assert {fresh(r.id).status for r in rows} == {OutboxMessage.SENT}
    assert took < 15, f"the pass took {took:.1f} s"


def test_attempts_count_the_successful_try_too(mail_app, smtp_server):
    from tests.factories import make_admin

    make_admin(email="consultant@example.com", password="correct horse battery staple")
    admin_client = mail_app.test_client()  # one app: a second one on the same database would wait on this one
    assert admin_client.post("/admin/login", data={"email": "consultant@example.com",
                                                   "password": "correct horse battery staple"}).status_code == 303
    smtp_server.handler.refuse = True
    row = queue_row(subject="Sent on the second try")
    mailer.deliver_pending()
    assert fresh(row.id).attempts == 1
    smtp_server.handler.refuse = False
    make_due()
    mailer.deliver_pending()
    stored = fresh(row.id)
    assert (stored.status, stored.attempts) == (OutboxMessage.SENT, 2)
    page = admin_client.get("/admin/outbox?status=sent").get_data(as_text=True)
    assert "Sent on the second try" in page and "Sent on the 2nd attempt" in page
    detail = admin_client.get(f"/admin/outbox/{row.id}").get_data(as_text=True)
    assert "<dt>Delivery</dt><dd>Sent on the 2nd attempt</dd>" in detail


def test_a_message_sent_first_time_shows_one_attempt(mail_app, smtp_server):
    row = queue_row()
    mailer.deliver_pending()
    assert fresh(row.id).attempts == 1
    assert db.session.scalar(select(OutboxMessage.attempts).where(OutboxMessage.id == row.id)) == 1
