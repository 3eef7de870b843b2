"""Reader comments: stored pending, shown once approved, escaped, trapped when spam, consultant notified."""
from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from blueprints.blog.operations import COMMENT_MAX_CHARS
from extensions import db
from models import Comment, OutboxMessage
from tests.factories import make_post
from web import spam


def form_token(client, post) -> str:
    html = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    match = re.search(r'name="form_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'id="form_token" name="form_token" type="hidden" value="([^"]+)"', html)
    assert match, "the comment form carries a signed timestamp"
    return match.group(1)


def comment_data(client, post, **overrides) -> dict:
    data = {"name": "Ada Reader", "email": "ada@example.com", "body": "Great article.\nThanks!",
            "consent": "y", "website": "", "form_token": form_token(client, post)}
    data.update(overrides)
    return data


def post_comment(client, post, **overrides):
    return client.post(f"/blog/{post.slug}/comments", data=comment_data(client, post, **overrides))


def comments():
    return db.session.scalars(select(Comment).order_by(Comment.id)).all()


def outbox():
    return db.session.scalars(select(OutboxMessage)).all()


def test_the_form_is_under_every_post_with_labels_and_traps(client, app):
    post = make_post()
    html = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert "Leave a comment" in html
    for field in ("name", "email", "body", "consent"):
        assert f'<label for="{field}"' in html
    assert 'class="hp" aria-hidden="true"' in html and 'name="website"' in html
    assert f'action="/blog/{post.slug}/comments#comment-form"' in html


def test_a_real_comment_is_stored_pending_invisible_and_the_consultant_is_told(client, app):
    post = make_post(title="Swarm notes")
    response = post_comment(client, post)
    assert response.status_code == 303
    # Back at the comment form's place, where its confirmation is shown (not at the top of a long article).
    assert response.headers["Location"].endswith(f"/blog/{post.slug}#comment-result")
    confirmation = client.get(response.headers["Location"]).get_data(as_text=True)
    result = confirmation.split('id="comment-result"', 1)[1].split("</div>", 1)[0]
    assert "Thank you for your comment" in result
    [comment] = comments()
    assert comment.status == Comment.PENDING and comment.spam_reason is None
    assert comment.body == "Great article.\nThanks!"
    page = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert "Great article." not in page and "Ada Reader" not in page
    [message] = outbox()
    assert message.template == "comment_notification"
    assert message.to_addr == app.config["CONSULTANT_EMAIL"]
    assert message.reply_to == "ada@example.com"
    assert message.related == f"comment:{comment.id}"
    assert "Swarm notes" in message.subject
    assert "Great article." in message.text_body and "http://localhost/admin/comments" in message.text_body
    assert "Great article.<br>Thanks!" in message.html_body
    assert f"The article: http://localhost/blog/{post.slug}\n" in message.text_body
    assert f'href="http://localhost/blog/{post.slug}"' in message.html_body
    assert 'href="http://localhost/admin/comments"' in message.html_body


def test_the_thank_you_flash_is_shown_after_the_redirect(client, app):
    post = make_post()
    response = client.post(f"/blog/{post.slug}/comments", data=comment_data(client, post), follow_redirects=True)
    assert "It will appear here once it has been approved" in response.get_data(as_text=True)


def test_an_approved_comment_is_shown_escaped_with_line_breaks_and_no_email(client, app):
    post = make_post()
    post_comment(client, post, name="<b>Eve</b>",
                 body='<script>alert(1)</script>\nSee <a href="https://spam.example">this</a>\nhttps://link.example')
    comment = comments()[0]
    comment.status = Comment.APPROVED
    db.session.commit()
    html = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>See &lt;a href=" in html
    assert "<script>alert(1)" not in html
    assert 'href="https://spam.example"' not in html and 'href="https://link.example"' not in html
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html
    assert "ada@example.com" not in html
    assert "1 comment" in html


