"""Issue #15, enquiries, in Chromium against the live server: a too-fast enquiry held, counted and released
with one click (its emails arriving at the real SMTP server), the thread's delivery states, the status filter.

Screenshots at 390 and 1280 px: reports/screenshots/enq-<page>-<width>.png.
"""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest

from tests.browser.helpers import WIDTHS, body_text, log_in, new_context, screenshot
from tests.browser.test_browser_pages import axe  # noqa: F401  (the session fixture running axe-core)

pytestmark = pytest.mark.browser


def unique_email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:8]}@bücher.example"


@pytest.fixture
def fast_is_too_fast(live_server):
    """The live server accepts any speed (a script types faster than a person); here a person is slow again."""
    config = live_server.app.config
    before = config["SPAM_MIN_SECONDS"]
    config["SPAM_MIN_SECONDS"] = 30
    yield
    config["SPAM_MIN_SECONDS"] = before


def signed_in(browser, live_server, width: str):
    context = new_context(browser, live_server, width)
    page = context.new_page()
    log_in(page, live_server)
    return context, page


def fill_contact_form(page, name: str, email: str, message: str) -> None:
    page.goto("/contact")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email address").fill(email)
    page.locator("#topic").select_option("other")
    page.get_by_label("Your message").fill(message)
    page.locator("#consent").check()
    page.locator("form.contact-form button[type=submit]").click()
    page.wait_for_url("**/contact/thanks*")


def test_a_fast_enquiry_is_held_counted_and_released_with_one_click(browser, live_server, fast_is_too_fast, axe):  # noqa: F811
    name = f"Søren Ødegård {uuid.uuid4().hex[:4]}"
    client = unique_email("soren")
    message = "Autofill and paste: we need a plan for 40 hypervisors before the summer, bitte."

    # The visitor is quick (autofill, paste): the page thanks them and promises no copy it will not send.
    for width in WIDTHS:
        visitor = new_context(browser, live_server, width)
        page = visitor.new_page()
        if width == "desktop":
            fill_contact_form(page, name, client, message)
        else:  # the same page at phone width, for the screenshot
            page.goto(live_server("/contact/thanks?copy=0"))
        text = page.locator("main").inner_text()
        assert "Thank you, your message has arrived" in text and "two working days" in text
        assert "copy" not in text.lower() and "spam" not in text.lower()
        screenshot(page, f"enq-thanks-unsent-{WIDTHS[width][0]}")
        visitor.close()

    # The consultant's daily view: the dashboard counts it, the inbox says why nobody was emailed.
    for width in ("phone", "desktop"):
        context, page = signed_in(browser, live_server, width)
        page.goto("/admin/")
        held_card = page.locator("a[href='/admin/enquiries?status=held']")
        assert re.search(r"\d+\s+enquir(y|ies) held for review, not yet emailed", held_card.inner_text())
        page.goto("/admin/enquiries")
        assert "held for review" in page.locator(".held-notice").inner_text()
        row = page.locator("tr", has_text=name)
        assert "held for review" in row.inner_text().lower()
        assert not axe(page), axe(page)
        screenshot(page, f"enq-list-held-{WIDTHS[width][0]}")
        page.goto("/admin/enquiries?status=held")
        screenshot(page, f"enq-list-held-filter-{WIDTHS[width][0]}")
        page.locator("tr", has_text=name).get_by_role("link", name=name).click()
        assert "Held for review: nobody has been emailed yet." in page.locator("main").inner_text()
        screenshot(page, f"enq-enquiry-held-{WIDTHS[width][0]}")
        if width == "phone":
            context.close()
    assert not [m for m in live_server.mail.messages if client.split("@")[0] in str(m["To"])]

    # One click in the list releases it: the client's copy and the notification go out.
    page.goto("/admin/enquiries?status=held")
    page.locator("tr", has_text=name).get_by_role("button", name=re.compile("^Release")).click()
    page.wait_for_url("**/admin/enquiries?status=held")
    assert "Released to the inbox" in page.locator(".flash").inner_text()
    screenshot(page, "enq-list-released-1280")
    acknowledgement = live_server.mail.to(client.split("@")[0], "Thank you")
    assert message in body_text(acknowledgement)
    notification = live_server.mail.wait_for(lambda m: client.split("@")[0] in str(m.get("Reply-To", "")),
                                             what="the consultant's notification")
    assert name in body_text(notification)
    context.close()


