"""Archive, restore and delete (blueprints/admin/archive.py, models/archive.py), on both databases.

The page cache is on for the whole module: every public page is read once before the change (and so
cached), then again after it, so each test also checks that an archive or a restore reaches cached pages.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from blueprints.training import operations as training_ops
from blueprints.training.ics import session_uid
from extensions import db
from models import (
    AuditLog,
    Booking,
    BusinessDetails,
    Comment,
    Course,
    Enquiry,
    Invoice,
    OutboxMessage,
    Post,
    Redirect,
    Service,
    TrainingSession,
)
from models import archive as archive_rules
from tests.factories import (
    make_booking,
    make_course,
    make_enquiry,
    make_post,
    make_service,
    make_session,
    make_tag,
)


@pytest.fixture
def app_config():
    return {"PAGE_CACHE_SECONDS": 60, "PAGE_CACHE_CHECK_SECONDS": 30}


def confirm(admin_client, url: str):
    """The confirmation page's button; the page it leads to is read too (its notice names the row)."""
    response = admin_client.post(url, data={"confirm": "1"})
    if response.status_code == 303:
        admin_client.get(response.headers["Location"])
    return response


def restore(admin_client, url: str, **data):
    response = admin_client.post(url, data=data)
    admin_client.get(response.headers["Location"])
    return response


def audited(action: str, target_id: int) -> AuditLog | None:
    return db.session.scalar(select(AuditLog).where(AuditLog.action == action, AuditLog.target_id == target_id)
                             .order_by(AuditLog.id.desc()))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- posts ---------------------------------------------------------------------------------------

def test_an_archived_article_leaves_every_public_page_answers_410_and_comes_back(app, client, admin_client):
    tag = make_tag("Sécurité")
    post = make_post(slug="zero-trust-für-alle", title="Zero Trust für alle", tags=[tag])
    db.session.add(Comment(post=post, author_name="Zoë", author_email="zoë@bücher.example", body="Très bien",
                           status=Comment.APPROVED))
    db.session.commit()
    post_id = post.id
    public = ["/", "/blog", "/feed.xml", "/sitemap.xml", f"/blog/tag/{tag.slug}"]
    for url in public:  # cached now
        assert "zero-trust-f" in client.get(url).text, url
    assert client.get("/blog/zero-trust-für-alle").status_code == 200

    page = admin_client.get(f"/admin/posts/{post.id}/archive")
    assert page.status_code == 200
    assert "410 Gone" in page.text and "1 comment" in page.text and "Restore" in page.text
    assert db.session.get(Post, post.id).archived_at is None  # a GET changes nothing
    assert admin_client.post(f"/admin/posts/{post.id}/archive").status_code == 200  # no confirm=1: asks again
    assert db.session.get(Post, post.id).archived_at is None

    response = confirm(admin_client, f"/admin/posts/{post.id}/archive")
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/content")
    db.session.expire_all()
    assert db.session.get(Post, post.id).is_archived
    assert audited("post.archive", post_id) is not None

    gone = client.get("/blog/zero-trust-für-alle")
    assert gone.status_code == 410 and "withdrawn" in gone.text
    for url in public[:4]:
        assert "zero-trust-f" not in client.get(url).text, url
    assert client.get(f"/blog/tag/{tag.slug}").status_code == 404  # its only article is archived
    assert "Zero Trust" not in admin_client.get("/admin/content").text
    archived = admin_client.get("/admin/content/archived").text
    assert "Zero Trust für alle" in archived and f"/admin/posts/{post.id}/restore" in archived
    assert "Archived" in admin_client.get(f"/admin/posts/{post.id}").text

    assert confirm(admin_client, f"/admin/posts/{post.id}/archive").status_code == 303  # twice: a warning, no change
    restored = restore(admin_client, f"/admin/posts/{post.id}/restore", back="list")
    assert restored.status_code == 303 and restored.headers["Location"].endswith("/admin/content/archived")
    assert audited("post.restore", post_id) is not None
    assert client.get("/blog/zero-trust-für-alle").status_code == 200
    assert "Très bien" in client.get("/blog/zero-trust-für-alle").text
    assert "Zero Trust" in client.get("/blog").text


