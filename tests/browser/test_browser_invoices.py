"""Getting paid in Chromium: book with invoice details -> the consultant confirms -> the invoice PDF arrives with the
confirmation -> the consultant marks it paid -> it leaves the overdue list. Screenshots at 390 and 1280 px."""
from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader

from tests.browser.helpers import WIDTHS, body_text, log_in, new_context, screenshot

pytestmark = pytest.mark.browser

SELLER = dict(legal_name="Linus Tribe Infrastruktur GmbH", address="Hauptstraße 5\n10115 Berlin", country="DE",
              vat_id="DE136695976", iban="DE89370400440532013000", bic="COBADEFFXXX", currency="EUR",
              default_tax_rate=Decimal("19"), footer_note="Amtsgericht Berlin HRB 12345")


def priced_world(live_server, terms_days: int = 14) -> int:
    """The consultant's business details and a priced session of a course of its own; returns the session id."""
    from extensions import db
    from models import BusinessDetails
    from tests.factories import make_course, make_session

    with live_server.app.app_context():
        details = db.session.get(BusinessDetails, 1) or BusinessDetails(id=1)
        for key, value in {**SELLER, "payment_terms_days": terms_days}.items():
            setattr(details, key, value)
        db.session.add(details)
        db.session.commit()
        tag = uuid.uuid4().hex[:6]
        course = make_course(slug=f"ceph-{tag}", title=f"Ceph für Fortgeschrittene {tag}", price=650, currency="EUR",
                             formats=["online"], outline=[])
        session = make_session(course=course, capacity=8, timezone="Europe/Berlin",
                               starts_at=datetime.now(UTC).replace(microsecond=0) + timedelta(days=30))
        found = session.id
        db.session.remove()
    return found


def shoot(page, name: str) -> None:
    for label, (w, h) in WIDTHS.items():
        page.set_viewport_size({"width": w, "height": h})
        screenshot(page, f"invoices-{name}-{w}")
        del label


def pretend_today_is(live_server, day) -> None:
    """Move the consultant's calendar (the day overdue is counted from) without touching the clock of anything else."""
    import blueprints.invoices.operations as module

    module.local_today = (lambda now=None: day) if day else module._real_local_today


def test_book_confirm_receive_the_invoice_mark_it_paid(browser, live_server, vnu):
    import blueprints.invoices.operations as module

    module._real_local_today = getattr(module, "_real_local_today", module.local_today)
    session_id = priced_world(live_server, terms_days=0)
    email = f"zoe-{uuid.uuid4().hex[:6]}@bücher.example"
    context = new_context(browser, live_server, "desktop")
    page = context.new_page()
    try:
        # The client books, with the invoice details the priced course asks for.
        page.goto(f"/training/sessions/{session_id}/book")
        assert page.get_by_role("group", name="Invoice details").is_visible()
        shoot(page, "book-form")
        page.get_by_label("Your name").fill("Zoë Łukasiewicz")
        page.locator("#email").fill(email)
        page.locator("#company").fill("Librairie Zoë & Fils SARL")
        page.locator("#seats").fill("2")
        page.get_by_label("Billing address").fill("12 rue de Rivoli\n75001 Paris\nFrance")
        page.get_by_label("VAT id").fill("FR 40 303 265 046")  # one digit off: the checksum catches it
        page.get_by_label("Purchase order reference").fill("BC-2026/114")
        page.locator("#consent").check()
        page.get_by_role("button", name=re.compile("Request")).click()
        assert "This is not a valid VAT id" in page.locator("#vat_id-error").inner_text()
        page.get_by_label("VAT id").fill("FR 40 303 265 045")
        page.locator("#consent").check()
        page.get_by_role("button", name=re.compile("Request")).click()
        page.wait_for_url(re.compile(r"/bookings/[^/]+$"))
        booking_page = page.url

        # The consultant confirms it.
        admin = context.new_page()
        log_in(admin, live_server)
        admin.goto(f"/admin/sessions/{session_id}")
        admin.get_by_role("button", name="Confirm").first.click()
        admin.wait_for_load_state()
        invoice_link = admin.get_by_role("link", name=re.compile(r"Invoice INV-\d{4}-\d{4}"))
        number = re.search(r"INV-\d{4}-\d{4}", invoice_link.inner_text()).group(0)

        # The invoice PDF arrives with the confirmation.
        mail = live_server.mail.to(email.split("@")[0] + "@", "confirmed")  # the domain arrives as IDNA
        parts = [p for p in mail.walk() if p.get_content_type() == "application/pdf"]
        assert len(parts) == 1 and parts[0].get_filename() == f"invoice-{number}.pdf"
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(parts[0].get_payload(decode=True))).pages)
        for expected in (number, "Linus Tribe Infrastruktur GmbH", "Librairie Zoë & Fils SARL", "FR40303265045",
                         "BC-2026/114", "2 €650.00", "€1,300.00", "VAT 19 % of €1,300.00", "€247.00", "€1,547.00"):
            assert expected in text, expected
        assert f"Your invoice {number} is attached" in body_text(mail)

        # The client sees it on their booking page too.
        page.goto(booking_page)
        link = page.get_by_role("link", name=re.compile(f"Invoice {number}"))
        assert link.is_visible()
        shoot(page, "booking-page")

        # A day after its due date it is overdue on the dashboard; the consultant marks the transfer received.
        pretend_today_is(live_server, datetime.now(UTC).date() + timedelta(days=1))
        admin.goto("/admin/")
        overdue = admin.locator("section, table").filter(has_text=number)
        assert admin.get_by_role("heading", name="Overdue invoices").is_visible() and overdue.count() >= 1
        shoot(admin, "dashboard-overdue")
        admin.get_by_role("link", name=number).click()
        admin.wait_for_load_state()
        shoot(admin, "invoice")
        invoice_html = admin.content()
        assert admin.get_by_label("Amount received").input_value() == "1547.00"
        admin.get_by_label("Bank reference").fill("SEPA Überweisung 4711")
        admin.get_by_role("button", name="Record payment").click()
        admin.wait_for_load_state()
        assert f"Payment recorded: {number} is paid." in admin.locator("#payment-result").inner_text()
        admin.goto("/admin/")
        assert admin.get_by_role("link", name=number).count() == 0, "a paid invoice is still on the overdue list"
        assert "None: every invoice is paid or not yet due." in admin.content()

        admin.goto("/admin/settings/business")
        shoot(admin, "business-details")
        settings_html = admin.content()
        admin.goto("/admin/invoices?show=all")
        shoot(admin, "list")
        problems = vnu({"invoice": invoice_html, "business details": settings_html, "list": admin.content()})
        assert all(not found for found in problems.values()), problems
    finally:
        pretend_today_is(live_server, None)
        context.close()