def make_thread(live_server):
    """An enquiry whose replies stand at each delivery state (the outbox rows set as delivery leaves them)."""
    from extensions import db
    from models import Enquiry, EnquiryMessage, OutboxMessage
    from models.base import utcnow
    from tests.factories import make_enquiry

    now = utcnow()
    states = {
        "queued": dict(status=OutboxMessage.PENDING, attempts=0, next_attempt_at=now + timedelta(days=1)),
        "retrying": dict(status=OutboxMessage.PENDING, attempts=2, next_attempt_at=now + timedelta(days=1),
                         last_error="ConnectionRefusedError: [Errno 111] Connection refused"),
        "failed": dict(status=OutboxMessage.FAILED, attempts=8,
                       last_error="SMTPRecipientsRefused: {'nadia@example.invalid': (550, b'5.1.1 No such user')}"),
        "sent": dict(status=OutboxMessage.SENT, attempts=1, sent_at=now - timedelta(minutes=5)),
    }
    with live_server.app.app_context():
        enquiry = make_enquiry(name="نادية الخطيب", email="nadia@example.org", kind=Enquiry.PRIVATE_TRAINING,
                               topic="training", training_format="on-site", attendees=5,
                               preferred_dates="Week of 9 March (not the 29th: DST)")
        for n, (state, fields) in enumerate(states.items()):
            message = OutboxMessage(message_id=f"<{uuid.uuid4().hex}@localhost>", template="enquiry_reply",
                                    to_addr="nadia@example.org", subject=f"Re: Private request ({state})",
                                    text_body="…", related=f"enquiry:{enquiry.id}", **fields)
            db.session.add(message)
            db.session.flush()
            db.session.add(EnquiryMessage(enquiry_id=enquiry.id, kind=EnquiryMessage.REPLY, outbox_message_id=message.id,
                                          body=f"Reply {n + 1}: {state}", created_at=now - timedelta(hours=4 - n)))
        db.session.commit()
        return enquiry.id


def test_the_thread_shows_each_replys_delivery_state(browser, live_server, axe):  # noqa: F811
    enquiry_id = make_thread(live_server)
    for width in ("phone", "desktop"):
        context, page = signed_in(browser, live_server, width)
        page.goto(f"/admin/enquiries/{enquiry_id}")
        items = page.locator("ol.thread > li")
        texts = [items.nth(i).inner_text() for i in range(items.count())]
        assert "Email: QUEUED Not sent yet" in texts[0]  # the badge is upper case by CSS
        assert "RETRYING Not delivered yet (2 tries), will retry; next attempt" in texts[1]
        assert "refused the connection" in texts[1]
        assert "FAILED Not delivered" in texts[2] and "refused the message (550): 5.1.1 No such user" in texts[2]
        assert "Retry it from the outbox" in texts[2]
        assert re.search(r"Email: SENT \w{3} \d+ \w+ \d{4}", texts[3])
        assert not any("Errno" in t or "SMTPRecipientsRefused" in t for t in texts)
        facts = page.locator("dl.facts").inner_text()
        assert "On-site at your premises" in facts and "Training" in facts
        # Each state links to its email in the outbox.
        assert items.nth(2).get_by_role("link", name=re.compile("outbox")).count() == 1
        assert not axe(page), axe(page)
        screenshot(page, f"enq-thread-delivery-{WIDTHS[width][0]}")
        if width == "desktop":
            items.nth(2).get_by_role("link", name=re.compile("outbox")).click()
            page.wait_for_url(re.compile(r"/admin/outbox/\d+$"))
            assert "Re: Private request (failed)" in page.locator("h1").inner_text()
        context.close()


def test_a_reply_written_in_the_browser_shows_sent_once_delivered(browser, live_server):
    from tests.factories import make_enquiry

    client = unique_email("li")
    with live_server.app.app_context():
        enquiry_id = make_enquiry(name="李小龍", email=client).id
    context, page = signed_in(browser, live_server, "desktop")
    page.goto(f"/admin/enquiries/{enquiry_id}")
    page.locator("#body").fill("Happy to help: shall we talk on Tuesday?")
    page.locator("form[action$='/reply'] button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/admin/enquiries/{enquiry_id}$"))
    assert "Reply sent" not in page.locator("ol.thread").inner_text()
    live_server.mail.to(client.split("@")[0], "Re:")
    page.reload()
    assert page.locator("ol.thread .delivery").inner_text().startswith("Email: SENT ")
    context.close()


def test_the_status_filter_text_fits_its_select(browser, live_server):
    for width in ("phone", "desktop"):
        context, page = signed_in(browser, live_server, width)
        page.goto("/admin/enquiries")
        # The selected option's text against the room inside the select (less the native arrow).
        fit = page.eval_on_selector("#status", """el => {
            const s = getComputedStyle(el), c = document.createElement('canvas').getContext('2d');
            c.font = `${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
            const text = el.options[el.selectedIndex].text;
            return {text, needed: c.measureText(text).width,
                    room: el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight) - 20};
        }""")
        assert fit["needed"] <= fit["room"], f"at {width}: {fit}"
        label = page.locator("label[for=status]").inner_text()
        assert label.startswith("Status")
        screenshot(page, f"enq-list-filter-{WIDTHS[width][0]}")
        context.close()


def test_the_changed_pages_are_valid_html(browser, live_server, vnu):
    from models import Enquiry
    from tests.factories import make_enquiry

    with live_server.app.app_context():
        held = make_enquiry(name="Ünal Öztürk", status=Enquiry.HELD, spam_reason="submitted too fast").id
    thread = make_thread(live_server)
    context, page = signed_in(browser, live_server, "desktop")
    paths = ["/admin/", "/admin/enquiries", "/admin/enquiries?status=held", f"/admin/enquiries/{held}",
             f"/admin/enquiries/{thread}", "/contact/thanks", "/contact/thanks?copy=0"]
    documents = {path: context.request.get(live_server(path)).text() for path in paths}
    context.close()
    found = {path: errors for path, errors in vnu(documents).items() if errors}
    assert not found, found