def test_an_archived_draft_answers_404_not_410(app, client, admin_client):
    post = make_post(slug="brouillon", status=Post.DRAFT, published_at=None)
    assert confirm(admin_client, f"/admin/posts/{post.id}/archive").status_code == 303
    assert client.get("/blog/brouillon").status_code == 404  # 410 would tell the world a draft existed


def test_an_archived_article_s_redirects_answer_404_until_it_is_restored(app, client, admin_client):
    post = make_post(slug="old-post")
    db.session.add(Redirect(old_path="/2019/05/old-post", target_type=Redirect.POST, target_id=post.id))
    db.session.commit()
    assert client.get("/2019/05/old-post").status_code == 301
    assert "1 old address" in admin_client.get(f"/admin/posts/{post.id}/archive").text
    confirm(admin_client, f"/admin/posts/{post.id}/archive")
    assert client.get("/2019/05/old-post").status_code == 404
    restore(admin_client, f"/admin/posts/{post.id}/restore")
    assert client.get("/2019/05/old-post").status_code == 301


def test_deleting_an_article_takes_its_comments_tags_redirects_and_the_emails_about_its_comments(app, client, admin_client):
    tag = make_tag("مقالات")
    post = make_post(slug="to-delete", title="À supprimer", tags=[tag])
    comment = Comment(post=post, author_name="عمر", author_email="omar@مثال.example", body="شكرا",
                      status=Comment.APPROVED)
    db.session.add(comment)
    db.session.add(Redirect(old_path="/?p=7", target_type=Redirect.POST, target_id=post.id))
    db.session.flush()
    db.session.add(OutboxMessage(message_id="<c@x>", to_addr="consultant@example.com", reply_to="omar@مثال.example",
                                 subject="New comment by عمر", text_body="شكرا", related=f"comment:{comment.id}"))
    db.session.commit()
    assert client.get("/blog/to-delete").status_code == 200

    page = admin_client.get(f"/admin/posts/{post.id}/delete").text
    assert "1 comment" in page and "مقالات" in page and "1 redirect" in page and "/blog/to-delete answers 404" in page
    assert confirm(admin_client, f"/admin/posts/{post.id}/delete").status_code == 303
    db.session.expire_all()
    assert db.session.scalar(select(Post).where(Post.slug == "to-delete")) is None
    assert count(Comment) == 0 and count(Redirect) == 0
    assert db.session.scalar(select(func.count()).select_from(Post.tags.property.secondary)) == 0
    message = db.session.scalar(select(OutboxMessage))
    assert "عمر" not in message.subject and "omar" not in (message.reply_to or "")
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "post.delete"))
    assert entry.detail["comments"] == 1 and entry.detail["redirects"] == 1 and entry.detail["slug"] == "to-delete"
    assert client.get("/blog/to-delete").status_code == 404
    assert client.get("/?p=7").status_code == 404


# --- services ------------------------------------------------------------------------------------

def test_an_archived_service_answers_410_and_leaves_the_lists_and_the_contact_topics(app, client, admin_client):
    service = make_service(slug="netzwerk", title="Netzwerk & Sicherheit")
    service_id = service.id
    assert "Netzwerk" in client.get("/services").text
    assert 'value="netzwerk"' in client.get("/contact").text
    page = admin_client.get(f"/admin/services/{service.id}/archive").text
    assert "410 Gone" in page and "contact form" in page
    confirm(admin_client, f"/admin/services/{service.id}/archive")
    assert client.get("/services/netzwerk").status_code == 410
    assert "Netzwerk" not in client.get("/services").text
    assert "netzwerk" not in client.get("/").text and "netzwerk" not in client.get("/sitemap.xml").text
    assert 'value="netzwerk"' not in client.get("/contact").text
    assert "Netzwerk" not in admin_client.get("/admin/content").text
    restore(admin_client, f"/admin/services/{service.id}/restore")
    assert client.get("/services/netzwerk").status_code == 200

    confirm(admin_client, f"/admin/services/{service.id}/delete")
    assert db.session.scalar(select(Service).where(Service.slug == "netzwerk")) is None
    assert client.get("/services/netzwerk").status_code == 404
    assert audited("service.delete", service_id) is not None


