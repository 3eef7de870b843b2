"""Invoices and credit notes: issued from the booking workflows (operations.py), rendered to PDF (pdf.py),
managed in the admin (admin.py, on the shared `admin` blueprint). This blueprint only carries the
template filters the invoice pages, PDFs and emails share."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import Blueprint

from models.invoices import money

bp = Blueprint("invoices", __name__)


@bp.app_template_filter("money")
def money_filter(amount_cents: int, currency: str) -> str:
    return money(amount_cents, currency)


@bp.app_template_filter("rate")
def rate_filter(rate) -> str:
    """"19 %", "7.5 %", "0 %"."""
    value = Decimal(str(rate)).normalize()
    return f"{value:f} %"


@bp.app_template_filter("long_date")
def long_date_filter(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


@bp.app_template_filter("iban")
def iban_filter(value: str) -> str:
    """In groups of four, as printed on paper."""
    compact = "".join((value or "").split()).upper()
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
