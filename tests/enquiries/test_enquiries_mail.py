"""The enquiry emails end to end, through a real SMTP server on loopback."""
from __future__ import annotations

import collections
import statistics
import time
from datetime import timedelta

from sqlalchemy import func, select, update

from extensions import db
from mail import delivery as mailer
from models import Enquiry, OutboxMessage
from models.base import utcnow
from tests.enquiries.test_enquiries_form import valid_data
from tests.factories import make_service
from tests.mail.test_outbox_workers import wait_for

NAME = "Zoë Ñúñez-山田"


def deliver_everything_due() -> None:
    db.session.rollback()
    db.session.execute(update(OutboxMessage).where(OutboxMessage.status == OutboxMessage.PENDING)
                       .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    mailer.deliver_pending()


def by_recipient(server) -> dict:
    return {m["To"].addresses[0].addr_spec: m for m in server.messages}


def test_both_emails_arrive_with_the_right_headers_and_the_clients_words(mail_app, smtp_server):
    make_service(slug="network", title="Network")
    client = mail_app.test_client()
    message = "Our network needs a redesign — über 200 sites, ünïcødé and <tags> & all.\nSecond line."
    response = client.post("/contact", data=valid_data(name=NAME, email="zoe@example.org", topic="network",
                                                       company="Ünïted Çorp", message=message))
    assert response.status_code == 303
    mailer.deliver_pending()
    enquiry = db.session.scalar(select(Enquiry))
    mails = by_recipient(smtp_server)
    assert set(mails) == {mail_app.config["CONSULTANT_EMAIL"], "zoe@example.org"}
    for mail in smtp_server.messages:
        assert len(mail.envelope_to) == 1 and mail.envelope_to[0] == mail["To"].addresses[0].addr_spec

    notification = mails[mail_app.config["CONSULTANT_EMAIL"]]
    assert notification["Reply-To"].addresses[0].addr_spec == "zoe@example.org"
    assert notification["Reply-To"].addresses[0].display_name == NAME
    assert notification["Subject"] == f"New enquiry (Network) from {NAME}"
    text = notification.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = notification.get_body(("html",)).get_content()
    for expected in (NAME, "zoe@example.org", "Ünïted Çorp", "Network", "Second line.",
                     f"http://localhost/admin/enquiries/{enquiry.id}"):
        assert expected in text
    assert message in text
    assert "&lt;tags&gt; &amp; all." in html and f'href="http://localhost/admin/enquiries/{enquiry.id}"' in html
    assert NAME in html

    acknowledgement = mails["zoe@example.org"]
    assert acknowledgement["To"].addresses[0].display_name == NAME
    assert acknowledgement["Reply-To"].addresses[0].addr_spec == mail_app.config["CONSULTANT_EMAIL"]
    assert acknowledgement["Subject"] == "Thank you for your enquiry"  # no visitor text in the subject of an unverified mail
    ack_text = acknowledgement.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert message in ack_text and "two working days" in ack_text and "What happens next" in ack_text
    assert "two working days" in acknowledgement.get_body(("html",)).get_content()
    assert {m["Message-ID"] for m in smtp_server.messages} == set(
        db.session.scalars(select(OutboxMessage.message_id)))


def test_crlf_in_the_name_adds_no_header_or_recipient(mail_app, smtp_server):
    client = mail_app.test_client()
    evil = "Eve\r\nBcc: victim@example.net\r\nX-Injected: yes"
    assert client.post("/contact", data=valid_data(name=evil)).status_code == 303
    mailer.deliver_pending()
    assert len(smtp_server.messages) == 2
    for mail in smtp_server.messages:
        assert mail["Bcc"] is None and mail["X-Injected"] is None and mail["Cc"] is None
        assert "victim@example.net" not in mail.envelope_to
        assert len(mail["To"].addresses) == 1
    notification = by_recipient(smtp_server)[mail_app.config["CONSULTANT_EMAIL"]]
    # split(): Python's address parser keeps the folding space between two encoded words.
    shown = notification["Reply-To"].addresses[0].display_name.split()
    assert shown == "Eve Bcc: victim@example.net X-Injected: yes".split()
    assert "\n" not in str(notification["Subject"])


def test_spam_is_stored_and_nothing_is_mailed(mail_app, smtp_server):
    client = mail_app.test_client()
    client.post("/contact", data=valid_data(website="http://buy.example"))
    mailer.deliver_pending()
    assert smtp_server.messages == []
    assert db.session.scalar(select(Enquiry.status)) == Enquiry.SPAM


def test_with_smtp_down_twenty_enquiries_wait_and_all_forty_arrive_exactly_once_later(mail_app, smtp_server):
    client = mail_app.test_client()
    smtp_server.handler.refuse = True
    for n in range(20):
        response = client.post("/contact", data=valid_data(name=f"Client {n}", email=f"client{n}@example.com"))
        assert response.status_code == 303
    mailer.deliver_pending()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Enquiry)) == 20
    statuses = collections.Counter(db.session.scalars(select(OutboxMessage.status)))
    assert statuses == {OutboxMessage.PENDING: 40}
    assert smtp_server.messages == []

    smtp_server.handler.refuse = False
    deliver_everything_due()
    deliver_everything_due()  # a second pass sends nothing again
    received = collections.Counter(str(m["Message-ID"]) for m in smtp_server.messages)
    assert len(received) == 40 and set(received.values()) == {1}
    assert received.keys() == set(db.session.scalars(select(OutboxMessage.message_id)))
    db.session.rollback()
    assert collections.Counter(db.session.scalars(select(OutboxMessage.status))) == {OutboxMessage.SENT: 40}