# --- courses and sessions ------------------------------------------------------------------------

def test_a_session_with_active_bookings_cannot_be_archived_or_deleted_until_it_is_cancelled(app, client, admin_client):
    session = make_session(course=make_course(slug="kubernetes-grundlagen"))
    booking = make_booking(session, name="Jürgen Groß", status=Booking.CONFIRMED)
    session_id = session.id
    for action in ("archive", "delete"):
        page = admin_client.get(f"/admin/sessions/{session.id}/{action}")
        assert page.status_code == 200 and "cannot be" in page.text and "1 booking is active" in page.text
        assert "Yes," not in page.text  # no button to press
        assert confirm(admin_client, f"/admin/sessions/{session.id}/{action}").status_code == 409
    db.session.expire_all()
    assert db.session.get(TrainingSession, session.id).archived_at is None
    # The course is refused for the same reason.
    course_page = admin_client.get(f"/admin/courses/{session.course_id}/archive").text
    assert "cancel that session first" in course_page
    assert confirm(admin_client, f"/admin/courses/{session.course_id}/archive").status_code == 409

    admin_client.post(f"/admin/sessions/{session.id}/cancel", data={"confirm": "1"})
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == Booking.CANCELLED
    assert confirm(admin_client, f"/admin/sessions/{session.id}/archive").status_code == 303
    assert audited("session.archive", session_id) is not None
    assert "Kubernetes" not in admin_client.get("/admin/sessions").text.split("<h2>Sessions</h2>")[-1]
    assert f"/admin/sessions/{session.id}/restore" in admin_client.get("/admin/sessions/archived").text
    assert client.get(f"/training/sessions/{session.id}/book").status_code in (404, 410)


def test_an_archived_session_leaves_the_training_pages_and_its_booking_page_answers_410(app, client, admin_client):
    course = make_course(slug="terraform", title="Terraform")
    session = make_session(course=course)
    other = make_session(course=course, starts_at=session.starts_at + timedelta(days=7))
    assert client.get(f"/training/sessions/{session.id}/book").status_code == 200
    assert f"/training/sessions/{session.id}/book" in client.get("/training/terraform").text
    confirm(admin_client, f"/admin/sessions/{session.id}/archive")
    assert client.get(f"/training/sessions/{session.id}/book").status_code == 410
    for url in ("/training", "/training/terraform", "/"):
        text = client.get(url).text
        assert f"/training/sessions/{session.id}/book" not in text, url
        assert url == "/" or f"/training/sessions/{other.id}/book" in text, url
    feed = client.get("/training/calendar.ics").text.replace("\r\n ", "")
    assert session_uid(other) in feed and session_uid(session) not in feed
    restore(admin_client, f"/admin/sessions/{session.id}/restore")
    assert client.get(f"/training/sessions/{session.id}/book").status_code == 200


def test_an_archived_course_answers_410_and_takes_its_sessions_off_the_site(app, client, admin_client):
    course = make_course(slug="ansible-avancé", title="Ansible avancé")
    session = make_session(course=course)
    post = make_post(course_slugs=["ansible-avancé"])
    assert "Ansible avancé" in client.get(f"/blog/{post.slug}").text
    page = admin_client.get(f"/admin/courses/{course.id}/archive").text
    assert "1 upcoming session" in page and "1 article links" in page
    confirm(admin_client, f"/admin/courses/{course.id}/archive")
    assert client.get("/training/ansible-avancé").status_code == 410
    assert "Ansible avancé" not in client.get("/training").text
    assert f"/training/sessions/{session.id}/book" not in client.get("/").text
    assert client.get(f"/training/sessions/{session.id}/book").status_code == 404
    assert "Ansible avancé" not in client.get(f"/blog/{post.slug}").text
    assert "ansible" not in client.get("/sitemap.xml").text
    assert "Ansible" not in client.get("/training/calendar.ics").text
    restore(admin_client, f"/admin/courses/{course.id}/restore")
    assert client.get("/training/ansible-avancé").status_code == 200


