"""The consultant's reply to an enquiry threads in the client's mail program, read from the bytes a real SMTP server got.

The client's mailbox holds the acknowledgement (the site's answer to their form): the reply is
In-Reply-To it, carries the thread's References, a subject that matches ("Re: …"), and no
Auto-Submitted header, since a person wrote it. Automatic mails keep Auto-Submitted: auto-generated.
"""
from __future__ import annotations

import re
from email import message_from_string, policy

import pytest
from sqlalchemy import select

from extensions import db
from mail import delivery as mailer
from models import Enquiry
from tests.enquiries.test_enquiries_form import valid_data
from tests.factories import make_admin

CLIENT = "zoë@bücher.example"
PASSWORD = "a long test password"


def received(message):
    return message_from_string(message.raw.decode("utf-8"), policy=policy.default)


def raw_header(message, name: str) -> str | None:
    head = message.raw.decode("utf-8").split("\r\n\r\n", 1)[0]
    match = re.search(rf"^{name}:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.MULTILINE | re.IGNORECASE)
    return match.group(1).replace("\r\n", "").strip() if match else None


def mail_to(server, address: str, start: int = 0):
    return [received(m) for m in server.messages[start:] if m.envelope_to == [address]]


@pytest.fixture
def consultant(mail_app):
    make_admin(email="owner@example.com", password=PASSWORD)
    client = mail_app.test_client()
    assert client.post("/admin/login", data={"email": "owner@example.com", "password": PASSWORD}).status_code == 303
    return client


def reply_subject_offered(consultant, enquiry_id: int) -> str:
    page = consultant.get(f"/admin/enquiries/{enquiry_id}").get_data(as_text=True)
    return re.search(r'<input[^>]*name="subject"[^>]*value="([^"]*)"', page).group(1)


@pytest.mark.parametrize("kind", ["contact", "private"])
def test_the_reply_threads_with_the_acknowledgement_and_is_not_auto_submitted(mail_app, smtp_server, consultant, kind):
    if kind == "contact":
        response = mail_app.test_client().post("/contact", data=valid_data(name="Zoë Ñúñez", email=CLIENT))
    else:
        from tests.factories import make_course
        from web.spam import issue_form_token

        course = make_course(title="Kubernetes für Fortgeschrittene")
        response = mail_app.test_client().post(f"/training/{course.slug}", data={
            "private-name": "Zoë Ñúñez", "private-email": CLIENT, "private-preferred_dates": "März",
            "private-attendees": "4", "private-training_format": "online", "private-consent": "y",
            "private-form_token": issue_form_token("private_training")})
    assert response.status_code == 303
    mailer.deliver_pending()
    (acknowledgement,) = mail_to(smtp_server, CLIENT)
    (notification,) = mail_to(smtp_server, mail_app.config["CONSULTANT_EMAIL"])
    assert acknowledgement["Auto-Submitted"] == "auto-generated" and notification["Auto-Submitted"] == "auto-generated"

    enquiry_id = db.session.scalar(select(Enquiry.id))
    subject = reply_subject_offered(consultant, enquiry_id)
    assert subject == f"Re: {acknowledgement['Subject']}"
    seen = len(smtp_server.messages)
    assert consultant.post(f"/admin/enquiries/{enquiry_id}/reply", data={
        "subject": subject, "body": "Gern, nächste Woche passt."}).status_code == 303
    mailer.deliver_pending()
    (reply,) = mail_to(smtp_server, CLIENT, seen)
    raw = smtp_server.messages[-1]
    assert reply["Subject"] == subject
    assert raw_header(raw, "Auto-Submitted") is None  # a person wrote it (RFC 3834)
    assert raw_header(raw, "In-Reply-To") == acknowledgement["Message-ID"]
    assert raw_header(raw, "References").split() == [notification["Message-ID"], acknowledgement["Message-ID"]]

    # The next reply answers the previous one, and the thread grows by one.
    subject = reply_subject_offered(consultant, enquiry_id)
    assert subject == f"Re: {acknowledgement['Subject']}"  # never "Re: Re: …"
    seen = len(smtp_server.messages)
    assert consultant.post(f"/admin/enquiries/{enquiry_id}/reply", data={
        "subject": subject, "body": "Noch eine Frage."}).status_code == 303
    mailer.deliver_pending()
    (second,) = mail_to(smtp_server, CLIENT, seen)
    raw = smtp_server.messages[-1]
    assert raw_header(raw, "In-Reply-To") == reply["Message-ID"]
    assert raw_header(raw, "References").split() == [
        notification["Message-ID"], acknowledgement["Message-ID"], reply["Message-ID"]]
    assert second["Subject"] == subject and raw_header(raw, "Auto-Submitted") is None


def test_a_reply_to_an_enquiry_that_sent_no_mail_has_no_thread_to_join(mail_app, smtp_server, consultant):
    """Held as spam: nothing was mailed, so the reply starts the thread (and is still from a person)."""
    response = mail_app.test_client().post("/contact", data=valid_data(email=CLIENT, website="http://spam.example"))
    assert response.status_code == 303
    enquiry_id = db.session.scalar(select(Enquiry.id))
    assert consultant.post(f"/admin/enquiries/{enquiry_id}/reply", data={
        "subject": "Re: Your enquiry", "body": "Sorry, this was caught by the spam filter."}).status_code == 303
    mailer.deliver_pending()
    (raw,) = smtp_server.messages
    assert raw_header(raw, "In-Reply-To") is None and raw_header(raw, "References") is None
    assert raw_header(raw, "Auto-Submitted") is None and received(raw)["Subject"] == "Re: Your enquiry"
