"""The site is no mail cannon: automatic mail to an address nobody verified is capped per recipient.

Measured through the real forms and a real SMTP server: how many emails reach one victim's mailbox
when a stranger submits 20 contact forms (or 20 bookings) with the victim's address.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from extensions import db
from mail import delivery as mailer
from mail.compose import queue_email, recipient_key
from models import Booking, Enquiry, OutboxMessage
from tests.enquiries.test_enquiries_form import valid_data
from tests.factories import make_session
from tests.training.test_training_booking import form as booking_form

VICTIM = "victim@bücher.example"
VICTIM_ASCII = "victim@xn--bcher-kva.example"
# The same mailbox as an attacker may spell it: case, a +tag, the IDN in either form.
SPELLINGS = ["victim@bücher.example", "Victim@BÜCHER.example", "victim+1@xn--bcher-kva.example",
             "VICTIM+news@xn--BCHER-kva.example"]
ATTACKER_TEXT = "URGENT: verify at https://evil.example/login ‮moc.elpmaxe‬"


def mailbox(server, address: str) -> list:
    """Every message the server took for that mailbox (any +tag, any case)."""
    local, domain = address.split("@")
    return [m for m in server.messages
            if m.envelope_to[0].lower().split("@")[1] == domain and m.envelope_to[0].lower().split("@")[0].split("+")[0] == local]


def count(*where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(*where))


def test_twenty_contact_forms_send_the_victim_three_emails_and_the_consultant_twenty(mail_app, smtp_server):
    client = mail_app.test_client()
    for n in range(20):
        response = client.post("/contact", data=valid_data(
            name=f"{ATTACKER_TEXT} {n}", email=SPELLINGS[n % len(SPELLINGS)], message=f"{ATTACKER_TEXT} — message {n}"))
        assert response.status_code == 303
    mailer.deliver_pending()

    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Enquiry)) == 20  # every enquiry is stored
    consultant = mail_app.config["CONSULTANT_EMAIL"]
    assert len([m for m in smtp_server.messages if m.envelope_to == [consultant]]) == 20
    to_victim = mailbox(smtp_server, VICTIM_ASCII)
    print(f"\n20 contact forms: {len(to_victim)} emails reached the victim, "
          f"{len(smtp_server.messages) - len(to_victim)} the consultant")
    assert len(to_victim) == 3
    for mail in to_victim:  # nothing the attacker typed is in the subject of what the victim sees
        assert str(mail["Subject"]) == "Thank you for your enquiry"
        assert "evil" not in str(mail["Subject"]) and "URGENT" not in str(mail["Subject"])

    skipped = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxMessage.SKIPPED)))
    assert len(skipped) == 17
    assert {m.template for m in skipped} == {"enquiry_acknowledgement"}
    assert all("AUTOMATIC_MAIL_PER_HOUR" in m.last_error and m.attempts == 0 for m in skipped)
    assert mailer.deliver_pending().sent == 0  # a skipped message is never delivered later either


def test_twenty_bookings_send_the_victim_three_emails(mail_app, smtp_server):
    sessions = [make_session(capacity=2) for _ in range(4)]
    client = mail_app.test_client()
    for n in range(20):
        session = sessions[n % len(sessions)]
        data = booking_form(name=f"{ATTACKER_TEXT} {n}", email=SPELLINGS[n % len(SPELLINGS)],
                            action="waitlist" if n >= 8 else "book")
        response = client.post(f"/training/sessions/{session.id}/book", data=data)
        assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    mailer.deliver_pending()

    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 20
    to_victim = mailbox(smtp_server, VICTIM_ASCII)
    consultant = mail_app.config["CONSULTANT_EMAIL"]
    print(f"\n20 bookings: {len(to_victim)} emails reached the victim, "
          f"{len([m for m in smtp_server.messages if m.envelope_to == [consultant]])} the consultant")
    assert len(to_victim) == 3
    assert len([m for m in smtp_server.messages if m.envelope_to == [consultant]]) == 20
    for mail in to_victim:
        assert "evil" not in str(mail["Subject"]) and "URGENT" not in str(mail["Subject"])
    assert count(OutboxMessage.status == OutboxMessage.SKIPPED) == 17


def age_automatic_mail(by: timedelta) -> None:
    db.session.rollback()
    for message in db.session.scalars(select(OutboxMessage)):
        message.created_at -= by
    db.session.commit()


def ack(address: str, n: int) -> OutboxMessage:
    db.session.rollback()
    message = queue_email("enquiry_acknowledgement", to=address, to_name="Zoë",
                          enquiry=Enquiry(kind=Enquiry.CONTACT, name="Zoë", email=address, message=f"Hello {n}"),
                          topic_title="", admin_url="", reply_promise="soon")
    db.session.commit()
    return message


def test_three_an_hour_and_ten_a_day(app):
    statuses = []
    for _hour in range(5):
        statuses.append([ack("zaynab@example.com", n).status for n in range(4)])
        age_automatic_mail(timedelta(hours=1, minutes=1))
    assert statuses[0] == [OutboxMessage.PENDING] * 3 + [OutboxMessage.SKIPPED]
    assert statuses[1] == statuses[2] == statuses[0]
    # 9 went out in the last day: one more fits, then the day is full.
    assert statuses[3] == [OutboxMessage.PENDING] + [OutboxMessage.SKIPPED] * 3
    assert statuses[4] == [OutboxMessage.SKIPPED] * 4
    assert "AUTOMATIC_MAIL_PER_DAY" in db.session.scalars(
        select(OutboxMessage.last_error).order_by(OutboxMessage.id.desc())).first()
    age_automatic_mail(timedelta(days=1))
    assert ack("zaynab@example.com", 99).status == OutboxMessage.PENDING  # a new day


@pytest.fixture
def app_config(request):
    return dict(getattr(request, "param", {}))


@pytest.mark.parametrize("app_config", [{"AUTOMATIC_MAIL_PER_HOUR": 1, "AUTOMATIC_MAIL_PER_DAY": 5}], indirect=True)
def test_the_cap_is_a_setting_and_only_automatic_mail_counts(app):
    assert [ack("ünïcode@example.org", n).status for n in range(2)] == [OutboxMessage.PENDING, OutboxMessage.SKIPPED]
    assert ack("someone.else@example.org", 0).status == OutboxMessage.PENDING  # another mailbox
    # Mail that is not automatic (the consultant's own) is never capped, nor counted.
    for n in range(3):
        message = queue_email("enquiry_acknowledgement", to="ünïcode@example.org", automatic=False,
                              enquiry=Enquiry(kind=Enquiry.CONTACT, name="Zoë", message=f"{n}"),
                              topic_title="", admin_url="", reply_promise="soon")
        db.session.commit()
        assert message.status == OutboxMessage.PENDING and message.recipient_key is None


@pytest.mark.parametrize(("address", "key"), [
    ("Victim@Example.COM", "victim@example.com"),
    ("victim+tag@example.com", "victim@example.com"),
    ("victim@bücher.example", VICTIM_ASCII),
    ("victim@XN--BCHER-KVA.example.", VICTIM_ASCII),
    ("o'brien@[IPv6:2001:db8::1]", "o'brien@[ipv6:2001:db8::1]"),
])
def test_one_key_per_mailbox(address, key):
    assert recipient_key(address) == key


def test_the_consultant_sees_why_in_the_outbox(mail_app, smtp_server, admin_client):
    for n in range(4):
        admin_client.post("/contact", data=valid_data(email="victim@example.com", name=f"Name {n}"))
    page = admin_client.get("/admin/outbox?status=skipped").get_data(as_text=True)
    assert "Skipped <span class=\"count\">1</span>" in page
    assert "victim@example.com" in page and "automatic emails in an hour" in page