def test_deleting_a_course_takes_its_sessions_and_past_bookings_and_keeps_the_enquiries(app, client, admin_client):
    course = make_course(slug="linux", title="Linux")
    course_id = course.id
    session = make_session(course=course)
    booking = make_booking(session, email="ana@example.com", status=Booking.CANCELLED)
    db.session.add(OutboxMessage(message_id="<b@x>", to_addr="ana@example.com", subject="Your booking, Ana",
                                 text_body="Hi Ana", related=f"booking:{booking.id}"))
    enquiry = make_enquiry(kind=Enquiry.PRIVATE_TRAINING, course_id=course.id)
    page = admin_client.get(f"/admin/courses/{course.id}/delete").text
    assert "1 session" in page and "1 booking" in page and "1 enquiry asked for it" in page
    assert confirm(admin_client, f"/admin/courses/{course.id}/delete").status_code == 303
    db.session.expire_all()
    assert db.session.get(Course, course_id) is None and count(TrainingSession) == 0 and count(Booking) == 0
    assert db.session.get(Enquiry, enquiry.id).course_id is None
    assert "Ana" not in db.session.scalar(select(OutboxMessage)).subject
    assert audited("course.delete", course_id).detail["bookings"] == 1
    assert client.get("/training/linux").status_code == 404


@pytest.fixture
def invoiced_session(app):
    """A priced session that is over, with a confirmed booking that was invoiced."""
    db.session.add(BusinessDetails(id=1, legal_name="Tribe Consulting Ltd", address="1 Rue de l'Église\nGenève",
                                   country="DE", vat_id="DE136695976", iban="DE89370400440532013000",
                                   default_tax_rate=Decimal("19")))
    db.session.commit()
    session = make_session(course=make_course(price=900, currency="EUR"))
    booking = make_booking(session, name="Åsa Öberg", billing_address="Storgatan 1\nStockholm")
    training_ops.confirm_booking(booking, None)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 1
    past = datetime.now(timezone.utc) - timedelta(days=30)
    session.starts_at, session.ends_at = past, past + timedelta(hours=8)
    db.session.commit()
    return session


def test_nothing_an_invoice_refers_to_can_be_deleted_but_it_can_be_archived(app, admin_client, invoiced_session):
    session = invoiced_session
    assert session.bookings_in_the_way() == []  # the training is over: its confirmed booking is history
    for url in (f"/admin/sessions/{session.id}/delete", f"/admin/courses/{session.course_id}/delete"):
        page = admin_client.get(url)
        assert "1 invoice refers to its bookings" in page.text and "archive it instead" in page.text
        assert confirm(admin_client, url).status_code == 409
    db.session.expire_all()
    assert db.session.get(TrainingSession, session.id) is not None and count(Booking) == 1
    assert db.session.scalar(select(Invoice.booking_id)) is not None
    assert confirm(admin_client, f"/admin/sessions/{session.id}/archive").status_code == 303
    assert confirm(admin_client, f"/admin/courses/{session.course_id}/archive").status_code == 303


def test_the_keepers_are_the_one_rule(app, invoiced_session, monkeypatch):
    """Deletion is blocked by exactly what KEEPERS lists (a certificates line would block it the same way)."""
    session = db.session.get(TrainingSession, invoiced_session.id)
    assert session.blocked_by("delete") and not session.can_delete()
    assert session.blocked_by("archive") == []
    monkeypatch.setattr(archive_rules, "KEEPERS", ())
    assert session.blocked_by("delete") == [] and session.course.can_delete()
    twice = (archive_rules.Keeper("invoice", "invoices", "it is kept", "models.invoices:Invoice.booking_id"),) * 2
    monkeypatch.setattr(archive_rules, "KEEPERS", twice)
    assert len(session.blocked_by("delete")) == 2


