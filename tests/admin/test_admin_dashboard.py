"""Dashboard, navigation, audit log page, and the protections every admin form shares."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from extensions import db
from models import AuditLog, Booking, Comment, OutboxMessage
from tests.factories import make_booking, make_enquiry, make_post, make_session


def test_dashboard_shows_what_needs_attention(admin_client):
    make_enquiry()
    session = make_session(capacity=10)
    make_booking(session, seats=3)
    make_booking(session, seats=4, status=Booking.CONFIRMED)
    post = make_post()
    db.session.add(Comment(post=post, author_name="R", author_email="r@example.com", body="Hi"))
    db.session.add(OutboxMessage(message_id="<f@x>", to_addr="x@example.com", subject="s", text_body="b",
                                 status=OutboxMessage.FAILED))
    db.session.commit()
    page = admin_client.get("/admin/").text
    assert "1</span> new enquiry" in page
    assert "1</span> pending booking" in page
    assert "1</span> comment awaiting moderation" in page
    assert "1</span> failed email" in page
    assert "7 of 10 seats held, 3 left" in page and '<meter min="0" max="10" value="7"' in page
    assert "admin.login" in page  # recent activity: this sign-in


def test_dashboard_lists_only_upcoming_scheduled_sessions(admin_client):
    make_session(course=None, starts_at=datetime.now(UTC) - timedelta(days=1))
    upcoming = make_session()
    page = admin_client.get("/admin/").text
    assert page.count("seats held") == 1 and f"/admin/sessions/{upcoming.id}" in page


def test_nav_links_every_area_and_signs_out_with_a_post(admin_client):
    page = admin_client.get("/admin/").text
    nav = page[page.index('aria-label="Admin"'):page.index("</nav>", page.index('aria-label="Admin"'))]
    for label in ("Dashboard", "Search", "Enquiries", "Bookings", "Content", "Statistics", "Invoices", "Outbox"):
        assert f">{label}</a>" in nav, label
    assert re.search(r'<form method="post" action="/admin/logout"', nav)
    assert 'aria-current="page">Dashboard' in nav
    # The rest is one step from its section (the bar stays one short row on a phone).
    for where, links in (("/admin/", ("/admin/privacy", "/admin/audit")), ("/admin/content", ("/admin/comments", "/admin/redirects")),
                         ("/admin/sessions", ("/admin/calendar", "/admin/exports"))):
        subnav = admin_client.get(where).text.split('class="subnav"', 1)[1].split("</nav>", 1)[0]
        for link in links:
            assert f'href="{link}"' in subnav, (where, link)


def test_audit_log_lists_and_filters_actions(admin_client, admin_user):
    enquiry = make_enquiry()
    admin_client.post(f"/admin/enquiries/{enquiry.id}/note", data={"body": "note"})
    admin_client.post(f"/admin/enquiries/{enquiry.id}/status", data={"status": "won"})
    page = admin_client.get("/admin/audit").text
    for action in ("admin.login", "enquiry.note", "enquiry.status"):
        assert action in page
    assert "status=won" in page and admin_user.email in page
    filtered = admin_client.get("/admin/audit?action=enquiry.st").text
    assert "enquiry.status" in filtered and "enquiry.note" not in filtered


def test_audit_log_paginates(admin_client, admin_user):
    for n in range(60):
        AuditLog.record(admin_user, f"test.action{n:02d}")
    db.session.commit()
    first = admin_client.get("/admin/audit").text
    assert "test.action59" in first and "test.action00" not in first and 'rel="next"' in first
    assert "test.action00" in admin_client.get("/admin/audit?page=2").text


def test_admin_forms_refuse_posts_without_csrf(app, admin_client):
    enquiry = make_enquiry()
    booking = make_booking()
    app.config["WTF_CSRF_ENABLED"] = True
    for path, data in [
        (f"/admin/enquiries/{enquiry.id}/note", {"body": "x"}),
        (f"/admin/enquiries/{enquiry.id}/reply", {"subject": "Re", "body": "x"}),
        (f"/admin/bookings/{booking.id}/confirm", {}),
        (f"/admin/sessions/{booking.session_id}/cancel", {}),
        ("/admin/privacy/erase", {"email": booking.email, "confirm_email": booking.email}),
        ("/admin/posts/new", {"title": "t", "slug": "t", "status": "draft"}),
    ]:
        assert admin_client.post(path, data=data).status_code == 400, path
    db.session.expire_all()
    assert booking.status == Booking.PENDING and enquiry.messages == []


def test_a_stolen_cookie_from_another_browser_is_refused(app, admin_client):
    """Session protection "strong": the session is bound to the browser's address and user agent."""
    cookie = admin_client.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    response = thief.get("/admin/", headers={"User-Agent": "SomethingElse/1.0"})
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


@pytest.mark.parametrize("path", ["/admin/enquiries", "/admin/comments", "/admin/outbox", "/admin/audit"])
def test_a_page_number_past_any_list_is_an_empty_page_not_an_error(admin_client, path):
    for page in ("99999999999999999999", "9223372036854775807", "-1", "x"):
        assert admin_client.get(f"{path}?page={page}").status_code == 200, page
