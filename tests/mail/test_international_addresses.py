"""International email addresses (RFC 6530-6532), from every public form to the bytes a real SMTP server receives.

One rule for every form: an address the form accepts is one the mailer can build and send. A
non-ASCII local part (jörg@…) goes out with SMTPUTF8 when the relay offers it; without it the
client's copy fails for good with a reason a person can read, and the consultant's notification
still arrives and says so. An IDN domain with an ASCII local part never needs SMTPUTF8: it goes
to the A-label (xn--…) form.
"""
from __future__ import annotations

import re
from email import message_from_string, policy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from extensions import db
from mail import delivery as mailer
from mail.message import build_message, check_serialised
from models import Booking, Comment, Enquiry, OutboxMessage
from tests.enquiries.test_enquiries_form import valid_data
from tests.factories import make_admin, make_course, make_post, make_session
from tests.mail.test_outbox_delivery import fresh
from web.spam import issue_form_token

LOCAL_AND_DOMAIN = "jörg@bücher.example"
LOCAL_ONLY = "jörg@example.com"
DOMAIN_ONLY = "info@bücher.example"
INTERNATIONAL = ["jörg@example.com", "jörg@bücher.example", "info@bücher.example", "δοκιμή@παράδειγμα.example",
                 "用户@例子.example", "佐藤@example.jp", "mañana@straße.example", "Zoë.Ångström@example.org"]


# --- a relay with and without SMTPUTF8 -------------------------------------------------------

def note_smtputf8(server) -> None:
    """Record, with every message the server keeps, whether its MAIL FROM asked for SMTPUTF8."""
    handler = server.handler
    original = handler.handle_DATA

    async def handle(srv, session, envelope):
        answer = await original(srv, session, envelope)
        if answer.startswith("250"):
            handler.messages[-1].smtputf8 = envelope.smtp_utf8
        return answer

    handler.handle_DATA = handle


def restart(server, *, smtputf8: bool) -> None:
    """The test server again on its own port (so the app's config still points at it), with or without SMTPUTF8."""
    from aiosmtpd.controller import Controller

    server.controller.stop()
    server.controller = Controller(server.handler, hostname="127.0.0.1", port=server.port,
                                   enable_SMTPUTF8=smtputf8)
    server.controller.start()


@pytest.fixture
def relay(smtp_server):
    """The test SMTP server (SMTPUTF8 on, as aiosmtpd's Controller defaults), noting SMTPUTF8 per message."""
    note_smtputf8(smtp_server)
    return smtp_server


@pytest.fixture
def ascii_relay(relay):
    """A relay that does not offer SMTPUTF8 (many older or hosted relays)."""
    restart(relay, smtputf8=False)
    yield relay
    restart(relay, smtputf8=True)


def received(message):
    """The message as the server got it, read as RFC 6532 UTF-8 (Python's bytes parser cannot read UTF-8 headers)."""
    return message_from_string(message.raw.decode("utf-8"), policy=policy.default)


