"""20 confirmations at once get 20 consecutive invoice numbers, none shared, none skipped (SQLite and PostgreSQL)."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from blueprints.training import operations as ops
from extensions import db
from models import Invoice, InvoiceCounter
from tests.factories import make_booking
from tests.invoices.helpers import business, priced_session
from tests.training.helpers import run

CLIENT = dict(name="Zoë Łukasiewicz", company="Librairie Zoë & Fils SARL", billing_address="12 rue de Rivoli\n75001 Paris",
              vat_id="FR40303265045")


@pytest.fixture
def app_config(database_url):
    # Each confirmation renders its PDF while it holds the write lock, so on SQLite the twentieth waits for nineteen
    # renders: on a loaded two-core CI machine that can pass the default 20 s busy timeout, which this test is not about.
    if database_url.startswith("sqlite"):
        return {"SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"timeout": 120}}}
    return {}


@pytest.mark.slow
def test_twenty_concurrent_confirmations_get_twenty_consecutive_numbers(app):
    business()
    session = priced_session(capacity=40)
    ids = [make_booking(session, seats=1, **{**CLIENT, "email": f"c{n}@example.com"}).id for n in range(20)]
    barrier = threading.Barrier(len(ids))
    errors = []

    def confirm(booking_id: int) -> None:
        with app.app_context():
            barrier.wait(timeout=30)
            try:
                run(ops.confirm_booking, booking_id, None)
            except Exception as error:  # noqa: BLE001  (reported below, with the others)
                errors.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=confirm, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    db.session.rollback()
    rows = db.session.execute(select(Invoice.sequence, Invoice.number, Invoice.booking_id)).all()
    assert sorted(r.sequence for r in rows) == list(range(1, 21))  # none shared, none skipped
    assert len({r.number for r in rows}) == 20 and {r.booking_id for r in rows} == set(ids)
    year = rows[0].number.split("-")[1]
    assert db.session.get(InvoiceCounter, ("INV", int(year))).last_number == 20


