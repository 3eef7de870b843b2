"""The contact form: validation, storage, spam traps, bad input, the submit_enquiry operation."""
from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func, select

from blueprints.enquiries.operations import submit_enquiry
from extensions import db
from models import Enquiry, OutboxMessage
from tests.factories import make_course, make_service
from web.spam import issue_form_token


def form_token(seconds_ago: float = 10) -> str:
    return issue_form_token("contact", now=time.time() - seconds_ago)


def valid_data(**overrides) -> dict:
    data = {
        "name": "Ada Lovelace", "email": "ada@example.com", "company": "Analytical Engines Ltd",
        "topic": "other", "message": "We need help planning a migration of our cluster next spring.",
        "consent": "y", "website": "", "form_token": form_token(),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def services(app):
    return [make_service(slug="public-cloud", title="Public Cloud"), make_service(slug="network", title="Network")]


# --- the page ------------------------------------------------------------------------------------

def test_form_lists_service_topics_training_and_other_and_links_privacy(client, services):
    page = client.get("/contact").get_data(as_text=True)
    for value, label in [("public-cloud", "Public Cloud"), ("network", "Network"), ("training", "Training"),
                         ("other", "Something else")]:
        assert f'<option value="{value}">{label}</option>' in page
    for field in ("name", "email", "company", "topic", "message", "consent"):
        assert f'<label for="{field}"' in page
    assert 'href="/privacy"' in page
    assert 'name="website"' in page and 'aria-hidden="true"' in page
    assert 'name="form_token" type="hidden" value="' in page


def test_a_training_service_is_not_listed_twice(client, services):
    make_service(slug="training", title="Training")
    page = client.get("/contact").get_data(as_text=True)
    assert page.count('value="training"') == 1 and page.count('value="other"') == 1


def test_topic_from_the_query_string_is_preselected_and_unknown_ones_ignored(client, services):
    page = client.get("/contact?topic=network").get_data(as_text=True)
    assert '<option selected value="network">' in page
    page = client.get("/contact?topic=%0D%0ABcc").get_data(as_text=True)
    assert "selected" not in page


def test_a_service_page_links_to_the_form_with_its_topic(client, services):
    assert 'href="/contact?topic=public-cloud"' in client.get("/services/public-cloud").get_data(as_text=True)


# --- submitting -------------------------------------------------------------------------------

def test_a_valid_enquiry_is_stored_with_two_queued_messages_and_redirects(client, services, app):
    response = client.post("/contact", data=valid_data(topic="network", name="  Zoë  Ñúñez "))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/contact/thanks")
    enquiry = db.session.scalar(select(Enquiry))
    assert (enquiry.status, enquiry.kind, enquiry.topic, enquiry.name) == ("new", "contact", "network", "Zoë Ñúñez")
    assert enquiry.consent_at is not None and enquiry.spam_reason is None
    messages = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [m.template for m in messages] == ["enquiry_notification", "enquiry_acknowledgement"]
    assert {m.related for m in messages} == {f"enquiry:{enquiry.id}"}
    assert {m.status for m in messages} == {"pending"}
    notification, acknowledgement = messages
    assert notification.to_addr == app.config["CONSULTANT_EMAIL"] and notification.reply_to == "ada@example.com"
    assert f"http://localhost/admin/enquiries/{enquiry.id}" in notification.text_body
    assert acknowledgement.to_addr == "ada@example.com"
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "two working days" in thanks


@pytest.mark.parametrize("field, value, error", [
    ("name", "", "Enter your name."),
    ("email", "not-an-email", "Enter an email address"),
    ("email", "", "Enter your email address."),
    ("topic", "", "Choose a topic."),
    ("topic", "cloud\r\nBcc: victim@example.net", "Not a valid choice"),
    ("message", "x" * 19, "between 20 and 5,000"),
    ("message", "x" * 5001, "between 20 and 5,000"),
    ("consent", None, "Tick the box"),
    ("name", "n" * 101, "Field cannot be longer than 100 characters."),
])
def test_each_invalid_field_shows_the_form_again_with_the_error_beside_it(client, services, field, value, error):
    response = client.post("/contact", data=valid_data(**{field: value}))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="{field}-error"' in page and error in page
    assert re.search(rf'aria-describedby="[^"]*{field}-error"', page) and 'aria-invalid="true"' in page
    assert count(Enquiry) == 0 and count(OutboxMessage) == 0


def test_the_message_keeps_its_words_and_lines(client, services):
    text = "Line one: ünïcødé ✓ <b>not html</b>\r\nLine two with 'quotes' & ampersands."
    client.post("/contact", data=valid_data(message=text))
    assert db.session.scalar(select(Enquiry.message)) == text


# --- spam traps ---------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, reason", [
    ({"website": "http://spam.example"}, "honeypot filled"),
    ({"form_token": None}, "missing form timestamp"),
    ({"form_token": "forged.token"}, "forged form timestamp"),
])
def test_trapped_submissions_are_stored_as_spam_and_not_mailed(client, services, overrides, reason):
    response = client.post("/contact", data=valid_data(**overrides))
    # The thank-you page promises no copy (none is sent); it says nothing of spam either.
    assert response.status_code == 303 and response.headers["Location"].endswith("/contact/thanks?copy=0")
    enquiry = db.session.scalar(select(Enquiry))
    assert (enquiry.status, enquiry.spam_reason) == ("spam", reason)
    assert count(OutboxMessage) == 0


@pytest.fixture
def app_config(request):
    return dict(getattr(request, "param", {}))


