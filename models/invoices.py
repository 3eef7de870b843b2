"""Invoices and credit notes: the consultant's business details, gap-free numbering, totals, payments.

An issued invoice (or credit note) never changes: its parties, lines, totals and PDF are written
once, when it is issued, and a flush that would change them raises InvoiceImmutable. Only what
happens to it afterwards is recorded on it (payments, the one reminder, a credit note's reference).
A correction or a cancellation is a credit note of its own series that references the invoice.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, backref, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime, utcnow
from models.transactions import NotAllowed, locked

NUMBER_FIELDS = {"series", "year", "number"}
PLACEHOLDER = re.compile(r"\{([a-z]+)(?::0?(\d)d)?\}")
DEFAULT_REVERSE_CHARGE_NOTE = ("Reverse charge: VAT to be accounted for by the recipient "
                               "(Article 196, Council Directive 2006/112/EC).")


def local_today(now: datetime | None = None) -> date:
    """Today in the consultant's zone (SITE_TIMEZONE), not UTC's: the date an invoice is issued on and judged
    overdue by. (At 00:30 in Auckland it is still yesterday in UTC; at 20:00 in Los Angeles, already tomorrow.)"""
    from models import site_settings  # the consultant's zone is a site setting (stored, editable)

    return (now or utcnow()).astimezone(ZoneInfo(site_settings.current().timezone)).date()


class InvoiceImmutable(RuntimeError):
    """Code tried to change or delete an issued invoice (a bug, never a user's doing)."""


def vat_country(vat_id: str) -> str:
    """The country prefix of a VAT id ("DE" of "DE136695976"; Greece's "EL"), or ""."""
    compact = re.sub(r"[\s.-]", "", vat_id or "").upper()
    return compact[:2] if compact[:2].isalpha() else ""


def format_number(pattern: str, series: str, year: int, number: int) -> str:
    """An invoice number from the consultant's pattern, e.g. "{series}-{year}-{number:04d}" -> INV-2026-0007."""
    return pattern.format(series=series, year=year, number=number)


def number_pattern_problem(pattern: str) -> str | None:
    """Why a number pattern cannot number invoices (None: it can)."""
    names = [m.group(1) for m in PLACEHOLDER.finditer(pattern or "")]
    if "number" not in names:
        return "The pattern needs {number} (e.g. {number:04d} for 0001)."
    if set(names) - NUMBER_FIELDS:
        return "Only {series}, {year} and {number} can appear in the pattern."
    if "series" not in names or "year" not in names:
        return "The pattern needs {series} and {year} too, or two series or two years would share numbers."
    if re.search(r"[{}]", PLACEHOLDER.sub("", pattern)):
        return "Braces are only for {series}, {year} and {number}."
    if not re.fullmatch(r"[A-Za-z0-9/_.{}:-]+", pattern):
        return "Use letters, digits and - / _ . only."
    return None


class BusinessDetails(db.Model):
    """The consultant's invoicing details: one row, edited at /admin/settings/business."""

    __tablename__ = "business_details"
    ROW_ID = 1

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, default=ROW_ID)
    legal_name: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    country: Mapped[str] = mapped_column(String(2), default="")  # ISO 3166 code of the seller
    vat_id: Mapped[str] = mapped_column(String(20), default="")
    iban: Mapped[str] = mapped_column(String(34), default="")
    bic: Mapped[str] = mapped_column(String(11), default="")
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30)
    number_format: Mapped[str] = mapped_column(String(60), default="{series}-{year}-{number:04d}")
    invoice_series: Mapped[str] = mapped_column(String(10), default="INV")
    credit_note_series: Mapped[str] = mapped_column(String(10), default="CN")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    default_tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    # The reverse charge applies when this is on and the client gave a VAT id of another country.
    reverse_charge: Mapped[bool] = mapped_column(Boolean, default=False)
    reverse_charge_note: Mapped[str] = mapped_column(String(300), default=DEFAULT_REVERSE_CHARGE_NOTE)
    footer_note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @classmethod
    def current(cls) -> BusinessDetails:
        """The stored details, or the defaults (unsaved) before the consultant has filled them in."""
        return db.session.get(cls, cls.ROW_ID) or cls(**{c.name: c.default.arg for c in cls.__table__.columns
                                                        if c.default is not None and not callable(c.default.arg)})

    @property
    def complete(self) -> bool:
        """Enough to issue an invoice: who is selling, from where, and how to pay."""
        return bool(self.legal_name.strip() and self.address.strip() and self.iban.strip())

    def reverse_charge_for(self, buyer_vat_id: str) -> bool:
        buyer = vat_country(buyer_vat_id)
        return bool(self.reverse_charge and buyer and buyer != vat_country(self.vat_id or self.country))

    def snapshot(self) -> dict:
        """The seller as printed on an invoice issued now (later edits never reach it)."""
        return {"legal_name": self.legal_name, "address": self.address, "vat_id": self.vat_id, "iban": self.iban,
                "bic": self.bic, "footer_note": self.footer_note}