def test_deleting_a_session_takes_its_past_bookings(app, client, admin_client):
    session = make_session()
    session_id = session.id
    make_booking(session, status=Booking.DECLINED)
    make_booking(session, status=Booking.EXPIRED)
    assert "2 bookings" in admin_client.get(f"/admin/sessions/{session.id}/delete").text
    assert confirm(admin_client, f"/admin/sessions/{session.id}/delete").status_code == 303
    assert count(Booking) == 0 and db.session.get(TrainingSession, session_id) is None
    assert client.get(f"/training/sessions/{session_id}/book").status_code == 404
    assert audited("session.delete", session_id).detail["bookings"] == 2


# --- comments ------------------------------------------------------------------------------------

def test_comments_are_archived_restored_and_deleted_replies_staying(app, client, admin_client):
    post = make_post(slug="comments-here")
    parent = Comment(post=post, author_name="Ngozi", author_email="ngozi@example.ng", body="First!",
                     status=Comment.APPROVED)
    db.session.add(parent)
    db.session.flush()
    reply = Comment(post=post, parent_id=parent.id, author_name="李雷", author_email="li@例子.example",
                    body="回复", status=Comment.APPROVED)
    db.session.add(reply)
    db.session.commit()
    parent_id, reply_id = parent.id, reply.id
    assert "First!" in client.get("/blog/comments-here").text
    assert f"/admin/comments/{parent.id}/archive" in admin_client.get("/admin/comments?status=approved").text
    confirm(admin_client, f"/admin/comments/{parent.id}/archive")
    assert "First!" not in client.get("/blog/comments-here").text and "回复" in client.get("/blog/comments-here").text
    assert "First!" not in admin_client.get("/admin/comments?status=approved").text
    assert "First!" in admin_client.get("/admin/comments/archived").text
    restore(admin_client, f"/admin/comments/{parent.id}/restore")
    assert "First!" in client.get("/blog/comments-here").text

    assert "1 reply to it stays" in admin_client.get(f"/admin/comments/{parent.id}/delete").text
    confirm(admin_client, f"/admin/comments/{parent.id}/delete")
    db.session.expire_all()
    assert db.session.get(Comment, parent_id) is None and db.session.get(Comment, reply_id).parent_id is None
    entry = audited("comment.delete", parent_id)
    assert "Ngozi" not in str(entry.detail)  # the log names no person


# --- enquiries -----------------------------------------------------------------------------------

def test_an_archived_enquiry_leaves_the_inbox_and_comes_back(app, admin_client):
    enquiry = make_enquiry(name="Siobhán Ní Bhriain", email="siobhan@example.ie")
    enquiry_id = enquiry.id
    assert "Siobhán" in admin_client.get("/admin/enquiries").text
    confirm(admin_client, f"/admin/enquiries/{enquiry.id}/archive")
    assert "Siobhán" not in admin_client.get("/admin/enquiries").text
    assert "Siobhán" in admin_client.get("/admin/enquiries/archived").text
    assert audited("enquiry.archive", enquiry_id) is not None
    restore(admin_client, f"/admin/enquiries/{enquiry.id}/restore")
    assert "Siobhán" in admin_client.get("/admin/enquiries").text


