"""Privacy requests: find everything about an address, export it, erase it everywhere."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from extensions import db
from mail.compose import queue_email
from models import AuditLog, Booking, Comment, Enquiry, EnquiryMessage, OutboxMessage
from tests.factories import make_booking, make_enquiry, make_post, make_session

PERSON = "Jane.Doe@Example.com"
OTHER = "someone.else@example.com"


def seed_person(app):
    """Jane has an enquiry with a thread, a booking, a comment and emails; someone else has the same kinds."""
    enquiry = make_enquiry(name="Jane Doe", email=PERSON, company="Doe Industries", message="Jane's secret plan")
    db.session.add(EnquiryMessage(enquiry=enquiry, kind="note", body="Jane prefers mornings"))
    session = make_session(capacity=10)
    booking = make_booking(session, name="Jane Doe", email="jane.doe@example.com", company="Doe Industries",
                           seats=3, notes="Vegetarian lunch")
    post = make_post()
    comment = Comment(post=post, author_name="Jane Doe", author_email=PERSON, body="Great article, Jane here")
    db.session.add(comment)
    # An email to her, and the consultant's notification about her (Reply-To her address).
    queue_email("enquiry_reply", to="jane.doe@example.com", to_name="Jane Doe", enquiry=enquiry,
                subject="Re: plan", body="Hi Jane", quoted="> Jane's secret plan")
    notification = queue_email("enquiry_reply", to=app.config["CONSULTANT_EMAIL"], reply_to=PERSON,
                               reply_to_name="Jane Doe", enquiry=enquiry, subject="New enquiry from Jane Doe",
                               body="Jane Doe wrote", quoted="")
    # A message about her booking sent to the consultant without her address in any header.
    db.session.add(OutboxMessage(message_id="<about-jane@x>", to_addr="consultant@example.com", subject="Jane Doe booked",
                                 text_body="Jane Doe booked 3 seats", related=f"booking:{booking.id}"))
    other_enquiry = make_enquiry(name="Other Person", email=OTHER, message="Unrelated")
    make_booking(session, name="Other Person", email=OTHER, seats=2)
    db.session.add(Comment(post=post, author_name="Other Person", author_email=OTHER, body="Other comment"))
    queue_email("enquiry_reply", to=OTHER, to_name="Other Person", enquiry=other_enquiry, subject="Re: other",
                body="Hi other", quoted="")
    db.session.commit()
    return {"enquiry": enquiry, "booking": booking, "comment": comment, "notification": notification,
            "session": session}


def test_search_finds_everything_about_the_address(app, admin_client):
    seed_person(app)
    page = admin_client.post("/admin/privacy", data={"email": "JANE.doe@example.com"}).text
    assert "Enquiries (1)" in page and "Bookings (1)" in page and "Comments (1)" in page and "Emails (3)" in page
    assert "Other Person" not in page
    assert admin_client.post("/admin/privacy", data={"email": "not an address"}).status_code == 422
    assert "Nothing is stored" in admin_client.post("/admin/privacy", data={"email": "nobody@example.com"}).text


def test_export_contains_the_person_and_nothing_else(app, admin_client, db_session):
    seed_person(app)
    response = admin_client.post("/admin/privacy/export", data={"email": "jane.doe@example.com"})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.data)
    assert set(data) == {"email", "exported_at", "enquiries", "bookings", "comments", "invoices", "emails"}
    assert [e["message"] for e in data["enquiries"]] == ["Jane's secret plan"]
    assert [m["body"] for m in data["enquiries"][0]["messages"]] == ["Jane prefers mornings"]
    assert [(b["seats"], b["notes"]) for b in data["bookings"]] == [(3, "Vegetarian lunch")]
    assert [c["body"] for c in data["comments"]] == ["Great article, Jane here"]
    assert len(data["emails"]) == 3
    text = response.get_data(as_text=True)
    assert "Other Person" not in text and OTHER not in text and "Unrelated" not in text
    assert "token" not in text and "message_id" not in text and "spam_reason" not in text
    entry = db_session.scalar(select(AuditLog).where(AuditLog.action == "privacy.export"))
    assert entry.detail["enquiries"] == 1 and "jane" not in json.dumps(entry.detail).lower()


def test_erase_needs_confirmation(app, admin_client, db_session):
    rows = seed_person(app)
    page = admin_client.post("/admin/privacy/erase", data={"email": "jane.doe@example.com"})
    assert page.status_code == 200 and "Type the address again" in page.text
    wrong = admin_client.post("/admin/privacy/erase", data={"email": "jane.doe@example.com",
                                                            "confirm_email": "jane@example.com"})
    assert wrong.status_code == 422 and 'id="confirm_email-error"' in wrong.text
    db_session.expire_all()
    assert rows["enquiry"].name == "Jane Doe"
    assert db_session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "privacy.erase")) == 0


def test_erase_removes_the_person_everywhere_and_keeps_counts(app, admin_client, db_session):
    rows = seed_person(app)
    before = {m: db_session.scalar(select(func.count()).select_from(m))
              for m in (Enquiry, EnquiryMessage, Booking, Comment, OutboxMessage)}
    response = admin_client.post("/admin/privacy/erase", data={"email": "jane.doe@example.com",
                                                                "confirm_email": "Jane.Doe@example.com"})
    assert response.status_code == 200 and "Erased: 1 enquiry, 1 booking, 1 comment, 3 emails" in response.text
    db_session.expire_all()
    after = {m: db_session.scalar(select(func.count()).select_from(m)) for m in before}
    assert after == before  # rows kept: seat counts and totals unchanged
    assert rows["booking"].seats == 3 and rows["booking"].status == Booking.PENDING

    # Nothing anywhere in the database still mentions her.
    for model, columns in {
        Enquiry: ("name", "email", "company", "message", "preferred_dates"),
        EnquiryMessage: ("body",),
        Booking: ("name", "email", "company", "notes"),
        Comment: ("author_name", "author_email", "body"),
        OutboxMessage: ("to_addr", "to_name", "reply_to", "reply_to_name", "subject", "text_body", "html_body"),
    }.items():
        for row in db_session.scalars(select(model)):
            for column in columns:
                value = (getattr(row, column) or "").lower()
                assert "jane" not in value and "doe industries" not in value and "vegetarian" not in value, (
                    model.__name__, column, value)

    # Someone else's data is untouched.
    other = db_session.scalar(select(Enquiry).where(Enquiry.email == OTHER))
    assert other.name == "Other Person" and other.message == "Unrelated"
    assert db_session.scalar(select(Comment).where(Comment.author_email == OTHER)).body == "Other comment"
    assert db_session.scalar(select(OutboxMessage).where(OutboxMessage.to_addr == OTHER)).text_body.startswith("Hi other")

    entry = db_session.scalar(select(AuditLog).where(AuditLog.action == "privacy.erase"))
    assert entry.detail["enquiries"] == 1 and entry.detail["outbox"] == 3
    assert "jane" not in json.dumps(entry.detail).lower()
    # A new search finds nothing.
    assert "Nothing is stored" in admin_client.post("/admin/privacy", data={"email": PERSON}).text