def header_line(message, name: str) -> str:
    """One header's raw field, unfolded, exactly as the bytes had it."""
    head = message.raw.decode("utf-8").split("\r\n\r\n", 1)[0]
    match = re.search(rf"^{name}:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.MULTILINE | re.IGNORECASE)
    return match.group(1).replace("\r\n", "").strip() if match else ""


def to(relay, address: str):
    found = [m for m in relay.messages if m.envelope_to == [address]]
    assert len(found) == 1, f"{len(found)} messages to {address}; got {[m.envelope_to for m in relay.messages]}"
    return found[0]


# --- the forms --------------------------------------------------------------------------------

def submit(client, form: str, address: str):
    """POST one public form with `address`; returns the response (303 when accepted)."""
    if form == "contact":
        return client.post("/contact", data=valid_data(email=address))
    if form == "booking":
        session = make_session()
        return client.post(f"/training/sessions/{session.id}/book", data={
            "name": "Jörg Müller", "email": address, "company": "", "seats": "1", "notes": "", "consent": "y",
            "action": "book", "website": "", "form_token": issue_form_token("booking")})
    if form == "private":
        course = make_course(title="Kubernetes für Fortgeschrittene")
        return client.post(f"/training/{course.slug}", data={
            "private-name": "Jörg Müller", "private-email": address, "private-company": "",
            "private-preferred_dates": "Any week in März", "private-attendees": "4",
            "private-training_format": "online", "private-message": "", "private-consent": "y",
            "private-form_token": issue_form_token("private_training")})
    post = make_post(title="Notizen")
    html = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    token = re.search(r'name="form_token" type="hidden" value="([^"]+)"', html).group(1)
    return client.post(f"/blog/{post.slug}/comments", data={
        "name": "Jörg", "email": address, "body": "Danke für den Artikel!", "consent": "y", "website": "",
        "form_token": token})


def stored_address(form: str) -> str:
    db.session.rollback()
    if form == "booking":
        return db.session.scalar(select(Booking.email))
    if form == "comment":
        return db.session.scalar(select(Comment.author_email))
    return db.session.scalar(select(Enquiry.email))


FORMS = ["contact", "booking", "private", "comment"]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("address", [LOCAL_ONLY, LOCAL_AND_DOMAIN, DOMAIN_ONLY])
def test_every_public_form_takes_an_international_address(app, client, form, address):
    response = submit(client, form, address)
    assert response.status_code == 303, f"the {form} form refused {address}"
    assert stored_address(form) == address


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("address", ["jörg@example", "jörg@@example.com", "a b@example.com", "x@exa mple.com",
                                     "eve=?utf-8?q?x?=@example.com", "jörg@localhost", '"quoted"@example.com'])
def test_every_public_form_refuses_the_same_bad_addresses(app, client, form, address):
    response = submit(client, form, address)
    assert response.status_code == 422, f"the {form} form took {address}"
    assert "That is not a valid email address. Enter an email address like name@example.com." in response.get_data(as_text=True)


@pytest.mark.parametrize("form", ["contact", "comment"])
def test_no_form_leaves_the_address_to_the_browsers_own_email_check(app, client, form):
    """Chromium's <input type=email> refuses jörg@… before the form is sent: the field is text with an email keyboard."""
    response = submit(client, form, "not an address")
    field = re.search(r'<input[^>]*name="email"[^>]*>', response.get_data(as_text=True)).group(0)
    assert 'type="text"' in field and 'inputmode="email"' in field and 'autocomplete="email"' in field


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(local=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20),
       domain=st.sampled_from(["example.com", "bücher.example", "παράδειγμα.example", "XN--BCHER-KVA.example"]))
def test_every_address_the_rule_accepts_can_be_built_and_sent(app, local, domain):
    """What the form says "we have emailed you" about is a message that can be built, header and envelope."""
    from wtforms.validators import ValidationError

    from blueprints.forms import EmailAddress


    class Field:
        data = f"{local}@{domain}"

    try:
        EmailAddress()(None, Field)
    except ValidationError:  # refused at the form: a form error, nothing queued
        return
    row = OutboxMessage(message_id="<hyp@localhost>", template="test", to_addr=Field.data, to_name="Jörg",
                        reply_to=Field.data, reply_to_name="Jörg", subject="Grüße", text_body="x", html_body="",
                        attachments=[])
    built = build_message(row, app.config, smtputf8=True)
    raw = check_serialised(built)  # raises unless the bytes read back as exactly what was built
    (envelope,) = built.send_to
    parsed = message_from_string(raw.decode("utf-8"), policy=policy.default)
    assert parsed["To"].addresses[0].addr_spec == envelope
    assert envelope.rsplit("@", 1)[0] == Field.data.rsplit("@", 1)[0]


# --- delivery ---------------------------------------------------------------------------------

