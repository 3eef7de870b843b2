"""Issue #15 item 2: an enquiry sent too fast (autofill + paste) is held for review, shown, counted, released.

Only the speed looked like a bot's, so a person may be behind it: it must not vanish into spam with a
thank-you page promising a copy nobody sends. Honeypot and forged stamps stay plain spam.
"""
from __future__ import annotations

import time

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, text

from extensions import db
from mail import delivery as mailer
from models import AuditLog, Enquiry, OutboxMessage
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_app
from tests.enquiries.test_enquiries_form import valid_data
from tests.factories import make_admin, make_course, make_enquiry
from web.spam import issue_form_token

NAME = "Søren Ødegård-Łukasz"
EMAIL = "soren@bücher.example"  # an IDN domain: delivered in its ASCII form


@pytest.fixture
def app_config():
    return {"SPAM_MIN_SECONDS": 3}


def fast_token(form_name: str = "contact") -> str:
    return issue_form_token(form_name, now=time.time() - 0.4)  # autofill and paste: well under 3 s


def outbox_total() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def sign_in(app):
    make_admin(email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
    client = app.test_client()
    assert client.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).status_code == 303
    return client


def test_a_fast_enquiry_is_held_not_filed_as_spam_and_the_thanks_page_promises_no_copy(client):
    response = client.post("/contact", data=valid_data(name=NAME, email="soren@example.dk", form_token=fast_token()))
    assert response.status_code == 303
    enquiry = db.session.scalar(select(Enquiry))
    assert enquiry.status == Enquiry.HELD and enquiry.spam_reason == "submitted too fast"
    assert outbox_total() == 0  # withheld until the consultant releases it
    thanks = client.get(response.headers["Location"]).text
    assert "copy of what you sent is on its way" not in thanks
    assert "reply within two working days" in thanks
    for giveaway in ("spam", "too fast", "held", "review"):  # nothing tells a bot it was caught
        assert giveaway not in thanks.lower()


def test_a_normal_enquiry_still_promises_the_copy(client):
    response = client.post("/contact", data=valid_data(form_token=issue_form_token("contact", now=time.time() - 5)))
    assert "copy of what you sent is on its way" in client.get(response.headers["Location"]).text
    assert db.session.scalar(select(Enquiry.status)) == Enquiry.NEW and outbox_total() == 2


@pytest.mark.parametrize("trap", [{"website": "http://spam.example"}, {"form_token": "forged.token"}])
def test_clear_spam_stays_spam_even_when_fast(client, trap):
    data = valid_data(form_token=fast_token())
    data.update(trap)
    response = client.post("/contact", data=data)
    assert db.session.scalar(select(Enquiry.status)) == Enquiry.SPAM and outbox_total() == 0
    thanks = client.get(response.headers["Location"]).text
    assert "copy of what you sent is on its way" not in thanks  # spam is never sent a copy either


def test_the_consultant_sees_it_in_the_inbox_and_on_the_dashboard(admin_client):
    held = make_enquiry(name=NAME, status=Enquiry.HELD, spam_reason="submitted too fast")
    make_enquiry(name="Cheap Pills", status=Enquiry.SPAM, spam_reason="honeypot filled")
    inbox = admin_client.get("/admin/enquiries").text
    assert NAME in inbox and "Cheap Pills" not in inbox
    assert "1 enquiry is held for review" in inbox
    assert f'action="/admin/enquiries/{held.id}/release"' in inbox
    assert NAME in admin_client.get("/admin/enquiries?status=held").text
    dashboard = admin_client.get("/admin/").text
    assert "1</span> enquiry held for review" in dashboard
    assert 'href="/admin/enquiries?status=held"' in dashboard
    page = admin_client.get(f"/admin/enquiries/{held.id}").text
    assert "Held for review: nobody has been emailed yet." in page
    assert "Release: send the emails" in page and "Mark as spam" in page