class InvoiceCounter(db.Model):
    """The last number given in a series and year; its row is locked while the next one is taken."""

    __tablename__ = "invoice_counters"

    series: Mapped[str] = mapped_column(String(10), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer, default=0)

    @classmethod
    def take_next(cls, series: str, year: int) -> int:
        """The next number of the series and year, inside the caller's write transaction (begin_write first).

        The row is created if missing (INSERT … ON CONFLICT DO NOTHING: two first invoices of a year both
        find it), then locked (PostgreSQL FOR UPDATE; SQLite: the write lock is already held), so two
        confirmations take turns and each number is used once; it is given up only if the transaction
        rolls back, together with the invoice that took it, so no number is skipped either.
        """
        dialect = db.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        db.session.execute(insert(cls.__table__).values(series=series, year=year, last_number=0)
                           .on_conflict_do_nothing(index_elements=["series", "year"]))
        counter = db.session.scalar(locked(select(cls).where(cls.series == series, cls.year == year)))
        counter.last_number += 1
        db.session.flush()
        return counter.last_number


SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "CHF": "CHF ", "SEK": "SEK ", "DKK": "DKK ", "NOK": "NOK ", "PLN": "PLN "}


def money(amount_cents: int, currency: str) -> str:
    """"€1,234.50", "−€80.00" (a credit note's), "JPY 1,200.00" for a currency without a symbol here."""
    symbol = SYMBOLS.get((currency or "").upper(), f"{(currency or '').upper()} ")
    sign = "−" if amount_cents < 0 else ""
    whole, part = divmod(abs(amount_cents), 100)
    return f"{sign}{symbol}{whole:,}.{part:02d}"


