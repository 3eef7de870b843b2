"""The shell in Chromium: where a form's result shows, the site header and the dashboard on a phone, and the
pages this slice changed (post editor, outbox), screenshotted at 390 and 1280 px."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.browser.helpers import SCREENSHOTS, WIDTHS, log_in, new_context, screenshot

pytestmark = pytest.mark.browser

ARTICLE = "/blog/virtualization-and-containerization"  # the seed article: long, its comment form far down

IN_VIEW = """(el) => { const r = el.getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, height: innerHeight, visible: r.height > 0 && r.top >= 0 && r.bottom <= innerHeight}; }"""


def assert_in_view(locator, what: str) -> None:
    locator.wait_for(state="attached")
    box = locator.evaluate(IN_VIEW)
    assert box["visible"], f"{what} is not where the eye is: top {box['top']:.0f}, bottom {box['bottom']:.0f} px, viewport {box['height']} px"


def assert_no_sideways_scroll(page) -> None:
    wide = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert wide[0] <= wide[1], f"{page.url} is {wide[0]} px wide in a {wide[1]} px window"


def viewport_shot(page, name: str) -> None:
    """What the person sees at that moment (not the whole page): the result must be in it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@pytest.fixture(params=list(WIDTHS))
def width(request):
    return request.param


@pytest.fixture
def sized_page(browser, live_server, width):
    context = new_context(browser, live_server, width)
    yield context.new_page()
    context.close()


@pytest.fixture
def admin_page(sized_page, live_server):
    log_in(sized_page, live_server)
    return sized_page


def in_app(live_server, work):
    with live_server.app.app_context():
        from extensions import db

        try:
            return work(db)
        finally:
            db.session.remove()


# --- item 6: the result of a form is where the eye is --------------------------------------------

def test_a_comments_confirmation_is_in_view(sized_page, width):
    page = sized_page
    page.goto(ARTICLE)
    page.fill("#name", "Zoë Ångström")
    page.fill("#email", f"zoe-{uuid.uuid4().hex[:6]}@example.com")
    page.fill("#body", "Sehr hilfreich, danke! Eine Frage zu cgroups v2 und rootless Podman.")
    page.check("#consent")
    page.click("form.comment-form button[type=submit], form.comment-form input[type=submit]")
    page.wait_for_load_state()
    assert_in_view(page.get_by_text("Thank you for your comment"), "the comment's confirmation")
    # The form under it is empty again: a second comment is not a resubmission of the first.
    assert page.input_value("#body") == ""
    viewport_shot(page, f"shell-post-after-comment-{width}")


def test_the_contact_forms_thank_you_is_in_view(sized_page, width):
    page = sized_page
    page.goto("/contact")
    page.fill("#name", "Jörg Øster")
    page.fill("#email", f"joerg-{uuid.uuid4().hex[:6]}@example.com")
    page.select_option("#topic", index=1)
    page.fill("#message", "Wir möchten 40 VMware-Hosts nach OpenStack migrieren. Können Sie helfen?")
    page.check("#consent")
    page.locator("form.contact-form button[type=submit]").click()
    page.wait_for_load_state()
    assert_in_view(page.locator("main h1"), "the contact form's thank-you")
    viewport_shot(page, f"shell-contact-thanks-{width}")


