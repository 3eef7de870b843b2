"""Interest lists: double opt-in, the announcement when a session is scheduled, RFC 8058 one-click unsubscribe."""
from __future__ import annotations

import urllib.request
from datetime import timedelta
from email import message_from_bytes, policy

from sqlalchemy import func, select

from blueprints.training import interest as ops
from extensions import db
from mail import delivery as mailer
from models import AuditLog, InterestEntry, OutboxMessage
from tests.factories import make_course, make_session
from tests.training.aftercare import emails
from tests.training.helpers import serving
from web.spam import issue_form_token

IDN = "zoë@bücher.example"


def ask(client, slug: str, email: str = IDN, **extra):
    data = {"interest-email": email, "interest-consent": "y", "interest-form_token": issue_form_token("interest"),
            "interest-website": "", **extra}
    return client.post(f"/training/{slug}/interest", data=data)


def entry(email_key: str = "zoë@xn--bcher-kva.example") -> InterestEntry | None:
    db.session.expire_all()
    return db.session.scalar(select(InterestEntry).where(InterestEntry.email_key == email_key))


def confirm(client, item: InterestEntry) -> None:
    token = ops.entry_token(item)
    db.session.commit()
    page = client.get(f"/interest/{token}/confirm")
    assert page.status_code == 200 and "Yes, add me to the list" in page.text  # a GET confirms nothing
    assert entry(item.email_key).status == InterestEntry.PENDING
    assert client.post(f"/interest/{token}/confirm").status_code == 200


def schedule(admin_client, course, days: int = 30, **extra) -> int:
    from datetime import UTC, datetime

    starts = (datetime.now(UTC) + timedelta(days=days)).astimezone().strftime("%Y-%m-%dT09:00")
    ends = (datetime.now(UTC) + timedelta(days=days)).astimezone().strftime("%Y-%m-%dT17:00")
    data = {"course_id": str(course.id), "starts_at": starts, "ends_at": ends, "timezone": "Europe/London",
            "mode": "online", "location": "", "capacity": "10", "max_seats_per_booking": "4", **extra}
    response = admin_client.post("/admin/sessions/new", data=data)
    assert response.status_code == 303, response.text
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])


def test_the_course_page_offers_the_form_and_opting_in_needs_the_confirmation(client, admin_client):
    course = make_course(slug="ceph", title="Ceph")
    page = client.get("/training/ceph").text
    assert 'action="/training/ceph/interest"' in page and "Tell me" in page
    response = ask(client, "ceph")
    assert response.status_code == 303 and response.headers["Location"].endswith("/training/ceph/interest/sent")
    item = entry()
    assert item.status == InterestEntry.PENDING and item.email == IDN
    (mail,) = emails("interest_confirm")
    assert mail.to_addr == IDN and "/confirm" in mail.text_body and mail.html_body and mail.list_unsubscribe
    # Unconfirmed: a new session does not reach it.
    schedule(admin_client, course)
    assert emails("interest_announcement") == []

    confirm(client, item)
    assert entry().status == InterestEntry.CONFIRMED
    session_id = schedule(admin_client, course, days=40)
    (announcement,) = emails("interest_announcement")
    assert announcement.to_addr == IDN and f"/training/sessions/{session_id}/book" in announcement.text_body
    assert f"/training/sessions/{session_id}/book" in announcement.html_body
    assert announcement.list_unsubscribe.endswith("/unsubscribe")
    # A private session is announced to nobody.
    private = make_session(course, is_private=True)
    assert ops.announce_session(private) == 0
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"interest.request", "interest.confirm", "interest.announce"} <= actions
    counts = admin_client.get("/admin/interest").text
    assert "Ceph" in counts and "<td data-label=\"Confirmed\">1</td>" in counts


