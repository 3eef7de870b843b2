"""The enquiries inbox: filters, thread, replies through the outbox, status, scheduling a private session."""
from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import func, select

from models import AuditLog, Enquiry, EnquiryMessage, OutboxMessage, TrainingSession
from tests.factories import make_course, make_enquiry


def audit(db_session, action):
    return db_session.scalars(select(AuditLog).where(AuditLog.action == action)).all()


def outbox_count(db_session):
    return db_session.scalar(select(func.count()).select_from(OutboxMessage))


def test_inbox_filters_by_status_kind_and_search(admin_client):
    new = make_enquiry(name="Ada Lovelace", email="ada@engines.example")
    won = make_enquiry(name="Grace Hopper", email="grace@navy.example", status=Enquiry.WON)
    spam = make_enquiry(name="Cheap Pills", email="spam@spam.example", status=Enquiry.SPAM, spam_reason="honeypot")
    private = make_enquiry(name="Alan Turing", email="alan@bletchley.example", kind=Enquiry.PRIVATE_TRAINING)

    everything = admin_client.get("/admin/enquiries").text
    assert all(e.name in everything for e in (new, won, private))
    assert spam.name not in everything  # spam stays out of the way unless asked for
    assert spam.name in admin_client.get("/admin/enquiries?status=spam").text

    only_won = admin_client.get("/admin/enquiries?status=won").text
    assert won.name in only_won and new.name not in only_won

    only_private = admin_client.get("/admin/enquiries?kind=private_training").text
    assert private.name in only_private and new.name not in only_private

    by_email = admin_client.get("/admin/enquiries?q=NAVY.example").text
    assert won.name in by_email and new.name not in by_email
    by_name = admin_client.get("/admin/enquiries?q=lovelace").text
    assert new.name in by_name and won.name not in by_name

    # Nonsense filters are ignored, never an error.
    assert admin_client.get("/admin/enquiries?status=bogus&kind=x&page=-3").status_code == 200
    assert admin_client.get("/admin/enquiries?kind=%00").status_code == 404  # NUL in a URL: web/requests.py


def test_inbox_paginates(admin_client):
    for n in range(30):
        make_enquiry(name=f"Person {n:02d}")
    first = admin_client.get("/admin/enquiries").text
    second = admin_client.get("/admin/enquiries?page=2").text
    assert "Page 1 of 2" in first and 'rel="next"' in first
    assert "Person 29" in first and "Person 00" not in first
    assert "Person 00" in second
    assert admin_client.get("/admin/enquiries?page=99").status_code == 200


def test_enquiry_detail_shows_the_full_message(admin_client):
    long_message = "Line one of the brief.\n" + "x" * 3000 + "\nThe last line."
    enquiry = make_enquiry(message=long_message)
    page = admin_client.get(f"/admin/enquiries/{enquiry.id}").text
    assert "The last line." in page and "x" * 3000 in page


def test_unknown_enquiry_is_404(admin_client):
    assert admin_client.get("/admin/enquiries/9999").status_code == 404
    assert admin_client.post("/admin/enquiries/9999/note", data={"body": "x"}).status_code == 404
    assert admin_client.post("/admin/enquiries/9999/reply", data={"subject": "s", "body": "x"}).status_code == 404


def test_internal_note_is_kept_and_audited(admin_client, db_session):
    enquiry = make_enquiry()
    response = admin_client.post(f"/admin/enquiries/{enquiry.id}/note", data={"body": "Called them: budget is Q3."})
    assert response.status_code == 303
    note = db_session.scalar(select(EnquiryMessage).where(EnquiryMessage.enquiry_id == enquiry.id))
    assert note.kind == EnquiryMessage.NOTE and note.body == "Called them: budget is Q3."
    assert outbox_count(db_session) == 0  # a note is never emailed
    assert [e.target_id for e in audit(db_session, "enquiry.note")] == [enquiry.id]
    assert "Called them: budget is Q3." in admin_client.get(f"/admin/enquiries/{enquiry.id}").text


def test_empty_note_shows_an_error_beside_the_field(admin_client, db_session):
    enquiry = make_enquiry()
    response = admin_client.post(f"/admin/enquiries/{enquiry.id}/note", data={"body": ""})
    assert response.status_code == 422
    assert 'id="note-body-error"' in response.text and 'aria-invalid="true"' in response.text
    assert db_session.scalar(select(func.count()).select_from(EnquiryMessage)) == 0


def test_status_change_moves_the_pipeline(admin_client, db_session):
    enquiry = make_enquiry()
    assert admin_client.post(f"/admin/enquiries/{enquiry.id}/status", data={"status": "quoted"}).status_code == 303
    db_session.expire_all()
    assert enquiry.status == Enquiry.QUOTED
    entry = audit(db_session, "enquiry.status")[0]
    assert entry.detail == {"previous": "new", "status": "quoted"}
    # An unknown status changes nothing.
    admin_client.post(f"/admin/enquiries/{enquiry.id}/status", data={"status": "deleted"})
    # The same status again is a stale action: a clear message, no new audit entry.
    response = admin_client.post(f"/admin/enquiries/{enquiry.id}/status", data={"status": "quoted"},
                                 follow_redirects=True)
    assert "already quoted" in response.text
    db_session.expire_all()
    assert enquiry.status == Enquiry.QUOTED
    assert len(audit(db_session, "enquiry.status")) == 1


