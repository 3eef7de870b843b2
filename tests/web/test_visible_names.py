"""A name made only of invisible or bidi-control characters is refused on every public form with a name."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from extensions import db
from models import Booking, Comment, Enquiry
from tests.factories import make_course, make_post, make_session
from web.spam import issue_form_token

INVISIBLE_NAMES = [
    "\u200b",                      # zero-width space
    "\u202e",                      # right-to-left override
    "\u2066\u2069",                # left-to-right isolate … pop directional isolate
    "\u200b\u200c\u200d\u2060\ufeff",  # every zero-width character at once
    "\u202e \u202d\u00a0\u3000",   # overrides among spaces, no-break and ideographic
    "\u00ad\u034f\u061c",          # soft hyphen, combining grapheme joiner, Arabic letter mark
    "\u3164\u115f",                # Hangul fillers: "letters" that draw nothing
    "\u2800",                      # braille blank
    "\U000e0041\U000e0042",        # tag characters
]
VISIBLE_NAMES = ["李小龍", "محمد", "Zoë\u200b Ångström", "\u202eevil", "R2-D2", "Ｍａｒｉａ"]
ERROR = "Enter a name with letters that show."


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def contact(client, name):
    return client.post("/contact", data={
        "name": name, "email": "ada@example.com", "topic": "other", "consent": "y", "website": "",
        "message": "We need help planning a migration of our cluster next spring.",
        "form_token": issue_form_token("contact")}), Enquiry


def booking(client, name):
    session = make_session()
    return client.post(f"/training/sessions/{session.id}/book", data={
        "name": name, "email": "ada@example.com", "seats": "1", "consent": "y", "action": "book", "website": "",
        "form_token": issue_form_token("booking")}), Booking


def private_request(client, name):
    course = make_course()
    return client.post(f"/training/{course.slug}", data={
        "private-name": name, "private-email": "bo@example.com", "private-preferred_dates": "Any week in March",
        "private-attendees": "6", "private-training_format": "online", "private-consent": "y",
        "private-form_token": issue_form_token("private_training")}), Enquiry


def comment(client, name):
    post = make_post()
    html = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    token = re.search(r'name="form_token" type="hidden" value="([^"]+)"', html)[1]
    return client.post(f"/blog/{post.slug}/comments", data={
        "name": name, "email": "ada@example.com", "body": "Great article.\nThanks!", "consent": "y", "website": "",
        "form_token": token}), Comment


FORMS = [contact, booking, private_request, comment]


@pytest.mark.parametrize("submit", FORMS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("name", INVISIBLE_NAMES, ids=lambda n: "+".join(f"U+{ord(c):04X}" for c in n))
def test_an_invisible_name_is_a_form_error(client, submit, name):
    before = {model: count(model) for model in (Booking, Comment, Enquiry)}
    response, model = submit(client, name)
    page = response.get_data(as_text=True)
    if response.status_code == 303:  # the comment form answers with a redirect and a flash
        page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert response.status_code in (303, 422), response.status_code
    assert ERROR in page
    assert count(model) == before[model], "a row with an invisible name was stored"


@pytest.mark.parametrize("submit", FORMS, ids=lambda f: f.__name__)
def test_names_in_any_script_still_go_through(client, submit):
    for name in VISIBLE_NAMES:
        before = count(Booking) + count(Comment) + count(Enquiry)
        response, _ = submit(client, name)
        assert response.status_code in (200, 303), (name, response.status_code)
        assert count(Booking) + count(Comment) + count(Enquiry) == before + 1, name
