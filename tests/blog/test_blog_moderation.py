"""The consultant's comment moderation queue: approve, reject, spam; POST + CSRF; audited; stale clicks change nothing."""
from __future__ import annotations

import re

import pytest
from flask import g
from sqlalchemy import select

from extensions import db
from models import AuditLog, Comment
from tests.factories import make_post


def make_comment(post=None, **fields) -> Comment:
    post = post or make_post()
    defaults = dict(post=post, author_name="Ada Reader", author_email="ada@example.com",
                    body="First line\nSecond <b>line</b>", status=Comment.PENDING)
    comment = Comment(**{**defaults, **fields})
    db.session.add(comment)
    db.session.commit()
    return comment


def reload(comment) -> Comment:
    db.session.expire_all()
    return db.session.get(Comment, comment.id)


def test_the_queue_needs_a_signed_in_consultant(client, app):
    make_comment()
    response = client.get("/admin/comments")
    assert response.status_code in (302, 303, 401)
    assert client.post("/admin/comments/1/approve", data={"seen": "pending"}).status_code in (302, 303, 401)
    assert reload(db.session.scalars(select(Comment)).one()).status == Comment.PENDING


def test_the_queue_lists_pending_comments_escaped_with_email_and_counts(admin_client, app):
    pending = make_comment(author_name="<i>Ada</i>")
    make_comment(status=Comment.SPAM, body="Buy pills", spam_reason="honeypot filled")
    html = admin_client.get("/admin/comments").get_data(as_text=True)
    assert "First line<br>Second &lt;b&gt;line&lt;/b&gt;" in html
    assert "&lt;i&gt;Ada&lt;/i&gt;" in html and "ada@example.com" in html
    assert "Buy pills" not in html  # spam is on its own tab
    assert f'/admin/comments/{pending.id}/approve' in html and f'/admin/comments/{pending.id}/spam' in html
    assert re.search(r'Pending <span class="count">1</span>', html) and re.search(r'Spam <span class="count">1</span>', html)
    spam_tab = admin_client.get("/admin/comments?status=spam").get_data(as_text=True)
    assert "Buy pills" in spam_tab and "honeypot filled" in spam_tab
    assert admin_client.get("/admin/comments?status=bogus&page=x").status_code == 200


def test_approving_shows_the_comment_on_the_post_and_is_audited(admin_client, client, app, admin_user):
    post = make_post()
    comment = make_comment(post)
    assert "First line" not in client.get(f"/blog/{post.slug}").get_data(as_text=True)
    response = admin_client.post(f"/admin/comments/{comment.id}/approve", data={"seen": "pending"})
    assert response.status_code == 303 and "/admin/comments" in response.headers["Location"]
    comment = reload(comment)
    assert comment.status == Comment.APPROVED and comment.moderated_by_id == admin_user.id
    assert comment.moderated_at is not None
    page = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert "First line<br>Second &lt;b&gt;line&lt;/b&gt;" in page
    assert "ada@example.com" not in page
    [entry] = db.session.scalars(select(AuditLog).where(AuditLog.action == "comment.approve")).all()
    assert entry.actor_id == admin_user.id and entry.target_type == "Comment" and entry.target_id == comment.id
    assert entry.detail["previous"] == "pending"


@pytest.mark.parametrize(("action", "status"), [("reject", Comment.REJECTED), ("spam", Comment.SPAM)])
def test_reject_and_spam_hide_an_approved_comment(admin_client, client, app, action, status):
    post = make_post()
    comment = make_comment(post, status=Comment.APPROVED)
    assert "First line" in client.get(f"/blog/{post.slug}").get_data(as_text=True)
    admin_client.post(f"/admin/comments/{comment.id}/{action}", data={"seen": "approved"})
    assert reload(comment).status == status
    assert "First line" not in client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == f"comment.{action}")) is not None


def test_a_stale_action_changes_nothing_and_says_so(admin_client, app):
    comment = make_comment(status=Comment.REJECTED)  # someone rejected it in another tab
    response = admin_client.post(f"/admin/comments/{comment.id}/approve", data={"seen": "pending"}, follow_redirects=True)
    assert "already marked rejected" in response.get_data(as_text=True)
    assert reload(comment).status == Comment.REJECTED
    assert db.session.scalar(select(AuditLog).where(AuditLog.action.startswith("comment."))) is None
    again = admin_client.post(f"/admin/comments/{comment.id}/reject", data={"seen": "rejected"}, follow_redirects=True)
    assert "already rejected" in again.get_data(as_text=True)


def test_unknown_comment_or_action_is_404_and_get_is_not_allowed(admin_client, app):
    comment = make_comment()
    assert admin_client.post("/admin/comments/999/approve", data={"seen": "pending"}).status_code == 404
    assert admin_client.post(f"/admin/comments/{comment.id}/destroy", data={"seen": "pending"}).status_code == 404
    assert admin_client.get(f"/admin/comments/{comment.id}/approve").status_code == 405
    assert reload(comment).status == Comment.PENDING


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_moderation_without_csrf_is_refused(app, app_config, admin_user):
    from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

    client = app.test_client()
    login_page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    assert client.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
                                             "csrf_token": token}).status_code in (302, 303)
    # The test keeps one app context (and so one `g`) for every request; a real request gets a fresh one.
    # Forget the token Flask-WTF cached in `g` before sign-in replaced the session.
    g.pop("csrf_token", None)
    comment = make_comment()
    assert client.post(f"/admin/comments/{comment.id}/approve", data={"seen": "pending"}).status_code == 400
    assert reload(comment).status == Comment.PENDING
    queue = client.get("/admin/comments").get_data(as_text=True)
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', queue).group(1)
    response = client.post(f"/admin/comments/{comment.id}/approve", data={"seen": "pending", "csrf_token": form_token})
    assert response.status_code == 303
    assert reload(comment).status == Comment.APPROVED


def test_the_queue_offers_only_the_actions_a_comment_allows(admin_client, app):
    approved = make_comment(status=Comment.APPROVED)
    html = admin_client.get("/admin/comments?status=approved").get_data(as_text=True)
    assert f"/admin/comments/{approved.id}/reject" in html and f"/admin/comments/{approved.id}/spam" in html
    assert f"/admin/comments/{approved.id}/approve" not in html
    spam = make_comment(status=Comment.SPAM)
    html = admin_client.get("/admin/comments?status=spam").get_data(as_text=True)
    assert f"/admin/comments/{spam.id}/approve" in html and f"/admin/comments/{spam.id}/spam" not in html


def test_the_model_never_moves_a_comment_back_to_pending_or_into_its_own_state():
    for status, allowed in Comment.TRANSITIONS.items():
        assert Comment.PENDING not in allowed and status not in allowed
    comment = Comment(status=Comment.APPROVED)
    assert [a for a in Comment.ACTIONS if comment.can(a)] == ["reject", "spam"]