def cents(amount: Decimal) -> int:
    return int(amount.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Line:
    description: str
    detail: str  # e.g. the session's dates
    quantity: int
    unit_cents: int
    tax_rate: Decimal  # percent

    @property
    def net_cents(self) -> int:
        return self.quantity * self.unit_cents

    def as_json(self) -> dict:
        return {"description": self.description, "detail": self.detail, "quantity": self.quantity,
                "unit_cents": self.unit_cents, "tax_rate": str(self.tax_rate), "net_cents": self.net_cents}


@dataclass(frozen=True)
class Totals:
    net_cents: int
    tax_cents: int
    gross_cents: int
    by_rate: list[dict]  # [{"rate": "19.00", "net_cents": …, "tax_cents": …}], one per rate


def totals(lines: list[Line]) -> Totals:
    """Net, tax per rate (rounded once per rate, half up, as the tax is declared) and gross."""
    by_rate: dict[Decimal, int] = {}
    for line in lines:
        by_rate[line.tax_rate] = by_rate.get(line.tax_rate, 0) + line.net_cents
    rows = [{"rate": str(rate), "net_cents": net, "tax_cents": cents(Decimal(net) * rate / 100)}
            for rate, net in sorted(by_rate.items())]
    net = sum(r["net_cents"] for r in rows)
    tax = sum(r["tax_cents"] for r in rows)
    return Totals(net, tax, net + tax, rows)


class Invoice(db.Model):
    """An invoice, or a credit note (kind CREDIT_NOTE, negative amounts, `credits` the invoice it corrects)."""

    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("series", "year", "sequence"),)

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    BANK = "bank"
    CARD = "card"
    # What may change after issue: what happened to the invoice since, never what it says.
    MUTABLE = frozenset({"paid_cents", "paid_on", "payment_method", "payment_reference", "reminder_sent_at",
                         "credited_by", "updated_at"})

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default=INVOICE, index=True)
    series: Mapped[str] = mapped_column(String(10))
    year: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(60), unique=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"), index=True)
    credits_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    issued_on: Mapped[date] = mapped_column(Date, index=True)
    due_on: Mapped[date | None] = mapped_column(Date, index=True)
    seller: Mapped[dict] = mapped_column(JSON, default=dict)
    buyer_name: Mapped[str] = mapped_column(String(100), default="")
    buyer_company: Mapped[str] = mapped_column(String(150), default="")
    buyer_address: Mapped[str] = mapped_column(Text, default="")
    buyer_vat_id: Mapped[str] = mapped_column(String(20), default="")
    buyer_email: Mapped[str] = mapped_column(String(254), default="")
    po_reference: Mapped[str] = mapped_column(String(60), default="")
    lines: Mapped[list] = mapped_column(JSON, default=list)
    tax_by_rate: Mapped[list] = mapped_column(JSON, default=list)
    currency: Mapped[str] = mapped_column(String(3))
    net_cents: Mapped[int] = mapped_column(Integer)
    tax_cents: Mapped[int] = mapped_column(Integer)
    gross_cents: Mapped[int] = mapped_column(Integer)
    reverse_charge: Mapped[bool] = mapped_column(Boolean, default=False)
    reverse_charge_note: Mapped[str] = mapped_column(String(300), default="")
    reason: Mapped[str] = mapped_column(String(300), default="")  # a credit note's: why
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Afterwards: payment received (one sum, the last date), the one reminder, the credit note that cancels it.
    paid_cents: Mapped[int] = mapped_column(Integer, default=0)
    paid_on: Mapped[date | None] = mapped_column(Date)
    payment_method: Mapped[str] = mapped_column(String(10), default="")
    payment_reference: Mapped[str] = mapped_column(String(255), default="")
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    credited_by: Mapped[int | None] = mapped_column(Integer)  # the credit note's id (a plain id: no cycle)

    booking = relationship("Booking", backref=backref("invoices", order_by="Invoice.id", viewonly=True))
    credits = relationship("Invoice", remote_side=[id])

    @property
    def is_credit_note(self) -> bool:
        return self.kind == self.CREDIT_NOTE

    @property
    def title(self) -> str:
        return "Credit note" if self.is_credit_note else "Invoice"

    @property
    def filename(self) -> str:
        return f"{self.title.lower().replace(' ', '-')}-{re.sub(r'[^A-Za-z0-9_-]+', '-', self.number)}.pdf"

    @property
    def is_paid(self) -> bool:
        return not self.is_credit_note and self.paid_cents >= self.gross_cents

    @property
    def is_credited(self) -> bool:
        return self.credited_by is not None

    @property
    def outstanding_cents(self) -> int:
        if self.is_credit_note or self.is_credited:
            return 0
        return max(0, self.gross_cents - self.paid_cents)

    def is_overdue(self, today: date | None = None) -> bool:
        """Past its due date and not settled; `today` is the consultant's local date (local_today) by default."""
        return self.outstanding_cents > 0 and self.due_on is not None and self.due_on < (today or local_today())

    @property
    def status_label(self) -> str:
        if self.is_credit_note:
            return "Credit note"
        if self.is_credited:
            return "Cancelled by credit note"
        if self.is_paid:
            return "Paid"
        if self.is_overdue():
            return "Overdue"
        return "Part paid" if self.paid_cents else "Unpaid"

    @classmethod
    def open_query(cls):
        """Invoices still waiting for (some of) their money."""
        return select(cls).where(cls.kind == cls.INVOICE, cls.credited_by.is_(None), cls.paid_cents < cls.gross_cents)

    @classmethod
    def overdue_query(cls, today: date | None = None):
        """Open invoices due before `today`, the consultant's local date (local_today) by default."""
        return cls.open_query().where(cls.due_on < (today or local_today())).order_by(cls.due_on, cls.id)

    @classmethod
    def for_booking(cls, booking_id: int) -> list[Invoice]:
        return list(db.session.scalars(select(cls).where(cls.booking_id == booking_id).order_by(cls.id)))

    def record_payment(self, amount_cents: int, paid_on: date, method: str = BANK, reference: str = "") -> None:
        if self.is_credit_note:
            raise NotAllowed("A credit note is not paid.")
        if self.is_credited:
            raise NotAllowed(f"{self.number} was cancelled by a credit note; nothing is owed on it.")
        if self.is_paid:
            raise NotAllowed(f"{self.number} is already paid in full.")
        if amount_cents <= 0:
            raise NotAllowed("Enter the amount received.")
        if paid_on < self.issued_on:
            raise NotAllowed("The payment date cannot be before the invoice date.")
        self.paid_cents += amount_cents
        self.paid_on = paid_on
        self.payment_method = method
        self.payment_reference = reference[:255]


@event.listens_for(Session, "before_flush")
def _issued_invoices_never_change(session: Session, _context, _instances) -> None:
    for obj in session.dirty:
        if isinstance(obj, Invoice) and session.is_modified(obj):
            changed = {a.key for a in inspect(obj).attrs if a.history.has_changes()}
            if changed - Invoice.MUTABLE:
                raise InvoiceImmutable(f"invoice {obj.number} is issued; it cannot change ({', '.join(sorted(changed))})")
    for obj in session.deleted:
        if isinstance(obj, Invoice):
            raise InvoiceImmutable(f"invoice {obj.number} is issued; it cannot be deleted")


class StripeEvent(db.Model):
    """A Stripe webhook event already handled: the id is the key, so an event is acted on once."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(80))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(300), default="")