def test_reply_queues_an_email_and_keeps_the_thread(app, admin_client, db_session):
    enquiry = make_enquiry(name="Ada Lovelace", email="ada@engines.example",
                           message="Can you help with OpenStack?\nWe run 40 hypervisors.")
    page = admin_client.get(f"/admin/enquiries/{enquiry.id}").text
    assert 'value="Re: ' in page  # the subject is prefilled
    response = admin_client.post(f"/admin/enquiries/{enquiry.id}/reply", data={
        "subject": "Re: Your enquiry", "body": "Hello Ada,\n\nYes, happy to. Shall we talk on Tuesday?"})
    assert response.status_code == 303

    message = db_session.scalar(select(OutboxMessage))
    assert message.template == "enquiry_reply"
    assert message.to_addr == "ada@engines.example" and message.to_name == "Ada Lovelace"
    assert message.reply_to == app.config["CONSULTANT_EMAIL"]
    assert message.subject == "Re: Your enquiry"
    assert message.related == f"enquiry:{enquiry.id}"
    assert "Shall we talk on Tuesday?" in message.text_body
    assert "> Can you help with OpenStack?\n> We run 40 hypervisors." in message.text_body
    assert "Shall we talk on Tuesday?" in message.html_body and "<blockquote" in message.html_body

    entry = db_session.scalar(select(EnquiryMessage))
    assert entry.kind == EnquiryMessage.REPLY and entry.outbox_message_id == message.id
    db_session.expire_all()
    assert enquiry.status == Enquiry.REPLIED
    assert audit(db_session, "enquiry.reply")[0].detail == {"outbox_message_id": message.id}


def test_reply_html_is_escaped(admin_client, db_session):
    enquiry = make_enquiry(message="<script>alert(1)</script>")
    admin_client.post(f"/admin/enquiries/{enquiry.id}/reply", data={"subject": "Re: x", "body": "<b>hi</b>"})
    message = db_session.scalar(select(OutboxMessage))
    assert "<script>" not in message.html_body and "<b>hi</b>" not in message.html_body


def test_reply_does_not_move_a_won_enquiry_back(admin_client, db_session):
    enquiry = make_enquiry(status=Enquiry.WON)
    admin_client.post(f"/admin/enquiries/{enquiry.id}/reply", data={"subject": "Re: x", "body": "Thanks!"})
    db_session.expire_all()
    assert enquiry.status == Enquiry.WON


def test_invalid_reply_queues_nothing(admin_client, db_session):
    enquiry = make_enquiry()
    response = admin_client.post(f"/admin/enquiries/{enquiry.id}/reply", data={"subject": "", "body": ""})
    assert response.status_code == 422
    assert 'id="subject-error"' in response.text and 'id="body-error"' in response.text
    assert outbox_count(db_session) == 0
    db_session.expire_all()
    assert enquiry.status == Enquiry.NEW