def test_one_click_unsubscribe_works_with_a_real_post_as_a_mail_provider_sends_it(mail_app, smtp_server):
    app, client = mail_app, mail_app.test_client()
    course = make_course(slug="k8s", title="Kubernetes")
    ask(client, "k8s", email="ångström@example.se")
    item = entry("ångström@example.se")
    confirm(client, item)
    run_announcement(course)

    # The header as delivered, read back from what the SMTP server received.
    assert mailer.deliver_pending().sent == 2
    received = [message_from_bytes(m if isinstance(m, bytes) else m.as_bytes(), policy=policy.default)
                for m in smtp_server.messages]
    for message in received:
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = received[-1]["List-Unsubscribe"].strip().strip("<>")
    assert url.startswith("http") and url.endswith("/unsubscribe")

    app.config["WTF_CSRF_ENABLED"] = True  # as in production: the provider's POST carries no CSRF token
    path = url.split("/", 3)[3]
    with serving(app) as base:
        request = urllib.request.Request(f"{base}/{path}", data=b"List-Unsubscribe=One-Click", method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  (loopback)
            assert response.status == 200
        assert entry("ångström@example.se").status == InterestEntry.UNSUBSCRIBED
        with urllib.request.urlopen(f"{base}/{path}", timeout=30) as response:  # noqa: S310
            assert "You are unsubscribed" in response.read().decode()
    app.config["WTF_CSRF_ENABLED"] = False
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "interest.unsubscribe")).detail["how"] == "one-click"

    # Asking again changes nothing and sends nothing; a new session does not reach it either.
    before = db.session.scalar(select(func.count(OutboxMessage.id)))
    assert ask(client, "k8s", email="Ångström@EXAMPLE.se").status_code == 303
    assert entry("ångström@example.se").status == InterestEntry.UNSUBSCRIBED
    run_announcement(course, days=60)
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == before


def run_announcement(course, days: int = 30) -> int:
    from datetime import UTC, datetime

    session = make_session(course, starts_at=datetime.now(UTC).replace(microsecond=0) + timedelta(days=days))
    count = ops.announce_session(session)
    assert ops.announce_session(session) == 0  # once per session
    db.session.commit()
    return count


def test_resubmitting_keeps_a_confirmed_entry_and_a_pending_one_lapses_after_a_week(client):
    from models.base import utcnow

    course = make_course(slug="linux", title="Linux")
    ask(client, "linux", email="ana@example.com")
    item = entry("ana@example.com")
    confirm(client, item)
    ask(client, "linux", email="ana@example.com")
    assert entry("ana@example.com").status == InterestEntry.CONFIRMED
    assert len(emails("interest_confirm", to="ana@example.com")) == 1

    ask(client, "linux", email="late@example.com")
    late = entry("late@example.com")
    late.asked_at = utcnow() - timedelta(days=8)
    db.session.commit()
    token = ops.entry_token(late)
    db.session.commit()
    assert "This link has expired" in client.get(f"/interest/{token}/confirm").text
    client.post(f"/interest/{token}/confirm")
    assert entry("late@example.com").status == InterestEntry.PENDING
    assert run_announcement(course) == 1  # only ana
    assert ops.expire_interest() == 1
    db.session.commit()
    assert entry("late@example.com") is None and entry("ana@example.com") is not None
    assert client.get(f"/interest/{token}/confirm").status_code == 404


def test_bad_input_is_a_form_error_and_bots_store_nothing(client):
    make_course(slug="sdn", title="SDN")
    assert ask(client, "sdn", email="not an address").status_code == 422
    assert ask(client, "sdn", **{"interest-consent": ""}).status_code == 422
    assert ask(client, "sdn", **{"interest-website": "http://spam.example"}).status_code == 303
    assert db.session.scalar(select(func.count(InterestEntry.id))) == 0
    assert client.post("/training/nope/interest", data={}).status_code == 404
    assert client.get("/interest/short/confirm").status_code == 404
    assert client.post(f"/interest/{'z' * 43}/unsubscribe", data={"List-Unsubscribe": "One-Click"}).status_code == 404
