"""`flask privacy purge`: what the privacy page promises to delete goes, everything newer stays."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

from sqlalchemy import select

from blueprints.admin import retention
from blueprints.admin.operations import ERASED, ERASED_EMAIL
from models import AuditLog, Comment, EnquiryMessage, LoginFailure, OutboxMessage, utcnow
from tests.factories import make_admin, make_booking, make_enquiry, make_post, make_session

DAY = timedelta(days=1)


def message(related: str, to: str, reply_to: str | None = None, **fields) -> OutboxMessage:
    from extensions import db

    row = OutboxMessage(message_id=f"<{uuid.uuid4()}@test>", to_addr=to, reply_to=reply_to, related=related,
                        subject=fields.pop("subject", "Re: your enquiry"), text_body="It said things about you.",
                        status=OutboxMessage.SENT, **fields)
    db.session.add(row)
    db.session.commit()
    return row


def world(db_session):
    """Rows just either side of each limit, named after what should happen to them, with the world's names."""
    now = utcnow()
    months = lambda n: retention.months_before(now, n)  # noqa: E731
    rows = {
        "old_enquiry": make_enquiry(name="Zoë Ångström", email="zoe@bücher.example", created_at=months(24) - DAY),
        "old_enquiry_recent_reply": make_enquiry(name="محمد الأحمد", email="m@example.com", created_at=months(30)),
        "young_enquiry": make_enquiry(name="李小龍", email="lee@example.com", created_at=months(24) + DAY),
        "won_enquiry_within_six_years": make_enquiry(status="won", email="won@example.com", created_at=months(30)),
        "won_enquiry_over_six_years": make_enquiry(status="won", email="old-won@example.com",
                                                   created_at=months(72) - DAY),
    }
    db_session.add(EnquiryMessage(enquiry=rows["old_enquiry_recent_reply"], body="Our reply",
                                  created_at=months(23)))
    db_session.add(EnquiryMessage(enquiry=rows["old_enquiry"], body="Our old reply", created_at=months(25)))
    old_session = make_session(starts_at=months(72) - 2 * DAY)
    young_session = make_session(starts_at=months(60))
    rows["booking_over_six_years"] = make_booking(old_session, name="Ægir Þórsson", email="aegir@example.is",
                                                  status="confirmed", created_at=months(73))
    rows["booking_within_six_years"] = make_booking(young_session, email="kept@example.com", created_at=months(61))
    post = make_post()
    for key, status, moderated, created in (
        ("rejected_comment_31_days", Comment.REJECTED, now - 31 * DAY, now - 40 * DAY),
        ("spam_comment_31_days_unmoderated", Comment.SPAM, None, now - 31 * DAY),
        ("rejected_comment_29_days", Comment.REJECTED, now - 29 * DAY, now - 40 * DAY),
        ("approved_comment_years_old", Comment.APPROVED, now - 900 * DAY, now - 900 * DAY),
        ("pending_comment_old", Comment.PENDING, None, now - 90 * DAY),
    ):
        rows[key] = Comment(post=post, author_name="\u202eevil", author_email=f"{key}@example.com", body="Hello there",
                            status=status, moderated_at=moderated, created_at=created)
        db_session.add(rows[key])
    db_session.commit()
    old = rows["old_enquiry"]
    rows["ack_to_old"] = message(f"enquiry:{old.id}", old.email)
    rows["notice_about_old"] = message(f"enquiry:{old.id}", "consultant@example.com", reply_to=old.email)
    rows["ack_to_young"] = message(f"enquiry:{rows['young_enquiry'].id}", rows["young_enquiry"].email)
    rows["comment_notice"] = message(f"comment:{rows['rejected_comment_31_days'].id}", "consultant@example.com",
                                     reply_to="rejected_comment_31_days@example.com")
    admin = make_admin()
    for key, age in (("failure_15_days", 15), ("failure_13_days", 13)):
        rows[key] = LoginFailure(user_id=admin.id, network=f"2001:db8:{age}::/64", failures=3,
                                 first_at=now - age * DAY, last_at=now - age * DAY)
        db_session.add(rows[key])
    db_session.commit()
    return {key: (type(row), row.id) for key, row in rows.items()}


def load(db_session, ids):
    db_session.expire_all()
    return {key: db_session.get(model, pk) for key, (model, pk) in ids.items()}


