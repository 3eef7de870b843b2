"""The shared spam traps in web/spam.py (used by the comment form and the contact form)."""
from __future__ import annotations

import time

import pytest
from flask_wtf import FlaskForm
from wtforms import StringField

from web import spam


@pytest.fixture
def app_config():
    return {"SPAM_MIN_SECONDS": 5}


def test_a_token_older_than_the_minimum_passes(app):
    token = spam.issue_form_token("comment", now=time.time() - 6)
    assert spam.check_form_token(token, "comment") is None


def test_a_fresh_token_is_too_fast(app):
    token = spam.issue_form_token("comment")
    assert spam.check_form_token(token, "comment") == "submitted too fast"
    assert spam.check_form_token(token, "comment", now=time.time() + 4.5) == "submitted too fast"
    assert spam.check_form_token(token, "comment", now=time.time() + 5.5) is None


@pytest.mark.parametrize("token", [None, "", "garbage", "eyJmIjoiY29tbWVudCIsInQiOjB9.forged"])
def test_missing_or_forged_tokens_are_spam(app, token):
    assert spam.check_form_token(token, "comment") in {"missing form timestamp", "forged form timestamp"}


def test_a_token_from_another_form_or_signed_with_another_key_is_forged(app):
    other = spam.issue_form_token("contact", now=time.time() - 60)
    assert spam.check_form_token(other, "comment") == "forged form timestamp"
    from itsdangerous import URLSafeSerializer

    foreign = URLSafeSerializer("another-key", salt=spam.SALT).dumps({"f": "comment", "t": time.time() - 60})
    assert spam.check_form_token(foreign, "comment") == "forged form timestamp"


def test_a_very_old_token_is_stale(app):
    token = spam.issue_form_token("comment", now=time.time() - spam.MAX_AGE_SECONDS - 1)
    assert spam.check_form_token(token, "comment") == "stale form timestamp"


def test_honeypot(app):
    assert spam.check_honeypot("") is None and spam.check_honeypot(None) is None and spam.check_honeypot("  ") is None
    assert spam.check_honeypot("http://spam.example") == "honeypot filled"


def test_the_mixin_on_a_form(app):
    class Form(FlaskForm, spam.SpamTrapFields):
        name = StringField()

    with app.test_request_context(method="POST", data={"name": "x", "website": "", "form_token": spam.issue_form_token("f", now=time.time() - 10)}):
        form = Form(meta={"csrf": False})
        assert form.validate()
        assert spam.spam_reason(form, "f") is None
    with app.test_request_context(method="POST", data={"name": "x", "website": "buy now", "form_token": ""}):
        form = Form(meta={"csrf": False})
        assert spam.spam_reason(form, "f") == "honeypot filled"
    with app.test_request_context():
        form = Form(meta={"csrf": False})
        spam.arm(form, "f")
        assert spam.check_form_token(form.form_token.data, "f") == "submitted too fast"


# --- the once-only stamp (issue #14) ---------------------------------------------------------------

def test_a_double_clicked_comment_is_posted_once(app, client):
    from sqlalchemy import func, select

    from extensions import db
    from models import Comment, OutboxMessage
    from tests.factories import make_post

    post = make_post()
    data = {"name": "Ingrid Ødegård", "email": "ingrid@example.no", "body": "Takk! 👍", "consent": "y",
            "website": "", "form_token": spam.issue_form_token("comment", now=time.time() - 6)}
    answers = [client.post(f"/blog/{post.slug}/comments", data=data) for _ in range(2)]
    assert [a.status_code for a in answers] == [303, 303]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    db.session.rollback()
    assert db.session.scalar(select(func.count(Comment.id))) == 1
    mails = db.session.scalar(select(func.count(OutboxMessage.id)))
    assert mails <= 1  # the consultant's notice, once
    page = client.get(answers[1].headers["Location"]).text
    assert "Thank you for your comment" in page  # the second click sees the first one's answer


def test_every_stamp_is_unique_even_in_the_same_millisecond(app):
    now = time.time()
    assert len({spam.issue_form_token("contact", now=now) for _ in range(200)}) == 200


def test_used_stamps_are_purged_once_no_form_accepts_them(app, runner):
    from datetime import timedelta

    from extensions import db
    from models import UsedFormStamp, utcnow

    db.session.add_all([
        UsedFormStamp(stamp_hash="a" * 64, form_name="contact", result="", created_at=utcnow() - timedelta(days=9)),
        UsedFormStamp(stamp_hash="b" * 64, form_name="contact", result="", created_at=utcnow() - timedelta(days=6)),
    ])
    db.session.commit()
    result = runner.invoke(args=["bookings", "expire"])
    assert result.exit_code == 0 and "forgot 1 used form stamp." in result.output
    db.session.rollback()
    assert [s.stamp_hash for s in db.session.query(UsedFormStamp)] == ["b" * 64]
