"""Attendance per day, certificates of attendance (PDF, email, booking link, verification page)."""
from __future__ import annotations

import base64
from datetime import date

from sqlalchemy import select

from blueprints.training import certificates as ops
from blueprints.training.links import link_token
from extensions import db
from models import Attendance, AuditLog, Booking, Certificate
from models.attendance import day_hours, session_dates
from tests.factories import make_booking, make_course
from tests.training.aftercare import block_session, confirmed, emails, past_session, pdf_text
from tests.training.helpers import run


def test_a_three_day_block_has_three_days_of_eight_hours_across_the_end_of_summer_time(app):
    # Europe/London leaves summer time on Sunday 25 October 2026: 09:00-17:00 local every day all the same.
    session = block_session(date(2026, 10, 24), days=3)
    assert session_dates(session) == [date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)]
    assert day_hours(session) == {date(2026, 10, 24): 8.0, date(2026, 10, 25): 8.0, date(2026, 10, 26): 8.0}
    one = block_session(date(2026, 3, 3), days=1, zone="America/New_York", start=(13, 30), end=(17, 0))
    assert session_dates(one) == [date(2026, 3, 3)] and day_hours(one) == {date(2026, 3, 3): 3.5}
    # Ending at midnight: the evening belongs to the day it started.
    late = block_session(date(2026, 5, 1), days=2, start=(18, 0), end=(0, 0))
    assert session_dates(late) == [date(2026, 5, 1)]


def mark(admin_client, session, *pairs):
    data = {"present": [f"{b.id}:{d.isoformat()}" for b, d in pairs]}
    return admin_client.post(f"/admin/sessions/{session.id}/attendance", data=data)


def test_attendance_is_marked_per_day_and_certificates_go_to_those_who_came(admin_client, app):
    course = make_course(title="Kubernetes für Einsteiger", duration_days=2)
    session = past_session(days=2, course=course)
    days = session_dates(session)
    zoe = confirmed(session, name="Zoë Ångström", email="zoë@bücher.example", company="Nordlicht GmbH")
    absent = confirmed(session, name="محمد الأحمد", email="m@example.org")
    make_booking(session, name="Never Confirmed", status=Booking.PENDING)
    page = admin_client.get(f"/admin/sessions/{session.id}/attendance").text
    assert "Zoë Ångström" in page and "محمد الأحمد" in page and "Never Confirmed" not in page
    assert mark(admin_client, session, (zoe, days[0]), (zoe, days[1])).status_code == 303
    marks = Attendance.for_bookings([zoe.id, absent.id])
    assert marks == {(zoe.id, days[0]): True, (zoe.id, days[1]): True,
                     (absent.id, days[0]): False, (absent.id, days[1]): False}
    mark(admin_client, session, (zoe, days[0]))  # corrected: only the first day
    assert Attendance.attended_days(zoe.id) == [days[0]]
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "attendance.mark").order_by(AuditLog.id.desc())
                             ).detail["present"] == 1

    assert admin_client.post(f"/admin/sessions/{session.id}/certificates").status_code == 303
    (cert,) = db.session.scalars(select(Certificate)).all()
    assert cert.booking_id == zoe.id and cert.days == 1 and cert.minutes == 8 * 60
    assert len(cert.id) >= 22  # 128 random bits
    (mail,) = emails("certificate_issued")
    assert mail.to_addr == "zoë@bücher.example" and mail.html_body and mail.text_body
    assert f"/certificates/{cert.id}" in mail.text_body
    (attachment,) = mail.attachments
    assert attachment["content_type"] == "application/pdf"
    text = pdf_text(base64.b64decode(attachment["data"]))
    for expected in ("Zoë Ångström", "Kubernetes für Einsteiger", "8 hours", app.config["CONSULTANT_NAME"], cert.id):
        assert expected in text, expected
    # Issuing again sends nothing new.
    admin_client.post(f"/admin/sessions/{session.id}/certificates")
    assert len(emails("certificate_issued")) == 1
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "certificate.issue")) is not None


def issued(session=None, **booking):
    session = session or past_session(days=1)
    attendee = confirmed(session, **booking)
    day = session_dates(session)[0]
    run(ops.mark_attendance, session, None, {(attendee.id, day)})
    run(ops.issue_certificates, session, None)
    return db.session.scalar(select(Certificate).where(Certificate.booking_id == attendee.id)), attendee


def test_the_verification_page_shows_the_certificate_and_unknown_ids_are_404(client, app):
    cert, attendee = issued(name="Søren Ølgaard", company="Fjordnet AS")
    page = client.get(f"/certificates/{cert.id}")
    assert page.status_code == 200
    assert "Søren Ølgaard" in page.text and cert.course_title in page.text and cert.hours_label in page.text
    assert app.config["CONSULTANT_NAME"] in page.text
    for unknown in ("A" * 22, cert.id[:-1] + ("x" if cert.id[-1] != "x" else "y"), "short", "../etc", "%00" * 10):
        assert client.get(f"/certificates/{unknown}").status_code == 404


def test_the_pdf_is_downloadable_only_with_the_bookings_token(client):
    cert, attendee = issued(name="Zoë")
    token = link_token(attendee)
    db.session.commit()
    response = client.get(f"/bookings/{token}/certificate.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"].startswith("private") or "no-store" in response.headers["Cache-Control"]
    assert "Zoë" in pdf_text(response.data)
    assert "/certificate.pdf" in client.get(f"/bookings/{token}").text  # linked from the booking page
    assert client.get(f"/bookings/{'x' * 43}/certificate.pdf").status_code == 404
    other = confirmed(past_session(days=1))
    assert client.get(f"/bookings/{link_token(other)}/certificate.pdf").status_code == 404  # has none
    db.session.rollback()


def test_regenerating_after_a_name_correction_keeps_the_verification_id(admin_client):
    cert, attendee = issued(name="Zoe Angstrom")
    original_id = cert.id
    page = admin_client.get(f"/admin/certificates/{cert.id}/regenerate")
    assert page.status_code == 200 and "Zoe Angstrom" in page.text
    assert admin_client.post(f"/admin/certificates/{cert.id}/regenerate", data={"name": "Zoë Ångström"}).status_code == 303
    db.session.expire_all()
    (again,) = db.session.scalars(select(Certificate)).all()
    assert again.id == original_id and again.name == "Zoë Ångström" and again.regenerated_at is not None
    assert "Zoë Ångström" in pdf_text(again.pdf) and "Zoe Angstrom" not in pdf_text(again.pdf)
    assert db.session.get(Booking, attendee.id).name == "Zoë Ångström"
    corrected = emails("certificate_issued")[-1]
    assert "corrected" in corrected.subject.lower()
    assert admin_client.post(f"/admin/certificates/{cert.id}/regenerate", data={"name": "\u200b"}).status_code == 422
    assert admin_client.get("/admin/certificates/nope/regenerate").status_code == 404


def test_attendance_is_refused_before_a_session_begins(admin_client):
    from tests.factories import make_session

    session = make_session()
    attendee = confirmed(session)
    page = admin_client.get(f"/admin/sessions/{session.id}/attendance").text
    assert "once the session has begun" in page
    admin_client.post(f"/admin/sessions/{session.id}/attendance",
                      data={"present": [f"{attendee.id}:{session_dates(session)[0].isoformat()}"]})
    assert Attendance.for_bookings([attendee.id]) == {}
