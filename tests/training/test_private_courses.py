"""Private courses end to end: proposing dates from a request, the client's choice, the private booking link
(registering, capacity, waitlist, revoking), attendees added directly, and the session never public."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from blueprints.training import operations as ops
from blueprints.training import private, schedule
from extensions import db
from models import AuditLog, Booking, Enquiry, OutboxMessage, TrainingSession
from models.proposals import PrivateLink, SessionProposal
from tests.factories import make_admin, make_course, make_enquiry
from tests.training.helpers import run
from web.spam import issue_form_token

LINK = re.compile(r"http://[^\s\"<>]+/training/(proposals|private)/([A-Za-z0-9_-]+)")


def request_for(course, **fields) -> Enquiry:
    return make_enquiry(kind=Enquiry.PRIVATE_TRAINING, topic="training", course_id=course.id, name="Zoë Ångström",
                        email="zoë@bücher.example", company="Bücher & Söhne", preferred_dates="2031-03-10 or later",
                        attendees=3, training_format="online", **fields)


def day(n: int, hour: int = 9) -> datetime:
    return datetime(2031, 3, 10, hour, tzinfo=UTC) + timedelta(days=n)


def mails(template: str) -> list[OutboxMessage]:
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)
                              .order_by(OutboxMessage.id)).all()


def links_in(message: OutboxMessage, kind: str) -> list[str]:
    return [token for k, token in LINK.findall(message.text_body) if k == kind]


def propose_two(admin_client, enquiry, course) -> None:
    response = admin_client.post(f"/admin/enquiries/{enquiry.id}/propose", data={
        "propose-course_id": course.id, "propose-starts_1": "2031-03-10T09:00", "propose-ends_1": "2031-03-12T17:00",
        "propose-starts_2": "2031-03-24T09:00", "propose-ends_2": "2031-03-26T17:00",
        "propose-timezone": "Europe/Berlin", "propose-mode": "online", "propose-location": "",
        "propose-capacity": "3", "propose-message": "Gern auch vor Ort.",
    })
    assert response.status_code == 303, response.text


def test_proposing_dates_makes_hidden_sessions_and_one_email_with_a_link_each(admin_client, client):
    course = make_course(title="Kubernetes", duration_days=3)
    enquiry = request_for(course)
    page = admin_client.get(f"/admin/enquiries/{enquiry.id}").text
    assert f'action="/admin/enquiries/{enquiry.id}/propose"' in page
    assert 'value="2031-03-10T09:00"' in page and 'value="2031-03-12T17:00"' in page  # prefilled: 3 days, 09–17
    propose_two(admin_client, enquiry, course)
    db.session.expire_all()
    assert db.session.get(Enquiry, enquiry.id).status == Enquiry.QUOTED
    sessions = db.session.scalars(select(TrainingSession).where(TrainingSession.enquiry_id == enquiry.id)
                                  .order_by(TrainingSession.starts_at)).all()
    assert len(sessions) == 2 and all(s.is_private for s in sessions)
    assert [len(s.days) for s in sessions] == [3, 3]
    assert sessions[0].days[1].starts_at == datetime(2031, 3, 11, 8, tzinfo=UTC)  # 09:00 Berlin
    message, = mails("private_proposals")
    assert message.to_addr == "zoë@bücher.example" and "Gern auch vor Ort." in message.text_body
    tokens = links_in(message, "proposals")
    assert len(tokens) == 2 and len(set(tokens)) == 2
    assert "Day 3: Wed 12 March 2031, 09:00 CET (UTC+01:00) to 17:00" in message.text_body
    assert message.html_body.count("/training/proposals/") == 2
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "enquiry.propose"))
    assert entry.detail["sessions"] == [s.id for s in sessions]
    # Hidden: not listed, and the public booking page 404s.
    for s in sessions:
        assert client.get(f"/training/sessions/{s.id}/book").status_code == 404
    for url in ("/training", f"/training/{course.slug}", "/sitemap.xml", "/training/calendar.ics"):
        body = client.get(url).get_data(as_text=True)
        assert all(f"/training/sessions/{s.id}/" not in body and f"session-{s.id}@" not in body for s in sessions)


def test_the_client_picks_one_and_the_other_is_withdrawn_and_the_enquiry_won(admin_client, client):
    course = make_course(title="Kubernetes", duration_days=3)
    enquiry = request_for(course)
    propose_two(admin_client, enquiry, course)
    first, second = links_in(mails("private_proposals")[0], "proposals")
    page = client.get(f"/training/proposals/{second}")
    assert page.status_code == 200 and "Choose this date" in page.text
    assert page.headers["Cache-Control"] == "no-store" and "noindex" in page.headers["X-Robots-Tag"]
    response = client.post(f"/training/proposals/{second}")
    assert response.status_code == 303 and "/training/private/" in response.headers["Location"]
    db.session.expire_all()
    chosen = SessionProposal.find_by_token(second)
    other = SessionProposal.find_by_token(first)
    assert chosen.status == SessionProposal.ACCEPTED and other.status == SessionProposal.WITHDRAWN
    assert other.session.status == TrainingSession.CANCELLED and chosen.session.status == TrainingSession.SCHEDULED
    assert db.session.get(Enquiry, enquiry.id).status == Enquiry.WON
    link_mail, = mails("private_link")
    assert link_mail.to_addr == enquiry.email and link_mail.in_reply_to  # threads with the proposals
    token, = links_in(link_mail, "private")
    assert PrivateLink.find_by_token(token).session_id == chosen.session_id
    notice, = mails("private_chosen")
    assert notice.reply_to == enquiry.email
    # Choosing again, or the withdrawn date, changes nothing.
    client.post(f"/training/proposals/{first}")
    client.post(f"/training/proposals/{second}")
    db.session.expire_all()
    assert SessionProposal.find_by_token(first).status == SessionProposal.WITHDRAWN
    assert len(mails("private_link")) == 1
    assert "Another date was chosen" in client.get(f"/training/proposals/{first}").text
    assert client.get("/training/proposals/" + "x" * 43).status_code == 404
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "enquiry.proposal_chosen")) is not None


def register(client, token: str, name: str, email: str, **extra):
    return client.post(f"/training/private/{token}", data={
        "name": name, "email": email, "company": "Bücher & Söhne", "consent": "y",
        "form_token": issue_form_token("private_register"), **extra})


def accepted_link(course, capacity: int = 3) -> tuple[TrainingSession, str]:
    enquiry = request_for(course)
    proposal, = run(private.propose_dates, enquiry, make_admin(), course_id=course.id,
                    ranges=[(day(0), day(2, 17))], timezone="Europe/Berlin", mode="online", location="",
                    capacity=capacity)
    link = run(private.accept_proposal, proposal)
    return link.session, private.link_token(link)


def test_colleagues_register_through_the_link_against_the_capacity_then_the_waitlist(client, app):
    session, token = accepted_link(make_course(duration_days=3), capacity=3)
    names = [("Ada Łukasiewicz", "ada@example.com"), ("محمد علي", "mohammed@example.com"), ("José Núñez", "josé@exämple.com")]
    for name, email in names:
        response = register(client, token, name, email)
        assert response.status_code == 303 and "/bookings/" in response.headers["Location"]
    db.session.expire_all()
    bookings = db.session.scalars(select(Booking).where(Booking.session_id == session.id).order_by(Booking.id)).all()
    assert [b.status for b in bookings] == [Booking.CONFIRMED] * 3 and [b.seats for b in bookings] == [1, 1, 1]
    confirmations = mails("booking_confirmed")
    assert [m.to_addr for m in confirmations] == [e for _, e in names]
    assert all(m.attachments for m in confirmations) and not mails("booking_received")
    # Full: the form offers the waitlist, and a fourth joins it (no invite).
    page = client.get(f"/training/private/{token}")
    assert "All places are taken" in page.text and 'value="waitlist"' in page.text
    refused = register(client, token, "Late Person", "late@example.com", action="book")
    assert refused.status_code == 409
    joined = register(client, token, "Late Person", "late@example.com", action="waitlist")
    assert joined.status_code == 303
    late = db.session.scalar(select(Booking).where(Booking.email == "late@example.com"))
    assert late.status == Booking.WAITLISTED and mails("booking_waitlisted")[0].to_addr == "late@example.com"
    # A cancellation promotes the waitlist as on a public session; the consultant confirms as usual.
    run(ops.cancel_booking, bookings[0], make_admin())
    db.session.expire_all()
    assert db.session.get(Booking, late.id).status == Booking.PENDING
    run(ops.confirm_booking, db.session.get(Booking, late.id), make_admin())
    assert mails("booking_confirmed")[-1].to_addr == "late@example.com"


def test_a_revoked_link_opens_nothing_and_a_new_one_works(admin_client, client):
    session, token = accepted_link(make_course())
    assert client.get(f"/training/private/{token}").status_code == 200
    page = admin_client.get(f"/admin/sessions/{session.id}").text
    assert f"/training/private/{token}" in page
    ask = admin_client.post(f"/admin/sessions/{session.id}/private-link/revoke")
    assert ask.status_code == 200 and "Yes, revoke the link" in ask.text
    assert client.get(f"/training/private/{token}").status_code == 200  # nothing happened yet
    assert admin_client.post(f"/admin/sessions/{session.id}/private-link/revoke", data={"confirm": "1"}).status_code == 303
    assert client.get(f"/training/private/{token}").status_code == 404
    assert register(client, token, "Eve", "eve@example.com").status_code == 404
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "session.private_link_revoke")) is not None
    admin_client.post(f"/admin/sessions/{session.id}/private-link", data={"send": "1"})
    fresh = PrivateLink.live_for(session.id)
    assert fresh is not None and private.link_token(fresh) != token
    assert client.get(f"/training/private/{private.link_token(fresh)}").status_code == 200
    assert links_in(mails("private_link")[-1], "private") == [private.link_token(fresh)]


def test_the_consultant_adds_an_attendee_directly(admin_client):
    session, _ = accepted_link(make_course())
    response = admin_client.post(f"/admin/sessions/{session.id}/attendees", data={
        "attendee-name": "Søren Kierkegaard", "attendee-email": "søren@example.dk", "attendee-company": ""})
    assert response.status_code == 303
    booking = db.session.scalar(select(Booking).where(Booking.email == "søren@example.dk"))
    assert booking.status == Booking.CONFIRMED
    assert mails("booking_confirmed")[-1].to_addr == "søren@example.dk"
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "booking.confirm", AuditLog.target_id == booking.id))
    assert entry.actor_email == "admin@example.com" or entry.actor_id is not None
    assert admin_client.post(f"/admin/sessions/{session.id}/attendees", data={"attendee-name": "", "attendee-email": "x"}).status_code == 422


def test_a_private_session_moves_and_cancels_like_a_public_one(client, app):
    session, token = accepted_link(make_course(), capacity=5)
    register(client, token, "Ada", "ada@example.com")
    new_start = session.starts_at + timedelta(days=7)
    run(schedule.reschedule_session, session, new_start, session.ends_at + timedelta(days=7), make_admin())
    moved, = mails("booking_rescheduled")
    assert moved.to_addr == "ada@example.com" and moved.attachments
    run(schedule.cancel_session, db.session.get(TrainingSession, session.id), make_admin())
    cancelled, = mails("booking_session_cancelled")
    assert cancelled.attachments and b"METHOD:CANCEL" in __import__("base64").b64decode(cancelled.attachments[0]["data"])


def test_scheduling_directly_wins_the_enquiry_and_no_invoice_is_issued_per_seat(admin_client, client):
    course = make_course(price=900, currency="EUR")
    enquiry = request_for(course)
    response = admin_client.post(f"/admin/enquiries/{enquiry.id}/schedule", data={
        "course_id": course.id, "starts_at": "2031-05-05T09:00", "ends_at": "2031-05-05T17:00",
        "timezone": "Europe/London", "mode": "online", "location": "", "capacity": "4"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Enquiry, enquiry.id).status == Enquiry.WON
    session = db.session.scalar(select(TrainingSession).where(TrainingSession.enquiry_id == enquiry.id))
    admin_client.post(f"/admin/sessions/{session.id}/private-link", data={"send": "1"})
    token, = links_in(mails("private_link")[-1], "private")
    register(client, token, "Ada", "ada@example.com")
    from models import Invoice

    assert db.session.scalar(select(Invoice)) is None
    assert mails("booking_confirmed")[-1].to_addr == "ada@example.com"


def test_a_contact_enquiry_cannot_be_proposed_dates(admin_client):
    enquiry = make_enquiry()
    response = admin_client.post(f"/admin/enquiries/{enquiry.id}/propose", data={"propose-course_id": "1"})
    assert response.status_code == 303
    assert db.session.scalar(select(SessionProposal)) is None