def test_an_admin_actions_result_is_in_view_after_an_action_far_down_a_page(admin_page, live_server, width):
    page = admin_page

    def failed_message(db):
        from models import OutboxMessage

        row = OutboxMessage(message_id=f"<long-{uuid.uuid4().hex}@localhost>", template="test", to_addr="kunde@example.com",
                            subject="Ihre Buchung: Kubernetes für Einsteiger", status=OutboxMessage.FAILED, attempts=8,
                            text_body="\n".join(f"Zeile {n}: Grüße aus Köln." for n in range(200)), attachments=[],
                            last_error="ConnectionRefusedError: [Errno 111] Connection refused")
        db.session.add(row)
        db.session.commit()
        return row.id

    message_id = in_app(live_server, failed_message)
    page.goto(f"/admin/outbox/{message_id}")
    page.get_by_role("button", name="Retry delivery").scroll_into_view_if_needed()
    page.get_by_role("button", name="Retry delivery").click()
    page.wait_for_load_state()
    assert_in_view(page.get_by_text("Queued again"), "the outbox's retry result")
    viewport_shot(page, f"shell-outbox-after-retry-{width}")

    def draft(db):
        from models import Post

        post = Post(slug=f"entwurf-{uuid.uuid4().hex[:6]}", title="Entwurf: Netzwerke für Einsteiger", status=Post.DRAFT,
                    body="Text.")
        db.session.add(post)
        db.session.commit()
        return post.id

    post_id = in_app(live_server, draft)
    page.goto("/admin/content")
    button = page.locator(f"form[action='/admin/posts/{post_id}/publish'] button")
    button.scroll_into_view_if_needed()
    button.click()
    page.wait_for_load_state()
    assert "#posts" in page.url
    assert_in_view(page.get_by_text("Entwurf: Netzwerke für Einsteiger” is now published"), "the content list's publish result")
    viewport_shot(page, f"shell-content-after-publish-{width}")


# --- the header and the dashboard on a phone ------------------------------------------------------

def test_the_site_header_is_one_compact_row_with_every_link(sized_page, width):
    page = sized_page
    page.goto("/")
    header = page.locator("header.site-header").bounding_box()
    assert header["height"] <= 80, f"the header is {header['height']:.0f} px tall at {width}"
    viewport = page.viewport_size["width"]
    for name in ("Services", "Training", "Articles", "Contact"):
        link = page.locator("nav[aria-label=Main]").get_by_role("link", name=name, exact=True)
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport, f"{name} is off-screen"
        assert box["y"] >= header["y"] and box["y"] + box["height"] <= header["y"] + header["height"], f"{name} is outside the header"
        assert box["height"] >= 24, f"{name} is too small a target ({box['height']:.0f} px)"
    screenshot(page, f"shell-home-header-{width}")


def test_the_dashboard_seat_bar_is_fully_visible(admin_page, live_server, width):
    page = admin_page

    def a_session(db):
        from datetime import datetime, timezone

        from models import Course, TrainingSession

        course = db.session.query(Course).order_by(Course.id).first()
        session = TrainingSession(course=course, starts_at=datetime.now(timezone.utc) + timedelta(days=3),
                                  ends_at=datetime.now(timezone.utc) + timedelta(days=3, hours=7),
                                  timezone="Europe/Berlin", capacity=12, location="Köln")
        db.session.add(session)
        db.session.commit()

    in_app(live_server, a_session)
    page.goto("/admin/")
    header = page.locator("header.site-header").bounding_box()
    assert header["height"] <= 130, f"the admin header is {header['height']:.0f} px tall at {width}"
    for item in page.locator("nav[aria-label=Admin] li").all():
        box = item.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"], "an admin link is off-screen"
    bars = page.locator("main .seats")
    assert bars.count() > 0, "no seat bar on the dashboard"
    for n in range(bars.count()):
        bar = bars.nth(n)
        box = bar.evaluate("""(el) => {
          const r = el.getBoundingClientRect(); const main = document.querySelector('main').getBoundingClientRect();
          let clipped = false;
          for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
            const s = getComputedStyle(p);
            if (s.overflowX !== 'visible') {
              const c = p.getBoundingClientRect();
              if (r.left < c.left - 0.5 || r.right > c.right + 0.5 || p.scrollWidth > p.clientWidth + 1) clipped = true;
            }
          }
          return {left: r.left, right: r.right, mainLeft: main.left, mainRight: main.right, width: innerWidth, clipped};
        }""")
        assert not box["clipped"], f"seat bar {n} is clipped by a scrolling container at {width}: {box}"
        assert box["left"] >= 0 and box["right"] <= box["width"], f"seat bar {n} runs off the screen: {box}"
    screenshot(page, f"shell-dashboard-{width}")


