"""Form pages in the page cache (web/page_cache_forms.py): cached as fragments around each visitor's own values."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from extensions import db
from tests.factories import make_post, make_session
from web import page_cache, page_cache_forms


def test_pages_with_forms_give_every_visitor_their_own_csrf_token(app, site, another_app):
    # A second app on the same database: each of its requests gets its own app context (and `g`),
    # as in production; the fixture's long-lived context would share one CSRF token between clients.
    forms_app = another_app(PAGE_CACHE_SECONDS=60, WTF_CSRF_ENABLED=True)

    def token(client):
        html = client.get("/contact").get_data(as_text=True)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', html)
        assert match, "the contact form has no CSRF token"
        return match.group(1)

    first, second = forms_app.test_client(), forms_app.test_client()
    assert token(first) != token(second)
    assert token(first) != token(second)
    # cached only as fragments around the visitor's own values
    entries = forms_app.extensions["page_cache"].entries
    contact = [entry for key, entry in entries.items() if key[5] == "/contact"]
    assert contact and all(entry.form is not None for entry in contact)


def form_fields(html: str) -> dict:
    from bench.common import _FormParser

    form = _FormParser(html)
    fields = {name: form.fields[name] for name, kind in form.kinds.items() if kind == "hidden"}
    for name, options in form.options.items():
        fields[name] = next(o for o in options if o)
    return fields


def csrf_of(html: str) -> str:
    return next(v for k, v in form_fields(html).items() if k.endswith("csrf_token"))


def stamp_payload(app, html: str) -> dict:
    from itsdangerous import URLSafeSerializer

    from web import spam

    signer = URLSafeSerializer(app.secret_key, salt=spam.SALT)
    return signer.loads(next(v for k, v in form_fields(html).items() if k.endswith("form_token")))


def test_a_visitor_served_a_cached_contact_form_can_send_it_with_their_own_token_and_stamp(
        app, site, another_app, monkeypatch):
    from models import Enquiry
    forms_app = another_app(PAGE_CACHE_SECONDS=60, WTF_CSRF_ENABLED=True, SPAM_MIN_SECONDS=3)
    first = forms_app.test_client().get("/contact").get_data(as_text=True)
    cache = forms_app.extensions["page_cache"]
    assert [e for e in cache.entries.values() if e.form is not None], "the contact form page was not cached"

    start = __import__("time").time()
    monkeypatch.setattr(page_cache_forms.time, "time", lambda: start + 100)
    visitor = forms_app.test_client()
    page = visitor.get("/contact")
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"].startswith("private")
    assert csrf_of(html) != csrf_of(first)
    assert stamp_payload(forms_app, html)["t"] == pytest.approx(start + 100, abs=0.01)  # issued now, not at render
    # apart from the visitor's own values, the page is the one rendered for the first visitor
    assert html.replace(csrf_of(html), "").split('form_token')[0] == first.replace(csrf_of(first), "").split(
        'form_token')[0]

    data = {**form_fields(html), "name": "Ann Example", "email": "ann@example.com", "company": "",
            "message": "We would like help moving our workloads to Kubernetes.", "consent": "y", "website": ""}
    monkeypatch.setattr(page_cache_forms.time, "time", lambda: start + 110)  # a person takes a while to type
    response = visitor.post("/contact", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    db.session.remove()
    enquiry = db.session.scalars(db.select(Enquiry).where(Enquiry.email == "ann@example.com")).one()
    assert enquiry.spam_reason is None


def test_a_visitor_served_a_cached_booking_form_can_book(app, site, another_app):
    from models import Booking
    session_id = make_session(capacity=2).id
    forms_app = another_app(PAGE_CACHE_SECONDS=60, WTF_CSRF_ENABLED=True)
    path = f"/training/sessions/{session_id}/book"
    first = forms_app.test_client().get(path).get_data(as_text=True)
    visitor = forms_app.test_client()
    html = visitor.get(path).get_data(as_text=True)
    assert csrf_of(html) != csrf_of(first)
    assert [e for e in forms_app.extensions["page_cache"].entries.values() if e.form is not None]
    data = {**form_fields(html), "name": "Bo Example", "email": "bo@example.com", "company": "", "seats": "2",
            "notes": "", "consent": "y"}
    response = visitor.post(path, data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    db.session.remove()
    assert db.session.scalars(db.select(Booking).where(Booking.email == "bo@example.com")).one().seats == 2
    # the booking took the last seats: the next visitor does not get the cached page from before
    assert "This session is full." in forms_app.test_client().get(path).get_data(as_text=True)


def test_a_form_page_for_a_returning_visitor_is_rendered_for_them(app, site, another_app):
    forms_app = another_app(PAGE_CACHE_SECONDS=60, WTF_CSRF_ENABLED=True)
    visitor = forms_app.test_client()
    first = visitor.get("/contact").get_data(as_text=True)
    again = visitor.get("/contact")  # has a session cookie now: rendered with its own CSRF secret
    assert csrf_of(again.get_data(as_text=True)).split(".")[0] == csrf_of(first).split(".")[0]


def test_a_visitor_served_a_cached_article_can_comment_and_sees_the_approved_comment(
        app, site, another_app, monkeypatch):
    from models import Comment
    forms_app = another_app(PAGE_CACHE_SECONDS=60, WTF_CSRF_ENABLED=True, SPAM_MIN_SECONDS=3)
    post = make_post(title="Cached article")
    path = f"/blog/{post.slug}"
    first = forms_app.test_client().get(path).get_data(as_text=True)
    start = __import__("time").time()
    monkeypatch.setattr(page_cache_forms.time, "time", lambda: start + 100)
    visitor = forms_app.test_client()
    html = visitor.get(path).get_data(as_text=True)
    assert csrf_of(html) != csrf_of(first)
    assert stamp_payload(forms_app, html)["t"] == pytest.approx(start + 100, abs=0.01)
    assert [e for e in forms_app.extensions["page_cache"].entries.values() if e.form is not None]

    monkeypatch.setattr(page_cache_forms.time, "time", lambda: start + 110)
    data = {**form_fields(html), "name": "Cy Reader", "email": "cy@example.com", "consent": "y", "website": "",
            "body": "A clear explanation of namespaces and cgroups, thank you."}
    response = visitor.post(f"{path}/comments", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    db.session.remove()
    comment = db.session.scalars(db.select(Comment).where(Comment.author_email == "cy@example.com")).one()
    assert comment.spam_reason is None and comment.status == Comment.PENDING

    comment.status, comment.moderated_at = Comment.APPROVED, datetime.now(timezone.utc)
    db.session.commit()  # approved by the consultant (another process): visible within the check interval
    later = __import__("time").monotonic() + 5  # past the 1 s version check, well inside the 60 s max age
    monkeypatch.setattr(page_cache.time, "monotonic", lambda: later)
    assert "A clear explanation of namespaces" in forms_app.test_client().get(path).get_data(as_text=True)


def test_a_cached_form_page_sets_the_session_cookie_as_flask_does(app, site, another_app):
    forms_app = another_app(PAGE_CACHE_SECONDS=60, WTF_CSRF_ENABLED=True)
    first = forms_app.test_client().get("/contact")
    hit = forms_app.test_client().get("/contact")
    assert [e for e in forms_app.extensions["page_cache"].entries.values() if e.form is not None]
    def cookies(response) -> dict:
        return {v.split("=", 1)[0]: v.split("=", 1)[1].partition(";") for v in response.headers.getlist("Set-Cookie")}

    rendered, served = cookies(first), cookies(hit)
    assert served.keys() == rendered.keys()  # the session's, and Flask-Login's deletion of a remember cookie
    value, _, attributes = rendered["session"]
    hit_value, _, hit_attributes = served["session"]
    assert hit_attributes == attributes  # Path, HttpOnly, SameSite: as Flask wrote them for the first visitor
    assert hit_value != value  # a session (and CSRF secret) of its own
