"""Archive, restore and delete in Chromium at 390 and 1280 px: the confirmation pages, the Archived lists, the 410
page; axe and the HTML checker clean, nothing wider than the screen.

Screenshots: reports/screenshots/archive-<page>-<width>.png.
"""
from __future__ import annotations

import re
import uuid

import pytest

from tests.browser.helpers import WIDTHS, audit_page, log_in, new_context

pytestmark = pytest.mark.browser

SLICE = "archive"


@pytest.fixture(scope="module")
def world(live_server):
    """An article with a comment, a session someone booked, an enquiry: a tag of their own so other tests' rows never match."""
    from extensions import db
    from models import Booking, Comment
    from tests.factories import make_booking, make_course, make_enquiry, make_post, make_session

    tag = uuid.uuid4().hex[:6]
    with live_server.app.app_context():
        post = make_post(slug=f"zero-trust-{tag}", title=f"Zero Trust für Einsteiger {tag}")
        db.session.add(Comment(post=post, author_name="ليلى", author_email="layla@example.com", body="مقال رائع",
                               status=Comment.APPROVED))
        db.session.commit()
        session = make_session(make_course(slug=f"ansible-{tag}", title=f"Ansible avancé {tag}"))
        make_booking(session, name=f"Søren Ølgaard {tag}", status=Booking.CONFIRMED)
        enquiry = make_enquiry(name=f"Siobhán Ní Bhriain {tag}", email=f"siobhan-{tag}@example.ie")
        found = {"tag": tag, "post_id": post.id, "slug": post.slug, "title": post.title, "session_id": session.id,
                 "enquiry_id": enquiry.id}
        db.session.remove()
    return found


@pytest.fixture(params=list(WIDTHS))
def width(request):
    return request.param


@pytest.fixture
def admin_page(browser, live_server, width):
    # The pages have no script of their own; JavaScript is on for axe-core, which runs in the page.
    context = new_context(browser, live_server, width)
    page = context.new_page()
    log_in(page, live_server)
    yield page
    context.close()


def check_page(page, axe, vnu, name: str, width: str) -> None:
    audit_page(page, axe, vnu, name, width, SLICE)


def test_archive_an_article_from_its_editor_and_restore_it_from_the_archived_list(admin_page, world, axe, vnu, width):
    page = admin_page
    page.goto(f"/admin/posts/{world['post_id']}")
    check_page(page, axe, vnu, "post-editor", width)
    page.locator("#archive-heading + p + .actions").get_by_role("button", name=re.compile("^Archive…")).click()
    assert page.get_by_role("heading", level=1).inner_text() == f"Archive “{world['title']}”?"
    facts = page.locator(".danger-zone").inner_text()
    assert "410 Gone" in facts and "1 comment" in facts
    check_page(page, axe, vnu, "confirm-archive", width)
    page.get_by_role("button", name="Yes, archive it").click()
    assert page.url.endswith("/admin/content")
    assert page.get_by_text(f"“{world['title']}” archived.").is_visible()
    assert page.get_by_role("link", name=world["title"]).count() == 0

    public = page.context.new_page()  # the same browser, signed in: the public page answers the same
    response = public.goto(f"/blog/{world['slug']}")
    assert response.status == 410 and public.get_by_role("heading", name="Gone").is_visible()
    check_page(public, axe, vnu, "gone", width)
    public.close()

    page.get_by_role("navigation", name="More content").get_by_role("link", name="Archived").click()
    assert page.get_by_role("heading", name="Archived content").is_visible()
    check_page(page, axe, vnu, "archived-content", width)
    row = page.get_by_role("row").filter(has_text=world["title"])
    row.get_by_role("button", name=re.compile("^Restore")).click()
    assert page.get_by_text(f"“{world['title']}” restored.").is_visible()
    assert page.get_by_role("row").filter(has_text=world["title"]).count() == 0
    assert page.request.get(f"/blog/{world['slug']}").status == 200


def test_a_booked_session_says_why_it_cannot_be_archived(admin_page, world, axe, vnu, width):
    page = admin_page
    page.goto(f"/admin/sessions/{world['session_id']}")
    page.locator("#archive-heading + p + .actions").get_by_role("button", name=re.compile("^Archive…")).click()
    assert "cannot be archived" in page.get_by_role("heading", level=1).inner_text()
    assert "1 booking is active" in page.locator(".danger-zone").inner_text()
    assert page.get_by_role("button", name=re.compile("^Yes")).count() == 0
    check_page(page, axe, vnu, "confirm-blocked", width)
    page.get_by_role("link", name="Go back").click()
    assert page.url.endswith(f"/admin/sessions/{world['session_id']}")


def test_deleting_an_enquiry_says_it_is_the_privacy_erasure(admin_page, world, axe, vnu, width):
    page = admin_page
    page.goto(f"/admin/enquiries/{world['enquiry_id']}")
    page.locator("#archive-heading + p + .actions").get_by_role("button", name=re.compile("^Delete…")).click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Delete (erase)")
    assert "privacy erasure" in page.locator(".danger-zone").inner_text()
    check_page(page, axe, vnu, "confirm-erase", width)
    page.get_by_role("link", name="No, go back").click()
    assert page.url.endswith(f"/admin/enquiries/{world['enquiry_id']}")


def test_an_archived_comment_is_deleted_from_the_archived_list(admin_page, live_server, world, axe, vnu, width):
    from datetime import UTC, datetime

    from extensions import db
    from models import Comment, Post

    author = f"Zoë {width} {world['tag']}"
    with live_server.app.app_context():
        post = db.session.get(Post, world["post_id"])
        db.session.add(Comment(post=post, author_name=author, author_email="zoe@example.com", body="À bientôt",
                               status=Comment.APPROVED, archived_at=datetime.now(UTC)))
        db.session.commit()
        db.session.remove()
    page = admin_page
    page.goto("/admin/comments")
    page.get_by_role("list", name="Comment states").get_by_role("link", name="Archived").click()
    check_page(page, axe, vnu, "archived-comments", width)
    page.get_by_role("row").filter(has_text=author).get_by_role("button", name=re.compile("^Delete…")).click()
    check_page(page, axe, vnu, "confirm-delete", width)
    page.get_by_role("button", name="Yes, delete it").click()
    assert page.get_by_text("deleted.").first.is_visible()
    page.goto("/admin/comments/archived")
    assert page.get_by_role("row").filter(has_text=author).count() == 0
