"""Invoices are kept as tax law requires: the privacy page says for how long (INVOICE_RETENTION_YEARS), an erasure
request leaves them as issued (and its confirmation page says so), and the retention job deletes them only after."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, time, timezone

from sqlalchemy import func, select

from blueprints.admin import retention
from blueprints.admin.operations import ERASED, ERASED_EMAIL
from blueprints.invoices import operations as inv_ops
from blueprints.training import operations as ops
from extensions import db
from models import Booking, Invoice, OutboxMessage
from models.invoices import local_today
from models.transactions import begin_write
from tests.factories import make_booking
from tests.invoices.helpers import business, priced_session
from tests.training.helpers import run

PERSON = dict(name="Ólafur Ragnar Grímsson", email="ólafur@reykjavík.example", company="Grímsson ehf.",
              billing_address="Laugavegur 1\n101 Reykjavík\nÍsland", vat_id="", po_reference="")


def noon(year: int, month: int = 6, day: int = 15) -> datetime:
    return datetime.combine(datetime(year, month, day).date(), time(12), tzinfo=timezone.utc)


def issued(booking: Booking, when: datetime) -> Invoice:
    begin_write()
    return inv_ops.issue_invoice(booking, None, now=when)


def credited(invoice: Invoice, when: datetime) -> Invoice:
    begin_write()
    return inv_ops.credit_invoice(invoice, None, reason="Korrektur", now=when)


def invoice_for(session, when: datetime, **fields) -> Invoice:
    booking = make_booking(session, status=Booking.CONFIRMED, **{**PERSON, **fields})
    return run(issued, booking, when)


# --- the privacy page ------------------------------------------------------------------------

def test_the_privacy_page_says_how_long_invoices_are_kept_and_why(client, app):
    page = re.sub(r"\s+", " ", client.get("/privacy").text)
    assert app.config["INVOICE_RETENTION_YEARS"] == 10
    assert ("Invoices and credit notes (with the name, company, billing address, VAT id and email address they were"
            " issued to): 10 years after the end of the year they were issued in, because tax law requires") in page
    assert "even if you ask for your other data to be erased" in page
    app.config["INVOICE_RETENTION_YEARS"] = 8
    assert ": 8 years after the end of the year" in re.sub(r"\s+", " ", client.get("/privacy").text)


def test_the_setting_comes_from_the_environment(monkeypatch, tmp_path):
    from config import BaseConfig

    monkeypatch.setenv("INVOICE_RETENTION_YEARS", "7")
    assert BaseConfig(tmp_path).INVOICE_RETENTION_YEARS == 7
    monkeypatch.setenv("INVOICE_RETENTION_YEARS", "0")
    assert BaseConfig(tmp_path).INVOICE_RETENTION_YEARS == 1  # never "delete at once"


# --- an erasure request ------------------------------------------------------------------------

def test_an_erasure_keeps_the_invoices_as_issued_and_says_so(admin_client, app):
    business()
    booking = make_booking(priced_session(), **PERSON)
    run(ops.confirm_booking, booking, None)
    invoice = db.session.scalar(select(Invoice).where(Invoice.booking_id == booking.id))
    pdf, number = invoice.pdf, invoice.number

    found = admin_client.post("/admin/privacy", data={"email": PERSON["email"]})
    assert "Invoices and credit notes (1)" in found.text and number in found.text
    ask = re.sub(r"\s+", " ", admin_client.post("/admin/privacy/erase", data={"email": PERSON["email"]}).text)
    assert "1 invoice or credit note issued to this address is <strong>kept as issued</strong>" in ask
    assert "tax law requires keeping them for 10 years after the end of the year they were issued in" in ask
    done = admin_client.post("/admin/privacy/erase", data={"email": PERSON["email"], "confirm_email": PERSON["email"]})
    assert done.status_code == 200 and "Kept as issued: 1 invoice or credit note (tax law: 10 years)." in done.text

    db.session.expire_all()
    erased = db.session.get(Booking, booking.id)
    assert (erased.name, erased.email, erased.billing_address) == (ERASED, ERASED_EMAIL, "")
    kept = db.session.get(Invoice, invoice.id)
    assert (kept.number, kept.buyer_name, kept.buyer_email, kept.buyer_address) == (
        number, PERSON["name"], PERSON["email"], PERSON["billing_address"])
    assert kept.pdf == pdf
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "booking_confirmed"))
    assert mail.to_addr == ERASED_EMAIL and mail.attachments == []  # the email copy goes; the invoice stays


def test_the_erase_page_says_invoices_are_never_erased_even_when_there_are_none(admin_client, app):
    make_booking(priced_session(), **PERSON)
    ask = re.sub(r"\s+", " ", admin_client.post("/admin/privacy/erase", data={"email": PERSON["email"]}).text)
    assert "Invoices and credit notes are never erased: tax law requires keeping them for 10 years" in ask


# --- the retention job -----------------------------------------------------------------------

def test_the_retention_job_deletes_invoices_only_after_their_years(app, runner):
    business()
    session = priced_session()
    year = local_today().year
    years = app.config["INVOICE_RETENTION_YEARS"]
    rows = {
        "past_retention": invoice_for(session, noon(year - years - 1, 12, 31), email="alt@example.is"),
        "in_its_last_year": invoice_for(session, noon(year - years, 1, 2)),
        "recent": invoice_for(session, noon(year - 1)),
        "old_with_old_note": invoice_for(session, noon(year - years - 2)),
        "old_with_young_note": invoice_for(session, noon(year - years - 2, 3, 1)),
    }
    rows["old_note"] = run(credited, rows["old_with_old_note"], noon(year - years - 2, 9, 1))
    rows["young_note"] = run(credited, rows["old_with_young_note"], noon(year - 3))
    about = OutboxMessage(message_id=f"<{uuid.uuid4()}@test>", to_addr="alt@example.is", subject="Reminder",
                          text_body="Invoice reminder", related=f"invoice:{rows['past_retention'].id}",
                          status=OutboxMessage.SENT)
    db.session.add(about)
    db.session.commit()
    ids = {key: row.id for key, row in rows.items()}
    assert retention.invoice_cutoff(local_today()).year == year - years

    dry = runner.invoke(args=["privacy", "purge", "--dry-run"])
    assert "3 invoices and credit notes past their retention deleted" in dry.output
    assert db.session.scalar(select(func.count(Invoice.id))) == 7

    result = runner.invoke(args=["privacy", "purge"])
    assert result.exit_code == 0, result.output
    assert "3 invoices and credit notes past their retention deleted, 1 emails" in result.output
    db.session.expire_all()
    gone = {key for key, pk in ids.items() if db.session.get(Invoice, pk) is None}
    assert gone == {"past_retention", "old_with_old_note", "old_note"}
    mail = db.session.get(OutboxMessage, about.id)
    assert (mail.to_addr, mail.text_body) == (ERASED_EMAIL, ERASED)
    again = runner.invoke(args=["privacy", "purge"])
    assert "0 invoices and credit notes past their retention deleted" in again.output
    # A shorter setting reaches further back, and still not into the last two years.
    app.config["INVOICE_RETENTION_YEARS"] = 2
    runner.invoke(args=["privacy", "purge"])
    db.session.expire_all()
    left = {key for key, pk in ids.items() if db.session.get(Invoice, pk) is not None}
    assert left == {"recent"}
