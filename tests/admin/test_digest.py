"""The daily digest: one email to the consultant each morning (their zone), only when there is something, once a day."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from blueprints.admin import digest
from extensions import db
from mail import delivery
from models import AuditLog, Booking, DigestRun, Enquiry, OutboxMessage
from tests.factories import make_booking, make_course, make_enquiry, make_session

UTC = timezone.utc
CONSULTANT = "linus@tribe.example"
# 05:30 UTC on 16 March 2027 is 06:30 in Berlin (winter time): before the digest hour.
EARLY = datetime(2027, 3, 16, 5, 30, tzinfo=UTC)
MORNING = datetime(2027, 3, 16, 6, 5, tzinfo=UTC)  # 07:05 in Berlin


@pytest.fixture
def app_config():
    return {"SITE_TIMEZONE": "Europe/Berlin", "CONSULTANT_EMAIL": CONSULTANT, "DIGEST_HOUR": 7}


def delivered(smtp_server) -> list:
    delivery.deliver_pending()
    return [m for m in smtp_server.messages if "digest" in m["Subject"].lower() or "Your day" in m["Subject"]]


def fill_a_day(now: datetime) -> dict:
    """One of everything the digest reports, and things it must leave out."""
    course = make_course(title="Kubernetes für Einsteiger")
    soon = make_session(course, starts_at=now + timedelta(hours=30), capacity=8)
    later = make_session(course, starts_at=now + timedelta(days=20))
    new = make_enquiry(name="Zoë Ångström", company="Nordlicht GmbH", created_at=now - timedelta(hours=3))
    rtl = make_enquiry(name="محمد الأحمد", created_at=now - timedelta(hours=2))
    make_enquiry(name="Old news", created_at=now - timedelta(days=3))
    make_enquiry(name="Spammer", status=Enquiry.SPAM, spam_reason="honeypot", created_at=now - timedelta(hours=1))
    held = make_enquiry(name="Held Hanna", status=Enquiry.HELD, spam_reason="submitted too fast",
                        created_at=now - timedelta(days=2))
    pending = make_booking(soon, name="Søren Ølgaard", seats=2)
    make_booking(later, name="Confirmed Carla", status=Booking.CONFIRMED)
    failed = OutboxMessage(message_id="<f1@test>", template="booking_confirmed", to_addr="bounce@exämple.com",
                           subject="Your booking is confirmed", text_body="x", status=OutboxMessage.FAILED,
                           attempts=5, last_error="550 5.1.1 <bounce@exämple.com>: Recipient address rejected",
                           next_attempt_at=now - timedelta(hours=5))
    db.session.add(failed)
    db.session.commit()
    return {"new": new, "rtl": rtl, "held": held, "pending": pending, "soon": soon, "failed": failed}


def test_the_morning_digest_lists_what_needs_the_consultant(mail_app, smtp_server):
    made = fill_a_day(MORNING)
    outcome = digest.send_digest(MORNING)
    assert outcome.status == "sent"
    [message] = delivered(smtp_server)
    assert message["To"].addresses[0].addr_spec == CONSULTANT
    assert message["Subject"] == ("Your day: 2 new enquiries, 1 held, 1 bookings to answer, 1 failed emails, "
                                  "1 sessions soon")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Tuesday 16 March 2027" in text
    for words in ("New enquiries (2)", "Zoë Ångström (Nordlicht GmbH)", "محمد الأحمد", "Held Hanna",
                  "Bookings awaiting your answer (1)", "Søren Ølgaard (2 seats)", "Kubernetes für Einsteiger",
                  "Emails that could not be delivered (1)", "bounce@exämple.com",
                  "Sessions starting in the next two days (1)", "2 of 8 seats held"):
        assert words in text, words
        assert words.replace("(", "(") in html or words in html.replace("&#39;", "'"), words
    assert f"/admin/enquiries/{made['new'].id}" in text and f"/admin/sessions/{made['soon'].id}" in html
    for absent in ("Old news", "Spammer", "Confirmed Carla"):
        assert absent not in text
    run = db.session.scalar(select(DigestRun))
    assert run.day.isoformat() == "2027-03-16" and run.counts == {
        "new_enquiries": 2, "held_enquiries": 1, "pending_bookings": 1, "failed_emails": 1, "sessions_soon": 1}
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "digest.send")) == 1


def test_a_second_run_the_same_day_sends_nothing(mail_app, smtp_server):
    fill_a_day(MORNING)
    assert digest.send_digest(MORNING).status == "sent"
    make_enquiry(name="Later that day", created_at=MORNING + timedelta(hours=2))
    assert digest.send_digest(MORNING + timedelta(hours=3)).status == "already_sent"
    assert len(delivered(smtp_server)) == 1
    assert db.session.scalar(select(func.count()).select_from(DigestRun)) == 1


def test_the_next_digest_counts_new_enquiries_from_where_the_last_one_stopped(mail_app, smtp_server):
    make_enquiry(name="Before the first", created_at=MORNING - timedelta(hours=1))
    digest.send_digest(MORNING)
    make_enquiry(name="Afternoon Anna", created_at=MORNING + timedelta(hours=6))
    outcome = digest.send_digest(MORNING + timedelta(days=1))
    assert outcome.status == "sent"
    [first, second] = delivered(smtp_server)
    text = second.get_body(("plain",)).get_content()
    assert "Afternoon Anna" in text and "Before the first" not in text and "New enquiries (1)" in text


def test_nothing_to_report_sends_nothing(mail_app, smtp_server):
    make_enquiry(name="Old news", created_at=MORNING - timedelta(days=3), status=Enquiry.REPLIED)
    make_session(starts_at=MORNING + timedelta(days=10))
    outcome = digest.send_digest(MORNING)
    assert outcome.status == "nothing" and "no digest sent" in outcome.message
    assert delivered(smtp_server) == [] and smtp_server.messages == []
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert db.session.scalar(select(func.count()).select_from(DigestRun)) == 0


def test_before_the_digest_hour_in_the_consultants_zone_it_waits(mail_app, smtp_server):
    fill_a_day(EARLY)
    assert digest.send_digest(EARLY).status == "too_early"
    assert digest.send_digest(EARLY, any_hour=True).status == "sent"


def test_the_hour_follows_summer_time(mail_app):
    # 05:30 UTC on 29 March 2027 is 07:30 in Berlin (summer time since the 28th): morning.
    make_enquiry(created_at=datetime(2027, 3, 29, 5, 0, tzinfo=UTC))
    assert digest.send_digest(datetime(2027, 3, 29, 5, 30, tzinfo=UTC)).status == "sent"


def test_two_runs_at_once_send_one_digest(mail_app):
    fill_a_day(MORNING)
    # The other run got there first, between this run's check and its insert.
    db.session.add(DigestRun(day=MORNING.date(), covered_until=MORNING, recipient=CONSULTANT, counts={}))
    db.session.commit()
    assert digest.send_digest(MORNING).status == "already_sent"
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.template == "daily_digest")) == 0


def test_a_section_hook_adds_to_the_digest(mail_app, smtp_server, monkeypatch):
    monkeypatch.setattr(digest, "_sections", list(digest._sections))

    @digest.section
    def go_no_go(w):
        return digest.Section("go_no_go", "Sessions needing a go/no-go", [digest.Item("Docker, 3 of 8 seats")], 1)

    outcome = digest.send_digest(MORNING)
    assert outcome.status == "sent"
    [message] = delivered(smtp_server)
    assert "Sessions needing a go/no-go (1)" in message.get_body(("plain",)).get_content()


def test_flask_digest_send_for_cron(mail_app, smtp_server):
    runner = mail_app.test_cli_runner()
    result = runner.invoke(args=["digest", "send", "--any-hour"])
    assert result.exit_code == 0 and "Nothing to report" in result.output
    make_enquiry(name="Zoë Ångström")
    result = runner.invoke(args=["digest", "send", "--any-hour"])
    assert result.exit_code == 0 and "queued to linus@tribe.example: 1 new enquiries" in result.output
    again = runner.invoke(args=["digest", "send", "--any-hour"])
    assert again.exit_code == 0 and "already sent" in again.output
    assert len(delivered(smtp_server)) == 1
