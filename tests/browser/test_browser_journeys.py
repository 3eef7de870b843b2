"""Whole journeys in Chromium against the live server, with the mail read from the real SMTP server."""
from __future__ import annotations

import re
import uuid

import pytest

from tests.browser.helpers import body_text, tab_to, type_into

pytestmark = pytest.mark.browser


def unique_email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:8]}@example.com"


def test_enquiry_reply_journey_by_keyboard_only(page, live_server):
    """A client sends an enquiry and the consultant replies, with Tab, Enter, Space and typing alone: no clicks."""
    client = unique_email("keyboard")
    name = f"Keyboard Client {uuid.uuid4().hex[:4]}"
    reply = "Thanks for the details. I can start the migration plan next Tuesday."
    keys = page.keyboard

    # The client arrives on the home page and finds the contact form through the main navigation.
    page.goto("/")
    tab_to(page, "nav[aria-label=Main] a[href='/contact']")
    keys.press("Enter")
    page.wait_for_url("**/contact")
    type_into(page, "#name", name)
    type_into(page, "#email", client)
    type_into(page, "#company", "Keyboard Ltd")
    tab_to(page, "#topic")
    keys.type("Private")  # a closed <select> picks the option whose text starts with what is typed
    assert page.eval_on_selector("#topic", "el => el.value") == "private-cloud"
    type_into(page, "#message", "We run 40 VMware hosts and want to move the test estate to OpenStack this year.")
    tab_to(page, "#consent")
    keys.press("Space")
    tab_to(page, "form.contact-form button[type=submit]")
    keys.press("Enter")
    page.wait_for_url("**/contact/thanks*")
    assert "Thank you" in page.locator("h1").inner_text()

    acknowledgement = live_server.mail.to(client, "Thank you")
    assert name in body_text(acknowledgement)
    notification = live_server.mail.wait_for(
        lambda m: client in str(m.get("Reply-To", "")), what=f"a notification with Reply-To {client}"
    )
    assert live_server.app.config["CONSULTANT_EMAIL"] in str(notification["To"])

    # The consultant signs in, finds the enquiry in the inbox and replies.
    page.goto("/admin/login")
    type_into(page, "#email", live_server.admin_email)
    type_into(page, "#password", live_server.admin_password)
    keys.press("Enter")  # Enter in a field submits its form
    page.wait_for_url(re.compile(r"/admin/?$"))
    tab_to(page, "nav[aria-label=Admin] a[href='/admin/enquiries']")
    keys.press("Enter")
    page.wait_for_url("**/admin/enquiries")
    focused = tab_to(page, "a[href^='/admin/enquiries/']", text=name)
    assert name in focused
    keys.press("Enter")
    page.wait_for_url(re.compile(r"/admin/enquiries/\d+$"))
    type_into(page, "#body", reply)
    tab_to(page, "form[action$='/reply'] button[type=submit]")
    keys.press("Enter")
    page.wait_for_url(re.compile(r"/admin/enquiries/\d+"))
    assert f"Reply queued to {client}" in page.locator(".flash").inner_text()

    # The reply reaches the client, from the outbox, through the real SMTP server.
    answer = live_server.mail.to(client, "Re:")
    assert reply in body_text(answer)
    assert answer.get_body(preferencelist=("html",)) is not None, "every email has an HTML part too"