def test_rejected_and_spam_comments_stay_hidden(client, app):
    post = make_post()
    for status, text in ((Comment.REJECTED, "Rejected words"), (Comment.SPAM, "Spam words")):
        db.session.add(Comment(post=post, author_name="X", author_email="x@example.com", body=text, status=status))
    db.session.commit()
    html = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert "Rejected words" not in html and "Spam words" not in html and "No comments yet" in html


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"body": "x" * (COMMENT_MAX_CHARS + 1)}, "body", "between 2 and 3,000 characters"),
        ({"body": "  "}, "body", "Please write a comment."),
        ({"name": ""}, "name", "Please enter your name."),
        ({"name": "n" * 101}, "name", ""),
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"consent": ""}, "consent", "Please agree"),
    ],
)
def test_bad_input_gets_a_form_error_next_to_the_field_and_stores_nothing(client, app, overrides, field, message):
    post = make_post()
    response = post_comment(client, post, **overrides)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html and message in html
    assert 'aria-invalid="true"' in html
    assert comments() == [] and outbox() == []


def test_a_long_comment_at_the_limit_is_accepted(client, app):
    post = make_post()
    assert post_comment(client, post, body="y" * COMMENT_MAX_CHARS).status_code == 303
    assert len(comments()[0].body) == COMMENT_MAX_CHARS


def test_the_honeypot_stores_spam_and_sends_nothing(client, app):
    post = make_post()
    response = post_comment(client, post, website="http://cheap-pills.example")
    assert response.status_code == 303  # the bot is told nothing
    [comment] = comments()
    assert comment.status == Comment.SPAM and comment.spam_reason == "honeypot filled"
    assert outbox() == []


@pytest.mark.parametrize("app_config", [{"SPAM_MIN_SECONDS": 30}])
def test_a_submission_faster_than_a_person_types_is_spam(client, app, app_config):
    post = make_post()
    assert post_comment(client, post).status_code == 303  # the token was issued moments ago
    [comment] = comments()
    assert comment.status == Comment.SPAM and comment.spam_reason == "submitted too fast"
    assert outbox() == []
    with app.test_request_context():
        slow = spam.issue_form_token("comment", now=time.time() - 31)
    assert post_comment(client, post, form_token=slow).status_code == 303
    assert comments()[1].status == Comment.PENDING
    assert len(outbox()) == 1


@pytest.mark.parametrize("token", ["", "forged.token"])
def test_a_missing_or_forged_timestamp_is_spam(client, app, token):
    post = make_post()
    post_comment(client, post, form_token=token)
    assert comments()[0].status == Comment.SPAM and outbox() == []


def test_comments_on_drafts_or_unknown_posts_are_404(client, app):
    draft = make_post(status="draft", published_at=None)
    data = {"name": "A", "email": "a@example.com", "body": "Hello", "consent": "y"}
    assert client.post(f"/blog/{draft.slug}/comments", data=data).status_code == 404
    assert client.post("/blog/nope/comments", data=data).status_code == 404
    assert comments() == []


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_a_comment_without_the_csrf_token_is_refused(client, app, app_config):
    post = make_post()
    response = client.post(f"/blog/{post.slug}/comments", data=comment_data(client, post))
    assert response.status_code == 400
    assert comments() == []


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True}])
def test_comment_posts_are_rate_limited(client, app, app_config):
    from extensions import limiter

    limiter.reset()
    post = make_post()
    statuses = [post_comment(client, post, body=f"Comment number {i}").status_code for i in range(6)]
    assert statuses == [303] * 5 + [429]
    assert client.get(f"/blog/{post.slug}").status_code == 200  # reading is never limited
    limiter.reset()


def test_the_notification_reaches_the_consultant_as_text_and_html(mail_app, smtp_server):
    from mail import delivery as mailer

    client = mail_app.test_client()
    post = make_post(title="Swarm notes")
    assert post_comment(client, post, name="Ada Reader", body="Line one\nLine <two>").status_code == 303
    report = mailer.deliver_pending(worker="test")
    assert report is not None
    [message] = smtp_server.messages
    assert message["To"].addresses[0].addr_spec == mail_app.config["CONSULTANT_EMAIL"]
    assert message["Reply-To"].addresses[0].addr_spec == "ada@example.com"
    assert "Swarm notes" in message["Subject"]
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content()
    assert "Line one\nLine <two>" in text and "/admin/comments" in text
    assert "Line one<br>Line &lt;two&gt;" in html
