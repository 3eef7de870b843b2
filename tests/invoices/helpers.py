"""Invoice test helpers: the consultant's business details, a priced session, the PDF's text."""
from __future__ import annotations

import io
from decimal import Decimal

from pypdf import PdfReader

from extensions import db
from models import BusinessDetails
from tests.factories import make_course, make_session

SELLER = dict(legal_name="Linus Tribe Infrastruktur GmbH", address="Hauptstraße 5\n10115 Berlin\nDeutschland",
              country="DE", vat_id="DE136695976", iban="DE89370400440532013000", bic="COBADEFFXXX",
              payment_terms_days=14, currency="EUR", default_tax_rate=Decimal("19"),
              footer_note="Geschäftsführer: Linus Tribe · Amtsgericht Berlin HRB 12345")


def business(**fields) -> BusinessDetails:
    details = db.session.get(BusinessDetails, BusinessDetails.ROW_ID) or BusinessDetails(id=BusinessDetails.ROW_ID)
    for key, value in {**SELLER, **fields}.items():
        setattr(details, key, value)
    db.session.add(details)
    db.session.commit()
    return details


def priced_session(price: int = 450, currency: str = "EUR", **fields):
    course = make_course(title="Kubernetes für Einsteiger", price=price, currency=currency)
    return make_session(course, **fields)


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
