"""Overdue is judged by the consultant's calendar (SITE_TIMEZONE), not UTC's: just after midnight in Auckland an
invoice due "yesterday" is overdue though UTC is still on its due date; in the evening in Los Angeles one due today
is not, though UTC has moved on. The model, the query, the reminder job, the dashboard and the admin list agree."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from blueprints.invoices import operations as inv_ops
from extensions import db
from models import Booking, Invoice, OutboxMessage
from models.transactions import begin_write
from tests.factories import make_booking
from tests.invoices.helpers import business, priced_session
from tests.training.helpers import run

DUE = date(2027, 1, 15)  # a Friday; 14 days' terms from 1 January
CASES = [
    # zone, the moment (UTC), overdue by the consultant's date, overdue by UTC's date (the bug this guards against)
    ("Pacific/Auckland", datetime(2027, 1, 15, 11, 30, tzinfo=timezone.utc), True, False),  # 16 Jan 00:30 NZDT
    ("Pacific/Auckland", datetime(2027, 1, 15, 10, 30, tzinfo=timezone.utc), False, False),  # 15 Jan 23:30 NZDT
    ("America/Los_Angeles", datetime(2027, 1, 16, 2, 0, tzinfo=timezone.utc), False, True),  # 15 Jan 18:00 PST
    ("America/Los_Angeles", datetime(2027, 1, 16, 8, 30, tzinfo=timezone.utc), True, True),  # 16 Jan 00:30 PST
]


def set_zone(zone: str) -> None:
    """The consultant's zone, as the site settings page stores it."""
    from models import SiteSettings, site_settings

    row = db.session.get(SiteSettings, 1)
    if row is None:
        db.session.add(SiteSettings(**{**site_settings.defaults(), "timezone": zone}))
    else:
        row.timezone = zone
    db.session.commit()


def due_on_the_15th(app) -> Invoice:
    set_zone("UTC")
    business(payment_terms_days=14)
    booking = make_booking(priced_session(), status=Booking.CONFIRMED, name="Aroha Ngata",
                           email="aroha@whānau.example", billing_address="1 Queen Street\nAuckland 1010")

    def issue():
        begin_write()
        return inv_ops.issue_invoice(booking, None, now=datetime(2027, 1, 1, 12, tzinfo=timezone.utc))

    invoice = run(issue)
    assert invoice.due_on == DUE
    return invoice


@pytest.fixture
def clock(monkeypatch):
    """Set the clock every invoice "today" is read from (models.invoices.local_today)."""
    def at(moment: datetime) -> None:
        monkeypatch.setattr("models.invoices.utcnow", lambda: moment)
    return at


@pytest.mark.parametrize(("zone", "moment", "overdue", "by_utc"), CASES)
def test_overdue_by_the_consultants_date(app, admin_client, clock, zone, moment, overdue, by_utc):
    invoice = due_on_the_15th(app)
    set_zone(zone)
    clock(moment)
    assert (moment.date() > DUE) is by_utc
    stored = db.session.get(Invoice, invoice.id)
    assert stored.is_overdue() is overdue
    assert (stored.status_label == "Overdue") is overdue
    assert (invoice.id in db.session.scalars(select(Invoice.id).from_statement(Invoice.overdue_query()))) is overdue

    listed = admin_client.get("/admin/invoices?show=overdue")
    assert (invoice.number in listed.text) is overdue
    unpaid = admin_client.get("/admin/invoices")
    assert invoice.number in unpaid.text and (">Overdue</span>" in unpaid.text) is overdue
    with pytest.MonkeyPatch.context() as patch:  # the dashboard's own now (last: the admin session stamps it)
        patch.setattr("blueprints.admin.routes.utcnow", lambda: moment)
        dashboard = admin_client.get("/admin/")
    assert (invoice.number in dashboard.text) is overdue

    sent = run(inv_ops.send_reminders)
    assert sent == (1 if overdue else 0)
    reminders = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "invoice_reminder")).all()
    assert len(reminders) == sent
    if overdue:
        assert "was due on 15 January 2027" in reminders[0].text_body


def test_an_invoice_issued_just_after_midnight_in_auckland_carries_the_local_date(app):
    set_zone("Pacific/Auckland")
    business(payment_terms_days=14)
    booking = make_booking(priced_session(), status=Booking.CONFIRMED)

    def issue():
        begin_write()
        return inv_ops.issue_invoice(booking, None, now=datetime(2027, 3, 31, 11, 30, tzinfo=timezone.utc))

    invoice = run(issue)
    assert invoice.issued_on == date(2027, 4, 1) and invoice.due_on == date(2027, 4, 15)  # NZDT ends on 4 April