def test_a_booking_by_an_international_address_is_delivered_with_smtputf8(mail_app, relay):
    client = mail_app.test_client()
    assert submit(client, "booking", LOCAL_AND_DOMAIN).status_code == 303
    report = mailer.deliver_pending()
    assert (report.sent, report.failed) == (2, 0), report.errors

    copy = to(relay, LOCAL_AND_DOMAIN)
    assert copy.smtputf8 is True  # MAIL FROM:<…> SMTPUTF8
    assert header_line(copy, "To").endswith(f"<{LOCAL_AND_DOMAIN}>")  # RFC 6532: the address itself, in UTF-8
    parsed = received(copy)
    assert parsed["To"].addresses[0].addr_spec == LOCAL_AND_DOMAIN
    assert parsed["To"].addresses[0].display_name == "Jörg Müller"

    notification = to(relay, mail_app.config["CONSULTANT_EMAIL"])
    assert notification.smtputf8 is True
    assert received(notification)["Reply-To"].addresses[0].addr_spec == LOCAL_AND_DOMAIN
    assert {m.status for m in db.session.scalars(select(OutboxMessage))} == {OutboxMessage.SENT}


def test_an_ascii_message_does_not_ask_for_smtputf8(mail_app, relay):
    assert submit(mail_app.test_client(), "contact", "ada@example.com").status_code == 303
    mailer.deliver_pending()
    assert len(relay.messages) == 2 and all(m.smtputf8 is False and m.raw.isascii() for m in relay.messages)


def test_an_idn_domain_goes_to_its_a_label_and_needs_no_smtputf8(mail_app, ascii_relay):
    assert submit(mail_app.test_client(), "contact", DOMAIN_ONLY).status_code == 303
    report = mailer.deliver_pending()
    assert (report.sent, report.failed) == (2, 0), report.errors
    copy = to(ascii_relay, "info@xn--bcher-kva.example")
    assert copy.smtputf8 is False and copy.raw.isascii()
    assert copy["To"].addresses[0].addr_spec == "info@xn--bcher-kva.example"


def test_without_smtputf8_the_clients_copy_fails_with_a_reason_and_the_consultant_is_told(mail_app, ascii_relay):
    assert submit(mail_app.test_client(), "contact", LOCAL_ONLY).status_code == 303
    report = mailer.deliver_pending()
    assert (report.sent, report.failed) == (1, 1), report.errors

    copy = db.session.scalar(select(OutboxMessage).where(OutboxMessage.to_addr == LOCAL_ONLY))
    assert (copy.status, copy.attempts) == (OutboxMessage.FAILED, 1)
    assert copy.last_error.startswith("Not sent: the mail server does not accept international addresses (SMTPUTF8)")
    assert LOCAL_ONLY in copy.last_error
    assert "Error" not in copy.last_error  # a sentence, not an exception's name

    (notification,) = ascii_relay.messages
    assert notification.envelope_to == [mail_app.config["CONSULTANT_EMAIL"]] and notification.raw.isascii()
    assert notification["Reply-To"] is None  # the address cannot be written without SMTPUTF8
    text = notification.get_body(("plain",)).get_content()
    html = notification.get_body(("html",)).get_content()
    for body in (text, html):
        assert "Replying to this email will not reach" in body and LOCAL_ONLY in body
        assert "any copy the site sent them was not delivered" in body


def test_retry_after_the_relay_offers_smtputf8_delivers_it(mail_app, ascii_relay):
    assert submit(mail_app.test_client(), "booking", LOCAL_ONLY).status_code == 303
    mailer.deliver_pending()
    failed = db.session.scalar(select(OutboxMessage).where(OutboxMessage.status == OutboxMessage.FAILED))
    assert failed.to_addr == LOCAL_ONLY

    restart(ascii_relay, smtputf8=True)  # the consultant moves to a relay that offers it
    make_admin(email="owner@example.com", password="a long test password")
    admin = mail_app.test_client()
    assert admin.post("/admin/login", data={"email": "owner@example.com",
                                            "password": "a long test password"}).status_code == 303
    assert admin.post(f"/admin/outbox/{failed.id}/retry").status_code == 303
    report = mailer.deliver_pending()
    assert (report.sent, report.failed) == (1, 0), report.errors
    assert fresh(failed.id).status == OutboxMessage.SENT
    assert received(to(ascii_relay, LOCAL_ONLY))["To"].addresses[0].addr_spec == LOCAL_ONLY