def test_purge_takes_what_is_past_its_time_and_leaves_the_rest(runner, db_session):
    ids = world(db_session)
    result = runner.invoke(args=["privacy", "purge"])
    assert result.exit_code == 0, result.output
    assert ("2 enquiries and 1 bookings anonymised, 2 rejected or spam comments deleted, 0 invoices and credit notes"
            " past their retention deleted, 3 emails") in result.output
    rows = load(db_session, ids)
    for key in ("old_enquiry", "won_enquiry_over_six_years"):
        assert (rows[key].name, rows[key].email, rows[key].message) == (ERASED, ERASED_EMAIL, ERASED), key
    assert all(m.body == ERASED for m in rows["old_enquiry"].messages)
    for key in ("old_enquiry_recent_reply", "young_enquiry", "won_enquiry_within_six_years", "booking_within_six_years"):
        assert rows[key].email != ERASED_EMAIL, f"{key} was erased too early"
    assert rows["old_enquiry_recent_reply"].name == "محمد الأحمد"
    booking = rows["booking_over_six_years"]
    assert (booking.name, booking.email, booking.seats, booking.status) == (ERASED, ERASED_EMAIL, 1, "confirmed")
    assert rows["rejected_comment_31_days"] is None and rows["spam_comment_31_days_unmoderated"] is None
    for key in ("rejected_comment_29_days", "approved_comment_years_old", "pending_comment_old"):
        assert rows[key] is not None, f"{key} was deleted"
    # The emails about an erased row lose the person; the consultant's own address stays.
    assert (rows["ack_to_old"].to_addr, rows["ack_to_old"].subject) == (ERASED_EMAIL, ERASED)
    assert rows["notice_about_old"].to_addr == "consultant@example.com"
    assert rows["notice_about_old"].reply_to == ERASED_EMAIL and rows["notice_about_old"].text_body == ERASED
    assert rows["comment_notice"].reply_to == ERASED_EMAIL
    assert rows["ack_to_young"].to_addr == "lee@example.com" and rows["ack_to_young"].subject != ERASED
    assert rows["failure_15_days"] is None and rows["failure_13_days"] is not None
    entry = db_session.scalar(select(AuditLog).where(AuditLog.action == "privacy.purge"))
    assert entry is not None and entry.actor_id is None
    assert entry.detail == {"enquiries": 2, "bookings": 1, "comments": 2, "invoices": 0, "outbox": 3, "login_failures": 1}
    # Again: nothing left to purge, and no empty audit entry.
    again = runner.invoke(args=["privacy", "purge"])
    assert "0 enquiries and 0 bookings anonymised, 0 rejected or spam comments deleted, 0 invoices" in again.output
    assert len(db_session.scalars(select(AuditLog).where(AuditLog.action == "privacy.purge")).all()) == 1


def test_a_dry_run_says_what_would_go_and_changes_nothing(runner, db_session):
    ids = world(db_session)
    result = runner.invoke(args=["privacy", "purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Would purge: 2 enquiries and 1 bookings anonymised, 2 rejected")
    rows = load(db_session, ids)
    assert rows["old_enquiry"].name == "Zoë Ångström" and rows["booking_over_six_years"].email == "aegir@example.is"
    assert rows["rejected_comment_31_days"] is not None and rows["failure_15_days"] is not None
    assert rows["ack_to_old"].to_addr == "zoe@bücher.example"
    assert db_session.scalar(select(AuditLog).where(AuditLog.action == "privacy.purge")) is None


def test_the_limits_are_the_ones_the_privacy_page_states(client):
    page = re.sub(r"\s+", " ", client.get("/privacy").text)
    assert f"Enquiries that do not lead to work: {retention.ENQUIRY_MONTHS} months after the last message" in page
    assert f"usually {retention.WORK_YEARS} years" in page
    assert f"rejected and spam comments are deleted within {retention.REJECTED_COMMENT_DAYS} days" in page
    assert f"Server logs with IP addresses: {retention.LOGIN_FAILURE_DAYS} days" in page


def test_months_before_keeps_the_calendar():
    from datetime import datetime, timezone

    assert retention.months_before(datetime(2026, 3, 31, 12, tzinfo=timezone.utc), 1).day == 28
    assert retention.months_before(datetime(2026, 12, 2, tzinfo=timezone.utc), 24) == datetime(2024, 12, 2,
                                                                                              tzinfo=timezone.utc)
