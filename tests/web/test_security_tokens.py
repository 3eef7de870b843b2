"""Guessing or altering a booking token, a comment id or an admin object id never shows someone else's data."""
from __future__ import annotations

import re
import secrets

import pytest
from sqlalchemy import select

from extensions import db
from models import Booking, Comment, OutboxMessage
from tests.factories import make_booking, make_post, make_session


@pytest.fixture
def two_bookings(app):
    session = make_session()
    mine = make_booking(session, name="Alice Mine", email="alice@example.com", token="A" * 32)
    theirs = make_booking(session, name="Bob Theirs", email="bob@example.com", token="B" * 32)
    return mine, theirs


def altered_tokens(token: str) -> list[str]:
    flipped = token[:-1] + ("a" if token[-1] != "a" else "b")
    return [
        flipped, token[:-1], token + "A", token.lower(), token.upper() if token.upper() != token else token.lower(),
        secrets.token_urlsafe(24), "", " " + token, token + "%00", token + "/", "../" + token, "%2e%2e%2f",
        Booking.hash_token(token), "1", "0", "-1", "null", "*", "%", "_" * 32, "' OR '1'='1", token * 2,
    ]


def test_altered_or_guessed_booking_tokens_show_nothing(client, two_bookings):
    mine, theirs = two_bookings
    assert "Alice Mine" in client.get("/bookings/" + "A" * 32).get_data(as_text=True)
    for token in altered_tokens("A" * 32):
        for suffix in ("", "/cancel", "/move", "/attend"):
            response = client.get(f"/bookings/{token}{suffix}")
            body = response.get_data(as_text=True)
            assert response.status_code in (404, 405, 308, 301), f"{token!r}{suffix}: {response.status_code}"
            assert "Alice" not in body and "Bob" not in body and "@example.com" not in body, f"{token!r}{suffix}"


def test_altered_tokens_cannot_change_a_booking(client, two_bookings):
    mine, theirs = two_bookings
    for token in altered_tokens("A" * 32)[:8]:
        for suffix in ("/cancel", "/move", "/attend"):
            response = client.post(f"/bookings/{token}{suffix}", data={"booking_id": theirs.id, "id": theirs.id})
            assert response.status_code in (400, 404, 405), f"{token!r}{suffix}: {response.status_code}"
    db.session.expire_all()
    assert {b.status for b in (mine, theirs)} == {Booking.PENDING}


def test_my_token_acts_on_my_booking_only(client, two_bookings):
    mine, theirs = two_bookings
    response = client.post("/bookings/" + "A" * 32 + "/cancel", data={"booking_id": theirs.id, "id": theirs.id, "token": "B" * 32})
    assert response.status_code in (302, 303)
    db.session.expire_all()
    assert mine.status == Booking.CANCELLED and theirs.status == Booking.PENDING


def test_a_booking_token_has_128_bits_and_only_its_hash_is_stored(app, client):
    from cli.seeding import seed_all

    seed_all(demo=True)
    page = client.get("/training")
    match = re.search(r'href="(/training/sessions/\d+/book)"', page.get_data(as_text=True))
    assert match, "no bookable session on /training"
    book = client.get(match.group(1)).get_data(as_text=True)
    fields = dict(re.findall(r'name="([a-z_]+)"[^>]*value="([^"]*)"', book))
    data = {**fields, "name": "Token Holder", "email": "holder@example.com", "seats": "1", "consent": "y", "website": ""}
    response = client.post(match.group(1), data=data)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_addr == "holder@example.com")).first()
    token = re.search(r"/bookings/([A-Za-z0-9_-]+)", mail.text_body).group(1)
    assert len(token) >= 22, "fewer than 128 bits"  # 22 base64url characters = 132 bits
    booking = db.session.scalar(select(Booking).where(Booking.email == "holder@example.com"))
    row = " ".join(str(value) for value in booking.__dict__.values())
    assert token not in row and booking.token_hash == Booking.hash_token(token)
    assert client.get(f"/bookings/{token}").status_code == 200


def test_comments_are_public_only_once_approved_and_never_with_their_email(client, app):
    post = make_post(slug="guarded")
    db.session.add_all([
        Comment(post=post, author_name="Shown", author_email="shown@example.com", body="approved words", status=Comment.APPROVED),
        Comment(post=post, author_name="Hidden", author_email="hidden@example.com", body="pending words", status=Comment.PENDING),
        Comment(post=post, author_name="Spammer", author_email="spam@example.com", body="spam words", status=Comment.SPAM),
    ])
    db.session.commit()
    body = client.get("/blog/guarded").get_data(as_text=True)
    assert "approved words" in body
    for secret in ("pending words", "spam words", "shown@example.com", "hidden@example.com", "Hidden", "Spammer"):
        assert secret not in body
    for comment_id in range(1, 6):  # moderation by id is admin-only, whatever id is guessed
        for action in ("approve", "reject", "spam", "delete"):
            response = client.post(f"/admin/comments/{comment_id}/{action}")
            assert response.status_code in (302, 303) and response.headers["Location"].startswith("/admin/login")
    db.session.expire_all()
    assert db.session.scalar(select(Comment).where(Comment.author_name == "Hidden")).status == Comment.PENDING


def test_unknown_admin_object_ids_are_404_not_another_row(admin_client, app):
    from tests.hardening import rules_with, urls_for_rule

    checked = 0
    for rule in rules_with(app, "GET"):
        if not rule.rule.startswith("/admin") or not any(a.endswith("_id") for a in rule.arguments):
            continue
        for url in urls_for_rule(rule, {}):
            if "987654" not in url:
                continue
            response = admin_client.get(url)
            assert response.status_code == 404, f"{url}: {response.status_code}"
            checked += 1
    for url in ("/admin/enquiries/0", "/admin/enquiries/-1", "/admin/enquiries/1e3", "/admin/enquiries/%31", "/admin/enquiries/99999999999999999999999"):
        assert admin_client.get(url).status_code == 404, url
    assert checked >= 5
