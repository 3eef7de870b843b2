"""International email addresses typed into the public forms in Chromium, delivered through the live server's SMTP server.

Chromium's own <input type=email> check refuses a non-ASCII local part before the form is even
sent ("A part followed by '@' should not contain the symbol 'ö'"): the forms use a text field
with the email keyboard, and the server's one rule (blueprints/forms.py EmailAddress) decides.
"""
from __future__ import annotations

import re
import uuid

import pytest

from tests.browser.helpers import WIDTHS, new_context, screenshot

pytestmark = pytest.mark.browser


def international(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}@bücher.example"


def delivered_to(live_server, address: str):
    """The message whose envelope is exactly `address`, with the address in UTF-8 on the wire."""
    message = live_server.mail.wait_for(lambda m: m.envelope_to == [address], what=f"an email to {address}")
    assert f"<{address}>".encode() in message.raw, "the To header names the address as typed (RFC 6532)"
    return message


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_contact_form_takes_an_international_address_and_the_copy_arrives(browser, live_server, width):
    context = new_context(browser, live_server, width)
    page = context.new_page()
    address = international("jörg")
    page.goto("/contact")
    email = page.locator("#email")
    assert email.get_attribute("type") == "text" and email.get_attribute("inputmode") == "email"
    page.locator("#name").fill("Jörg Müller")
    email.fill(address)
    page.locator("#topic").select_option("other")
    page.locator("#message").fill("Wir möchten unseren Cluster im Frühjahr migrieren und brauchen Hilfe.")
    page.locator("#consent").check()
    page.locator("form.contact-form button[type=submit]").click()
    page.wait_for_url("**/contact/thanks*")
    assert "Thank you" in page.locator("h1").inner_text()
    screenshot(page, f"mail-contact-international-thanks-{width}")
    delivered_to(live_server, address)
    context.close()


def test_a_bad_address_gets_the_servers_message_beside_the_field(browser, live_server):
    context = new_context(browser, live_server, "phone")
    page = context.new_page()
    page.goto("/contact")
    page.locator("#name").fill("Jörg Müller")
    page.locator("#email").fill("jörg@@bücher.example")
    page.locator("#topic").select_option("other")
    page.locator("#message").fill("Wir möchten unseren Cluster im Frühjahr migrieren und brauchen Hilfe.")
    page.locator("#consent").check()
    page.locator("form.contact-form button[type=submit]").click()
    page.wait_for_load_state()
    error = page.locator("#email-error")
    assert "Enter an email address like name@example.com." in error.inner_text()
    assert page.locator("#email").get_attribute("aria-invalid") == "true"
    screenshot(page, "mail-contact-bad-address-phone")
    context.close()


def test_a_booking_by_an_international_address_gets_its_email(browser, live_server):
    context = new_context(browser, live_server, "desktop")
    page = context.new_page()
    address = international("zoë")
    page.goto("/training/docker")
    page.locator("a[href^='/training/sessions/'][href$='/book']").first.click()
    page.wait_for_url(re.compile(r"/training/sessions/\d+/book$"))
    page.locator("#name").fill("Zoë Ångström")
    page.locator("#email").fill(address)
    page.locator("#consent").check()
    page.get_by_role("button", name=re.compile("Request")).click()
    page.wait_for_url(re.compile(r"/bookings/[^/]+$"))
    message = delivered_to(live_server, address)
    assert str(message["Subject"]).startswith("Booking request received")
    context.close()


def test_the_email_fields_are_valid_html(browser, live_server, vnu):
    context = new_context(browser, live_server)
    documents = {path: context.request.get(live_server(path)).text()
                 for path in ("/contact", "/training/docker", "/blog/virtualization-and-containerization")}
    context.close()
    assert all('inputmode="email"' in html for html in documents.values())
    found = vnu(documents)
    assert not any(found.values()), found