def axe_violations(page) -> list[str]:
    """axe-core's WCAG 2.1 A/AA rules on the page, one line per violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in results.response["violations"]]


@pytest.fixture
def card_payments(live_server):
    """Card payment on, against the Stripe stand-in, for this test only."""
    from tests.payments.stripe_standin import SECRET_KEY, WEBHOOK_SECRET, serve

    standin, server = serve()
    config = live_server.app.config
    before = {k: config.get(k) for k in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE",
                                         "STRIPE_CHECKOUT_ORIGIN")}
    config.update(STRIPE_SECRET_KEY=SECRET_KEY, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, STRIPE_API_BASE=standin.url,
                  STRIPE_CHECKOUT_ORIGIN=standin.url)
    yield standin
    config.update(before)
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_pay_by_card_pages_are_accessible_and_valid(browser, live_server, card_payments, vnu, width):
    import json
    import urllib.request

    from tests.payments.stripe_standin import sign

    session_id = priced_world(live_server)
    email = f"hakon-{uuid.uuid4().hex[:6]}@fjord.example"
    context = new_context(browser, live_server, width)
    page = context.new_page()
    w = WIDTHS[width][0]
    try:
        page.goto(f"/training/sessions/{session_id}/book")
        assert axe_violations(page) == []
        book_html = page.content()
        page.get_by_label("Your name").fill("Håkon Ærø")
        page.locator("#email").fill(email)
        page.get_by_label("Billing address").fill("Storgata 1\n0155 Oslo")
        page.locator("#consent").check()
        page.get_by_role("button", name="Pay by card now").click()
        page.wait_for_url(re.compile(r"/bookings/[^/]+/pay$"))
        assert "€773.50" in page.content()  # €650 + 19 %
        assert axe_violations(page) == []
        screenshot(page, f"invoices-pay-{w}")
        pay_html = page.content()
        booking_url = page.url.removesuffix("/pay")
        with page.expect_response(lambda r: "/c/pay/" in r.url):
            page.get_by_role("button", name="Continue to payment").click()
        assert page.url.startswith(card_payments.url + "/c/pay/cs_test_")  # on to "Stripe"
        page.goto(booking_url)
        assert "held for your card payment until" in page.content()
        assert axe_violations(page) == []
        screenshot(page, f"invoices-booking-held-{w}")
        held_html = page.content()

        [checkout_id] = list(card_payments.sessions)
        body = json.dumps(card_payments.event("checkout.session.completed", checkout_id))
        request = urllib.request.Request(f"{live_server.url}/payments/stripe/webhook", data=body.encode(), method="POST",
                                         headers={"Content-Type": "application/json", "Stripe-Signature": sign(body)})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert json.loads(answer.read())["outcome"] == "confirmed and paid"
        mail = live_server.mail.to(email, "confirmed")
        assert "Paid by card: thank you" in body_text(mail)
        page.goto(booking_url)
        assert "Confirmed" in page.locator(".booking-status").inner_text() and "paid" in page.content()
        problems = vnu({"book": book_html, "pay": pay_html, "held": held_html, "paid": page.content()})
        assert all(not found for found in problems.values()), problems
    finally:
        context.close()