# --- the pages this slice changed -----------------------------------------------------------------

def test_screenshots_of_the_post_editor_and_the_outbox(admin_page, live_server, width):
    page = admin_page
    page.goto("/admin/posts/new")
    page.fill("#title", "Virtualisierung für Einsteiger")
    page.fill("#body", "## Warum?\n\nWeil es *spart*.")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_load_state()
    assert page.input_value("#slug") == "virtualisierung-fur-einsteiger"
    assert "Europe/London" in page.locator("label[for=published_at]").inner_text()
    assert_no_sideways_scroll(page)
    screenshot(page, f"shell-post-editor-{width}")

    def messages(db):
        from models import OutboxMessage, utcnow

        def row(**fields):
            message = OutboxMessage(message_id=f"<shot-{uuid.uuid4().hex}@localhost>", template="test",
                                    to_addr="kunde@example.com", to_name="Jörg Øster", text_body="Guten Tag,\nbis bald.",
                                    attachments=[], **fields)
            db.session.add(message)
            return message

        row(subject="Buchung bestätigt", status=OutboxMessage.SENT, attempts=1, sent_at=utcnow())
        row(subject="Ihre Anfrage", status=OutboxMessage.FAILED, attempts=8,
            last_error="PermanentError: SMTPRecipientsRefused: {'jörg@exämple.com': (550, b'5.1.1 Mailbox does not exist')}")
        waiting = row(subject="Erinnerung: Kubernetes für Einsteiger", attempts=2, next_attempt_at=utcnow() + timedelta(minutes=4),
                      last_error="SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                                 "self-signed certificate (_ssl.c:1006)")
        db.session.commit()
        return waiting.id

    waiting_id = in_app(live_server, messages)
    page.goto("/admin/outbox")
    assert page.locator("main table").count() == 1
    assert_no_sideways_scroll(page)
    screenshot(page, f"shell-outbox-{width}")
    page.goto(f"/admin/outbox/{waiting_id}")
    page.locator("details summary").click()  # the raw error, opened for the screenshot
    assert "2 attempts of" in page.locator("main").inner_text()
    assert page.get_by_role("button", name="Send now").is_visible()
    assert_no_sideways_scroll(page)
    screenshot(page, f"shell-outbox-message-{width}")


def test_the_changed_pages_are_valid_html(browser, live_server, vnu):
    context = new_context(browser, live_server)
    page = context.new_page()
    log_in(page, live_server)

    def fixtures(db):
        from models import OutboxMessage, Post

        draft = Post(slug=f"vorschau-{uuid.uuid4().hex[:6]}", title="Vorschau: Ärger mit Überläufen", status=Post.DRAFT,
                     body="## Einleitung\n\nText mit **Fettdruck**.")
        message = OutboxMessage(message_id=f"<valid-{uuid.uuid4().hex}@localhost>", template="test", to_addr="a@example.com",
                                subject="Gültig?", text_body="Text", attachments=[], attempts=1,
                                last_error="TimeoutError: timed out", related="comment:1")
        db.session.add_all([draft, message])
        db.session.commit()
        return draft.id, message.id

    post_id, message_id = in_app(live_server, fixtures)
    paths = [f"/admin/posts/{post_id}", f"/admin/posts/{post_id}/preview", "/admin/posts/new", "/admin/outbox",
             f"/admin/outbox/{message_id}", "/admin/", "/", ARTICLE]
    documents = {}
    for path in paths:
        response = context.request.get(live_server(path))
        assert response.status == 200, path
        documents[path] = response.text()
    context.close()
    errors = {path: found for path, found in vnu(documents).items() if found}
    assert not errors, errors