@pytest.mark.parametrize("app_config", [{"SPAM_MIN_SECONDS": 3}], indirect=True)
def test_a_submission_faster_than_three_seconds_is_held_for_review(client, services):
    page = client.get("/contact").get_data(as_text=True)
    token = page.split('name="form_token" type="hidden" value="')[1].split('"')[0]
    client.post("/contact", data=valid_data(form_token=token))
    assert db.session.execute(select(Enquiry.status, Enquiry.spam_reason)).one() == ("held", "submitted too fast")
    assert count(OutboxMessage) == 0
    client.post("/contact", data=valid_data(form_token=form_token(seconds_ago=4)))
    assert count(Enquiry, Enquiry.status == "new") == 1
    assert count(OutboxMessage) == 2


# --- double submit (issue #14) -------------------------------------------------------------------

@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}], indirect=True)
def test_a_double_clicked_contact_form_stores_one_enquiry_and_mails_once(client, services):
    """Today: two enquiries and four emails. The second click shows the first one's thank-you page."""
    page = client.get("/contact").get_data(as_text=True)
    csrf = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    stamp = page.split('name="form_token" type="hidden" value="')[1].split('"')[0]
    data = valid_data(csrf_token=csrf, form_token=stamp, name="محمد ‏العربي", message="سلام! " * 10)
    answers = [client.post("/contact", data=data) for _ in range(2)]
    assert [a.status_code for a in answers] == [303, 303]
    assert {a.headers["Location"] for a in answers} == {"/contact/thanks"}
    assert count(Enquiry) == 1 and count(OutboxMessage) == 2
    # a replay later (the same stamp from another client) stores nothing either
    assert client.post("/contact", data=data).status_code == 303 and count(Enquiry) == 1


@pytest.mark.slow
def test_identical_contact_posts_at_the_same_moment_store_one_enquiry(app, services):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from tests.training.helpers import post_for_location, serving

    data = valid_data(email="zoe@exämple.de")
    clicks = 6
    barrier = threading.Barrier(clicks)
    with serving(app) as root:
        def click(_):
            barrier.wait(timeout=30)
            return post_for_location(f"{root}/contact", data)

        with ThreadPoolExecutor(max_workers=clicks) as pool:
            answers = list(pool.map(click, range(clicks)))
    assert {code for code, _ in answers} == {303}, answers
    assert {location for _, location in answers} == {"/contact/thanks"}
    assert count(Enquiry) == 1 and count(OutboxMessage) == 2


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}], indirect=True)
def test_no_csrf_token_is_a_400_and_stores_nothing(client, services):
    response = client.post("/contact", data=valid_data())
    assert response.status_code == 400
    assert count(Enquiry) == 0


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}], indirect=True)
def test_with_the_csrf_token_from_the_page_it_goes_through(client, services):
    page = client.get("/contact").get_data(as_text=True)
    csrf = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert client.post("/contact", data=valid_data(csrf_token=csrf)).status_code == 303


def test_a_body_over_the_limit_is_a_413(client, services, app):
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    assert client.post("/contact", data=valid_data(message=big)).status_code == 413
    assert count(Enquiry) == 0


@pytest.mark.parametrize("body, content_type", [
    (b"name=%FF%FE&email=a%40example.com", "application/x-www-form-urlencoded"),
    (b"name=\xff\xfe&email=a%40example.com", "application/x-www-form-urlencoded"),
    (b"name=Ada%00&email=a%40example.com", "application/x-www-form-urlencoded"),
    (b'{"name": "Ada"}', "application/json"),
    (b"name=Ada", "text/plain"),
    (b"<name>Ada</name>", "application/xml"),
])
def test_invalid_utf8_nul_or_a_wrong_content_type_is_a_400(client, services, body, content_type):
    response = client.post("/contact", data=body, content_type=content_type)
    assert response.status_code == 400
    assert count(Enquiry) == 0


def test_invalid_utf8_in_a_multipart_form_is_a_400(client, services):
    boundary = "xyz"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n").encode() + b"\xff\xfe" + \
        f"\r\n--{boundary}--\r\n".encode()
    response = client.post("/contact", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 400


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True}], indirect=True)
def test_the_sixth_post_in_a_minute_is_a_429_saying_when_to_try_again(client, services):
    for _ in range(5):
        assert client.post("/contact", data=valid_data()).status_code == 303
    response = client.post("/contact", data=valid_data())
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "try again" in response.get_data(as_text=True)
    assert count(Enquiry) == 5
    assert client.get("/contact").status_code == 200  # reading the form is not limited


# --- the operation (shared with private-training requests) -------------------------------------

def test_submit_enquiry_takes_a_kind_and_private_training_fields(app):
    course = make_course(title="Kubernetes in Production")
    enquiry = submit_enquiry(
        name="Grace Hopper", email="grace@example.com", message="Private course for eight engineers, please.",
        topic="training", kind=Enquiry.PRIVATE_TRAINING, course_id=course.id, preferred_dates="March, any week",
        attendees=8, training_format="on-site",
    )
    assert (enquiry.kind, enquiry.attendees, enquiry.training_format) == ("private_training", 8, "on-site")
    notification, acknowledgement = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert notification.subject.startswith("Private training request")
    for body in (notification.text_body, acknowledgement.text_body, notification.html_body):
        assert "Kubernetes in Production" in body and "March, any week" in body


def test_submit_enquiry_refuses_unknown_fields_and_kinds(app):
    with pytest.raises(TypeError):
        submit_enquiry(name="A", email="a@example.com", message="m" * 30, colour="blue")
    with pytest.raises(ValueError):
        submit_enquiry(name="A", email="a@example.com", message="m" * 30, kind="party")
    assert count(Enquiry) == 0