def test_schedule_a_private_session_from_a_request(admin_client, db_session):
    course = make_course(title="Kubernetes in Practice", duration_days=2)
    enquiry = make_enquiry(kind=Enquiry.PRIVATE_TRAINING, course_id=course.id, attendees=6,
                           preferred_dates="Week of 2027-03-08, or later in March", training_format="on-site")
    page = admin_client.get(f"/admin/enquiries/{enquiry.id}").text
    assert 'value="2027-03-08T09:00"' in page and 'value="2027-03-09T17:00"' in page  # prefilled
    assert 'value="6"' in page
    response = admin_client.post(f"/admin/enquiries/{enquiry.id}/schedule", data={
        "course_id": course.id, "starts_at": "2027-03-08T09:00", "ends_at": "2027-03-09T17:00",
        "timezone": "Europe/Berlin", "mode": "on-site", "location": "Client office, Berlin", "capacity": "6"})
    assert response.status_code == 303
    session = db_session.scalar(select(TrainingSession))
    assert session.is_private and session.enquiry_id == enquiry.id and session.course_id == course.id
    assert session.starts_at == datetime(2027, 3, 8, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert session.ends_at == datetime(2027, 3, 9, 16, 0, tzinfo=UTC)
    assert session.capacity == 6 and session.location == "Client office, Berlin"
    assert audit(db_session, "enquiry.schedule")[0].detail == {"session_id": session.id}
    assert response.headers["Location"] == f"/admin/sessions/{session.id}"
    assert f"/admin/sessions/{session.id}" in admin_client.get(f"/admin/enquiries/{enquiry.id}").text


def test_schedule_form_errors_and_refusals(admin_client, db_session):
    course = make_course()
    enquiry = make_enquiry(kind=Enquiry.PRIVATE_TRAINING, course_id=course.id)
    response = admin_client.post(f"/admin/enquiries/{enquiry.id}/schedule", data={
        "course_id": course.id, "starts_at": "2027-03-08T09:00", "ends_at": "2027-03-08T08:00",
        "timezone": "Mars/Olympus", "mode": "online", "capacity": "0"})
    assert response.status_code == 422
    for field in ("ends_at", "timezone", "capacity"):
        assert f'id="{field}-error"' in response.text
    contact = make_enquiry()
    response = admin_client.post(f"/admin/enquiries/{contact.id}/schedule", data={
        "course_id": course.id, "starts_at": "2027-03-08T09:00", "ends_at": "2027-03-08T17:00",
        "timezone": "UTC", "mode": "online", "capacity": "5"}, follow_redirects=True)
    assert "Only a private-training request" in response.text
    assert db_session.scalar(select(func.count()).select_from(TrainingSession)) == 0


def test_dashboard_counts_what_needs_attention(admin_client):
    make_enquiry()
    make_enquiry()
    make_enquiry(status=Enquiry.SPAM)
    page = admin_client.get("/admin/").text
    assert "2</span> new enquiries" in page
    assert "Recent activity" in page


def test_not_spam_releases_the_withheld_notification(app, admin_client, db_session):
    enquiry = make_enquiry(name="Real Person", email="real@example.com", status=Enquiry.SPAM, spam_reason="too fast")
    assert outbox_count(db_session) == 0
    page = admin_client.get(f"/admin/enquiries/{enquiry.id}").text
    assert "Not spam" in page
    response = admin_client.post(f"/admin/enquiries/{enquiry.id}/not-spam", data={})
    assert response.status_code == 303
    db_session.expire_all()
    assert enquiry.status == Enquiry.NEW and enquiry.spam_reason is None
    messages = db_session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    notification = next(m for m in messages if m.template == "enquiry_notification")
    assert notification.to_addr == app.config["CONSULTANT_EMAIL"] and notification.reply_to == "real@example.com"
    assert f"/admin/enquiries/{enquiry.id}" in notification.text_body
    assert audit(db_session, "enquiry.not_spam")[0].detail == {"spam_reason": "too fast"}
    # Again: stale, nothing more queued.
    again = admin_client.post(f"/admin/enquiries/{enquiry.id}/not-spam", data={}, follow_redirects=True)
    assert "not marked as spam" in again.text
    assert outbox_count(db_session) == len(messages)


def test_the_status_form_offers_only_the_moves_the_enquiry_allows(admin_client):
    quoted = make_enquiry(status=Enquiry.QUOTED)
    page = admin_client.get(f"/admin/enquiries/{quoted.id}").text
    offered = re.findall(r'<option value="([a-z_]+)"', page.split('id="status"', 1)[1].split("</select>", 1)[0])
    assert offered == [s for s in Enquiry.STATUSES if s not in (Enquiry.QUOTED, Enquiry.HELD)]
    assert "Not spam" not in page


def test_a_spam_enquiry_leaves_spam_only_through_not_spam(admin_client, db_session):
    enquiry = make_enquiry(status=Enquiry.SPAM, spam_reason="honeypot")
    page = admin_client.get(f"/admin/enquiries/{enquiry.id}").text
    assert f"/admin/enquiries/{enquiry.id}/status" not in page and "Not spam" in page
    # A forged (or stale) status POST is refused with a clear message; the held-back emails stay unsent.
    response = admin_client.post(f"/admin/enquiries/{enquiry.id}/status", data={"status": "new"},
                                 follow_redirects=True)
    assert "use “Not spam”" in response.text
    db_session.expire_all()
    assert enquiry.status == Enquiry.SPAM and outbox_count(db_session) == 0
    assert audit(db_session, "enquiry.status") == []


def test_an_invalid_status_post_is_a_422_with_the_error_beside_the_field(admin_client, db_session):
    enquiry = make_enquiry()
    response = admin_client.post(f"/admin/enquiries/{enquiry.id}/status", data={"status": "deleted"})
    assert response.status_code == 422 and 'id="status-error"' in response.text
    db_session.expire_all()
    assert enquiry.status == Enquiry.NEW


def test_not_spam_after_marking_spam_by_hand_sends_nothing_twice(admin_client, db_session):
    enquiry = make_enquiry()
    admin_client.post(f"/admin/enquiries/{enquiry.id}/status", data={"status": "spam"})
    page = admin_client.get(f"/admin/enquiries/{enquiry.id}").text
    assert "marked as spam by hand" in page
    response = admin_client.post(f"/admin/enquiries/{enquiry.id}/not-spam", data={}, follow_redirects=True)
    assert "Moved to the inbox." in response.text and "notification email is queued" not in response.text
    db_session.expire_all()
    assert enquiry.status == Enquiry.NEW
    assert outbox_count(db_session) == 0  # its emails went out when it arrived; the client gets no second copy


def test_a_contact_enquiry_offers_no_scheduling(admin_client):
    enquiry = make_enquiry()
    assert f"/admin/enquiries/{enquiry.id}/schedule" not in admin_client.get(f"/admin/enquiries/{enquiry.id}").text