def median_post_seconds(client, runs: int, offset: int) -> float:
    timings = []
    for n in range(runs):
        data = valid_data(name=f"Timed {offset + n}", email=f"timed{offset + n}@example.com")
        started = time.perf_counter()
        response = client.post("/contact", data=data)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 303
    return statistics.median(timings)


def test_a_slow_smtp_server_does_not_slow_the_form_down(thread_app, smtp_server):
    client = thread_app.test_client()
    client.get("/contact")  # warm up (templates, first connection)
    instant = median_post_seconds(client, 3, 0)
    wait_for(lambda: len(smtp_server.messages) == 6, 30, "the instant deliveries")
    smtp_server.handler.delay = 2.0  # every message now takes two seconds to accept
    slow = median_post_seconds(client, 3, 10)
    print(f"median POST /contact: instant SMTP {instant * 1000:.0f} ms, 2 s SMTP {slow * 1000:.0f} ms")
    assert slow < 1.0, f"POST /contact took {slow:.2f} s with a 2 s SMTP server (instant: {instant:.2f} s)"
    # The thread delivers them in the background, one every two seconds.
    wait_for(lambda: len(smtp_server.messages) >= 7, 30, "a slow delivery to finish")


def test_an_internationalised_domain_is_delivered_in_its_ascii_form(mail_app, smtp_server):
    client = mail_app.test_client()
    assert client.post("/contact", data=valid_data(email="info@bücher.example")).status_code == 303
    mailer.deliver_pending()
    acknowledgement = by_recipient(smtp_server)["info@xn--bcher-kva.example"]
    assert acknowledgement.envelope_to == ["info@xn--bcher-kva.example"]


def test_a_non_ascii_local_part_is_taken_and_its_copy_delivered(mail_app, smtp_server):
    """The contact form takes what the booking form takes (tests/mail/test_international_addresses.py has the rest)."""
    response = mail_app.test_client().post("/contact", data=valid_data(email="jürgen@example.com"))
    assert response.status_code == 303
    mailer.deliver_pending()
    assert [m.envelope_to for m in smtp_server.messages if m.envelope_to != [mail_app.config["CONSULTANT_EMAIL"]]] == [
        ["jürgen@example.com"]]


def test_private_course_emails_carry_the_request_in_words(mail_app, smtp_server):
    """Issue #15 item 5 and "raw values shown": both emails give the course, preferred dates, attendees and
    format, with labels ("On-site at your premises", not "on-site")."""
    import time

    from tests.factories import make_course
    from web.spam import issue_form_token

    course = make_course(title="OpenStack für Einsteiger")
    client = mail_app.test_client()
    data = {"private-name": NAME, "private-email": "zoe@例え.jp", "private-company": "Initech",
            "private-preferred_dates": "Semaine du 9 mars, או 16 במרץ", "private-attendees": "6",
            "private-training_format": "on-site", "private-message": "Zwei Tage bitte", "private-consent": "y",
            "private-form_token": issue_form_token("private_training", now=time.time() - 10)}
    assert client.post(f"/training/{course.slug}", data=data).status_code == 303
    mailer.deliver_pending()
    mails = by_recipient(smtp_server)
    assert set(mails) == {mail_app.config["CONSULTANT_EMAIL"], "zoe@xn--r8jz45g.jp"}
    assert mails[mail_app.config["CONSULTANT_EMAIL"]]["Subject"] == f"Private training request (OpenStack für Einsteiger) from {NAME}"
    for mail in mails.values():
        text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
        html = mail.get_body(("html",)).get_content()
        for expected in ("Course:   OpenStack für Einsteiger", "Preferred dates: Semaine du 9 mars, או 16 במרץ",
                         "Attendees: 6", "Format:   On-site at your premises"):
            assert expected in text, (mail["Subject"], expected)
        assert "on-site\n" not in text
        for expected in (">Preferred dates</th>", "Semaine du 9 mars, או 16 במרץ", ">On-site at your premises</td>",
                         ">6</td>", ">OpenStack für Einsteiger</td>"):
            assert expected in html, (mail["Subject"], expected)