def test_release_sends_the_withheld_copy_and_notification(mail_app, smtp_server):
    client = mail_app.test_client()
    message = "Wir brauchen Hilfe bei der Migration — 200 Standorte, bitte melden Sie sich."
    client.post("/contact", data=valid_data(name=NAME, email=EMAIL, message=message, form_token=fast_token()))
    mailer.deliver_pending()
    assert smtp_server.messages == []
    enquiry_id = db.session.scalar(select(Enquiry.id))

    admin = sign_in(mail_app)
    response = admin.post(f"/admin/enquiries/{enquiry_id}/release", data={"back": "list"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/enquiries?status=held")
    assert "Released to the inbox" in admin.get(response.headers["Location"]).text
    mailer.deliver_pending()
    received = {m["To"].addresses[0].addr_spec: m for m in smtp_server.messages}
    assert set(received) == {mail_app.config["CONSULTANT_EMAIL"], "soren@xn--bcher-kva.example"}
    ack = received["soren@xn--bcher-kva.example"].get_body(("plain",)).get_content()
    assert message in ack and NAME in ack
    db.session.rollback()
    enquiry = db.session.get(Enquiry, enquiry_id)
    assert enquiry.status == Enquiry.NEW and enquiry.spam_reason is None
    assert db.session.scalar(select(AuditLog.action).where(AuditLog.action == "enquiry.release"))

    again = admin.post(f"/admin/enquiries/{enquiry_id}/release", data={}, follow_redirects=True)
    assert "not held for review" in again.text
    assert outbox_total() == 2  # released once, mailed once


def test_release_needs_the_csrf_token(app, admin_client):
    held = make_enquiry(status=Enquiry.HELD, spam_reason="submitted too fast")
    app.config["WTF_CSRF_ENABLED"] = True
    response = admin_client.post(f"/admin/enquiries/{held.id}/release", data={})
    assert response.status_code in (400, 422)
    db.session.rollback()
    assert db.session.get(Enquiry, held.id).status == Enquiry.HELD and outbox_total() == 0


def test_a_held_enquiry_can_be_marked_spam_and_not_moved_along_the_pipeline_unreleased(admin_client):
    held = make_enquiry(status=Enquiry.HELD, spam_reason="submitted too fast")
    won = admin_client.post(f"/admin/enquiries/{held.id}/status", data={"status": "won"}, follow_redirects=True)
    assert "use “Release”" in won.text
    admin_client.post(f"/admin/enquiries/{held.id}/status", data={"status": "spam"})
    db.session.rollback()
    assert db.session.get(Enquiry, held.id).status == Enquiry.SPAM and outbox_total() == 0


def test_a_fast_private_course_request_is_held_and_its_answer_promises_no_email(client):
    course = make_course(title="Kubernetes für Einsteiger")
    data = {"private-name": "Nguyễn Văn A", "private-email": "a@example.vn", "private-preferred_dates": "Tháng Ba",
            "private-attendees": "4", "private-training_format": "online", "private-consent": "y",
            "private-form_token": fast_token("private_training")}
    response = client.post(f"/training/{course.slug}", data=data)
    assert response.status_code == 303
    assert db.session.scalar(select(Enquiry.status)) == Enquiry.HELD and outbox_total() == 0
    page = client.get(response.headers["Location"]).text
    assert "Thank you: your request was sent" in page and "replies within" in page
    assert "You will get an email" not in page
    # In time, the same request is sent on and its answer promises the copy.
    data["private-form_token"] = issue_form_token("private_training", now=time.time() - 60)
    page = client.get(client.post(f"/training/{course.slug}", data=data).headers["Location"]).text
    assert "You will get an email confirming your request" in page and outbox_total() == 2


def test_the_migration_moves_fast_ones_filed_as_spam_to_held(empty_database_url, tmp_path):
    app = make_app(empty_database_url, tmp_path)
    with app.app_context():
        upgrade(revision="0005")
        with db.engine.begin() as conn:
            for n, reason in enumerate(["submitted too fast", "honeypot filled"]):
                conn.execute(text(
                    "INSERT INTO enquiries (kind, status, name, email, company, topic, message, spam_reason, "
                    "preferred_dates, training_format, created_at, updated_at) VALUES ('contact', 'spam', :name, "
                    "'x@example.com', '', '', 'm', :reason, '', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                    {"name": f"P{n}", "reason": reason})
        upgrade()
        with db.engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT spam_reason, status FROM enquiries")).all())
        assert rows == {"submitted too fast": "held", "honeypot filled": "spam"}
        downgrade(revision="0005")
        with db.engine.connect() as conn:
            assert set(conn.execute(text("SELECT status FROM enquiries")).scalars()) == {"spam"}
        downgrade(revision="base")
        db.engine.dispose()