def test_deleting_an_enquiry_is_the_privacy_erasure(app, admin_client):
    email = "mónica.díaz@example.es"
    enquiry = make_enquiry(name="Mónica Díaz", email=email, message="Necesitamos ayuda")
    enquiry_id = enquiry.id
    booking = make_booking(name="Mónica Díaz", email=email)
    other = make_enquiry(name="Someone Else", email="else@example.com")
    page = admin_client.get(f"/admin/enquiries/{enquiry.id}/delete").text
    assert "privacy erasure" in page and "1 enquiry, 1 booking" in page
    assert confirm(admin_client, f"/admin/enquiries/{enquiry.id}/delete").status_code == 303
    db.session.expire_all()
    erased = db.session.get(Enquiry, enquiry.id)
    assert erased.is_erased and erased.is_archived and "Necesitamos" not in erased.message
    assert db.session.get(Booking, booking.id).email.endswith("@erased.invalid")
    assert db.session.get(Enquiry, other.id).name == "Someone Else"
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "privacy.erase")) is not None
    assert audited("enquiry.delete", enquiry_id).detail["erased"]["enquiries"] == 1
    # Nothing is left to erase: the page says so and the POST is refused.
    assert "already erased" in admin_client.get(f"/admin/enquiries/{enquiry.id}/delete").text
    assert confirm(admin_client, f"/admin/enquiries/{enquiry.id}/delete").status_code == 409


# --- the screens ---------------------------------------------------------------------------------

def test_every_entry_point_and_list_is_in_its_section(app, admin_client):
    post, service, course = make_post(), make_service(), make_course()
    session, enquiry = make_session(course=course), make_enquiry()
    pages = {
        f"/admin/posts/{post.id}": ("Content", f"/admin/posts/{post.id}/archive"),
        f"/admin/services/{service.id}": ("Content", f"/admin/services/{service.id}/delete"),
        f"/admin/courses/{course.id}": ("Content", f"/admin/courses/{course.id}/archive"),
        "/admin/content": ("Content", "/admin/content/archived"),
        f"/admin/sessions/{session.id}": ("Bookings", f"/admin/sessions/{session.id}/archive"),
        "/admin/sessions": ("Bookings", "/admin/sessions/archived"),
        f"/admin/enquiries/{enquiry.id}": ("Enquiries", f"/admin/enquiries/{enquiry.id}/delete"),
        "/admin/enquiries": ("Enquiries", "/admin/enquiries/archived"),
        "/admin/comments": ("Content", "/admin/comments/archived"),
        f"/admin/posts/{post.id}/delete": ("Content", ""),
        "/admin/sessions/archived": ("Bookings", ""),
        "/admin/enquiries/archived": ("Enquiries", ""),
    }
    for url, (section, link) in pages.items():
        html = admin_client.get(url).text
        assert f'aria-current="page">{section}</a>' in html, url
        assert link in html, url


def test_unknown_rows_and_wrong_methods(app, admin_client, client):
    assert admin_client.get("/admin/posts/987654/archive").status_code == 404
    assert admin_client.post("/admin/enquiries/987654/delete", data={"confirm": "1"}).status_code == 404
    assert admin_client.get(f"/admin/posts/{make_post().id}/restore").status_code == 405
    assert client.get("/admin/content/archived").status_code in (302, 303)  # signed-in only


def test_a_booking_taken_after_the_confirmation_page_was_shown_stops_the_archive(app, client, admin_client):
    session = make_session()
    assert "Yes, archive it" in admin_client.get(f"/admin/sessions/{session.id}/archive").text
    make_booking(session, name="Late Booker")  # someone books meanwhile
    assert confirm(admin_client, f"/admin/sessions/{session.id}/archive").status_code == 409
    db.session.expire_all()
    assert not db.session.get(TrainingSession, session.id).is_archived
    assert client.get(f"/training/sessions/{session.id}/book").status_code == 200


def test_an_archived_course_is_offered_only_to_the_sessions_it_already_has(app, admin_client):
    course = make_course(title="Vieux cours")
    session = make_session(course=course)
    course.archived_at = datetime.now(timezone.utc)
    db.session.commit()
    assert "Vieux cours" not in admin_client.get("/admin/sessions/new").text
    assert "Vieux cours" in admin_client.get(f"/admin/sessions/{session.id}/edit").text
