"""Issue #15: the enquiry thread tells the truth about each reply's email, shows words not stored values,
offers no reply to an erased enquiry, and counts in proper English.

Delivery runs against the real SMTP server on loopback: first stopped (its port then answers nothing,
"Connection refused"), then running again.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from extensions import db
from mail import delivery as mailer
from models import Enquiry, EnquiryMessage, OutboxMessage
from models.base import utcnow
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.factories import make_admin, make_course, make_enquiry, make_service
from tests.smtp import ALLOWED_SMTP_PORTS


@pytest.fixture
def app_config():
    return {"OUTBOX_MAX_ATTEMPTS": 2}


def sign_in(app):
    make_admin(email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
    client = app.test_client()
    assert client.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).status_code == 303
    return client


def thread_entry(page: str) -> str:
    """The thread's one reply, as text."""
    item = page.split('<ol class="thread">', 1)[1].split("</ol>", 1)[0]
    return re.sub(r" ([;,.:])", r"\1", " ".join(re.sub(r"<[^>]+>", " ", item).split()))


def make_due() -> None:
    db.session.rollback()
    db.session.execute(update(OutboxMessage).where(OutboxMessage.status == OutboxMessage.PENDING)
                       .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def test_the_thread_shows_queued_retrying_failed_and_sent_as_they_happen(mail_app, smtp_server):
    enquiry = make_enquiry(name="Zoë Ñúñez", email="zoe@example.org")
    admin = sign_in(mail_app)
    admin.post(f"/admin/enquiries/{enquiry.id}/reply", data={"subject": "Re: Ihre Anfrage", "body": "Gern, Dienstag?"})
    outbox_id = db.session.scalar(select(OutboxMessage.id))
    page = admin.get(f"/admin/enquiries/{enquiry.id}").text
    entry = thread_entry(page)
    assert "Email: Queued Not sent yet" in entry and "Reply sent" not in page
    assert f'href="/admin/outbox/{outbox_id}"' in page

    smtp_server.stop()  # the relay is down: its port refuses connections
    ALLOWED_SMTP_PORTS.add(smtp_server.port)
    mailer.deliver_pending()
    entry = thread_entry(admin.get(f"/admin/enquiries/{enquiry.id}").text)
    assert "Not delivered yet (1 try), will retry; next attempt" in entry
    assert "The mail server refused the connection" in entry
    assert "Errno" not in entry and "ConnectionRefusedError" not in entry

    make_due()
    mailer.deliver_pending()  # the second and last attempt
    entry = thread_entry(admin.get(f"/admin/enquiries/{enquiry.id}").text)
    assert "Email: Failed Not delivered, and no more tries." in entry and "will retry" not in entry
    assert "Why: The mail server refused the connection" in entry and "Retry it from the outbox" in entry

    # The relay is back on the same port (a controller runs once: a new one); the consultant retries.
    smtp_server.controller = Controller(smtp_server.handler, hostname="127.0.0.1", port=smtp_server.port)
    smtp_server.start()
    assert admin.post(f"/admin/outbox/{outbox_id}/retry", data={}).status_code == 303
    mailer.deliver_pending()
    assert [m["Subject"] for m in smtp_server.messages] == ["Re: Ihre Anfrage"]
    page = admin.get(f"/admin/enquiries/{enquiry.id}").text
    entry = thread_entry(page)
    db.session.rollback()
    sent_at = db.session.get(OutboxMessage, outbox_id).sent_at
    assert entry.startswith("Reply") and "Email: Sent " in entry and "Not delivered" not in entry
    assert f'<time datetime="{sent_at.isoformat(timespec="seconds")}' in page


def test_a_note_has_no_delivery_state(admin_client):
    enquiry = make_enquiry()
    admin_client.post(f"/admin/enquiries/{enquiry.id}/note", data={"body": "Called them."})
    entry = thread_entry(admin_client.get(f"/admin/enquiries/{enquiry.id}").text)
    assert entry.startswith("Internal note") and "Queued" not in entry and "Sent" not in entry


# --- words, not stored values ---------------------------------------------------------------------

def test_the_enquiry_page_shows_labels_not_stored_values(admin_client):
    make_service(slug="virtualization", title="Virtualisierung & Container")
    course = make_course(title="OpenStack für Einsteiger")
    contact = make_enquiry(topic="virtualization")
    private = make_enquiry(kind=Enquiry.PRIVATE_TRAINING, topic="training", course_id=course.id,
                           training_format="on-site", attendees=6, preferred_dates="Semaine du 9 mars")
    facts = admin_client.get(f"/admin/enquiries/{contact.id}").text
    assert "<dt>Topic</dt><dd>Virtualisierung &amp; Container</dd>" in facts
    page = admin_client.get(f"/admin/enquiries/{private.id}").text
    assert "<dt>Format</dt><dd>On-site at your premises</dd>" in page
    assert "<dt>Topic</dt><dd>Training</dd>" in page
    assert ">New</span>" in page
    listing = admin_client.get("/admin/enquiries").text
    assert "Private training" in listing and ">New</span>" in listing


def test_the_status_select_is_not_labelled_optional(admin_client):
    enquiry = make_enquiry()
    page = admin_client.get(f"/admin/enquiries/{enquiry.id}").text
    label = page.split('<label for="status">', 1)[1].split("</label>", 1)[0]
    assert "optional" not in label
    assert re.search(r'<select[^>]*id="status"[^>]*required', page)
    assert re.search(r'<select[^>]*id="status"[^>]*>\s*<option[^>]*value="">Choose a status</option>', page)
    empty = admin_client.post(f"/admin/enquiries/{enquiry.id}/status", data={"status": ""})
    assert empty.status_code == 422 and "Choose where to move it." in empty.text


def test_the_status_filter_says_what_it_shows_in_few_words(admin_client):
    page = admin_client.get("/admin/enquiries").text
    select_html = page.split('id="status"', 1)[1].split("</select>", 1)[0]
    first = re.search(r"<option[^>]*>([^<]*)</option>", select_html)[1]
    assert first == "Any but spam"  # short enough for the filter column at 1280 and 390 px
    assert ">Held for review</option>" in select_html


# --- an erased enquiry ---------------------------------------------------------------------------

def test_an_erased_enquiry_offers_no_reply_and_refuses_one(admin_client):
    from blueprints.admin.operations import ERASED, ERASED_EMAIL

    enquiry = make_enquiry(name=ERASED, email=ERASED_EMAIL, message=ERASED, company="")
    page = admin_client.get(f"/admin/enquiries/{enquiry.id}").text
    assert "Send reply" not in page and f"/admin/enquiries/{enquiry.id}/reply" not in page
    assert "erased on a privacy request" in page
    response = admin_client.post(f"/admin/enquiries/{enquiry.id}/reply", data={"subject": "Re: x", "body": "Hello"},
                                 follow_redirects=True)
    assert "erased on a privacy request: there is no address left to reply to" in response.text
    db.session.rollback()
    assert db.session.scalars(select(OutboxMessage)).all() == []
    assert db.session.scalars(select(EnquiryMessage)).all() == []


def test_erasing_one_enquiry_says_one_enquiry(admin_client):
    make_enquiry(email="jo@example.org")
    confirm = admin_client.post("/admin/privacy/erase", data={"email": "jo@example.org"}).text
    assert "1 enquiry," in confirm and "1 enquiries" not in confirm
    done = admin_client.post("/admin/privacy/erase", data={"email": "jo@example.org",
                                                          "confirm_email": "jo@example.org"}, follow_redirects=True)
    assert "Erased: 1 enquiry," in done.text and "1 enquiries" not in done.text


def test_counts_are_singular_for_one(admin_client):
    make_enquiry(status=Enquiry.HELD, spam_reason="submitted too fast")
    make_enquiry()
    listing = admin_client.get("/admin/enquiries").text
    assert "1 enquiry is held for review" in listing and "2 enquiries" in listing
    assert "1 enquiry</p>" in admin_client.get("/admin/enquiries?status=held").text
    dashboard = admin_client.get("/admin/").text
    assert "1</span> new enquiry<" in dashboard and "1</span> enquiry held for review" in dashboard


def test_a_reply_whose_email_row_is_gone_says_so(admin_client):
    enquiry = make_enquiry()
    admin_client.post(f"/admin/enquiries/{enquiry.id}/reply", data={"subject": "Re: x", "body": "Hello"})
    db.session.rollback()
    db.session.delete(db.session.scalar(select(OutboxMessage)))  # the outbox row is gone (SET NULL)
    db.session.commit()
    entry = thread_entry(admin_client.get(f"/admin/enquiries/{enquiry.id}").text)
    assert "Email: No record The email is no longer in the outbox." in entry and "/admin/outbox/" not in entry
