"""Invoice forms: the consultant's business details, a payment received, a credit note, the accountant's export;
and the checks of IBAN, BIC and VAT ids (python-stdnum's checksums) the booking form shares."""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.gb import vat as gb_vat
from wtforms import BooleanField, DateField, DecimalField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from blueprints.forms import whole_number
from models.invoices import number_pattern_problem

CURRENCIES = ("EUR", "GBP", "USD", "CHF", "SEK", "DKK", "NOK", "PLN")


def finite_number(form, field) -> None:
    """A number, not "NaN" or "Infinity" (which Decimal parses, and NaN cannot even be compared)."""
    if field.data is not None and not field.data.is_finite():
        raise StopValidation("Enter a number.")


def compact_vat(value: str) -> str:
    """A VAT id as stored and printed: upper case, no spaces, dots or dashes ("de 136 695 976" -> DE136695976)."""
    return "".join(ch for ch in (value or "").upper() if ch.isalnum())


def vat_problem(value: str) -> str | None:
    """Why a VAT id is not one (None: its country's checksum holds). EU ids, Northern Ireland's XI, and GB."""
    number = compact_vat(value)
    try:
        if number.startswith("GB"):
            gb_vat.validate(number)
        else:
            eu_vat.validate(number)
    except StdnumError:
        return "This is not a valid VAT id: check the country prefix (e.g. DE, FR, IE) and the digits."
    return None


def valid_vat(form, field) -> None:
    if field.data:
        field.data = compact_vat(field.data)
        problem = vat_problem(field.data)
        if problem:
            raise ValidationError(problem)


def valid_iban(form, field) -> None:
    try:
        field.data = stdnum_iban.validate(field.data or "")
    except StdnumError:
        raise ValidationError("This IBAN does not check out: compare it with your bank statement.") from None


def valid_bic(form, field) -> None:
    if field.data:
        try:
            field.data = stdnum_bic.validate(field.data)
        except StdnumError:
            raise ValidationError("A BIC has 8 or 11 letters and digits, e.g. COBADEFFXXX.") from None


def valid_pattern(form, field) -> None:
    problem = number_pattern_problem(field.data or "")
    if problem:
        raise ValidationError(problem)


def strip(value):
    return value.strip() if isinstance(value, str) else value


def no_spaces(value):
    """An IBAN or VAT id as people copy it ("DE89 3704 …"): the spaces are not part of it."""
    return "".join(value.split()) if isinstance(value, str) else value


class BusinessDetailsForm(FlaskForm):
    legal_name = StringField("Legal name", filters=[strip], validators=[DataRequired("Enter your business's legal name."),
                                                                        Length(max=200)])
    address = TextAreaField("Address", filters=[strip], validators=[DataRequired("Enter the address printed on invoices."),
                                                                    Length(max=500)])
    vat_id = StringField("VAT id", filters=[no_spaces], validators=[Optional(), Length(max=20), valid_vat])
    iban = StringField("IBAN", filters=[no_spaces], validators=[DataRequired("Enter the IBAN clients pay into."),
                                                                Length(max=34), valid_iban])
    bic = StringField("BIC", filters=[strip], validators=[Optional(), Length(max=11), valid_bic])
    payment_terms_days = IntegerField("Payment terms (days)", default=30, validators=[
        InputRequired("Enter the days clients have to pay."),
        whole_number(min=0, max=365, message="Enter between 0 and 365 days.")])
    invoice_series = StringField("Invoice series", default="INV", filters=[strip], validators=[
        DataRequired("Name the invoice series, e.g. INV."), Length(max=10)])
    credit_note_series = StringField("Credit note series", default="CN", filters=[strip], validators=[
        DataRequired("Name the credit note series, e.g. CN."), Length(max=10)])
    number_format = StringField("Number format", default="{series}-{year}-{number:04d}", filters=[strip],
                                validators=[DataRequired("Enter the number format."), Length(max=60), valid_pattern])
    currency = SelectField("Currency", choices=[SelectChoice(c, c) for c in CURRENCIES], default="EUR")
    default_tax_rate = DecimalField("Tax rate (%)", places=2, default=Decimal("0"), validators=[
        InputRequired("Enter the tax rate; 0 if you charge none."), finite_number,
        NumberRange(min=0, max=100, message="Enter a rate from 0 to 100.")])
    reverse_charge = BooleanField("Apply the reverse charge to business clients who give a VAT id of another country")
    reverse_charge_note = StringField("Reverse-charge wording", filters=[strip], validators=[Optional(), Length(max=300)])
    footer_note = TextAreaField("Footer note", filters=[strip], validators=[Optional(), Length(max=500)])

    def validate_invoice_series(self, field) -> None:
        if not field.data.replace("-", "").isalnum():
            raise ValidationError("Letters and digits only, e.g. INV.")
        if field.data == self.credit_note_series.data:
            raise ValidationError("Invoices and credit notes need series of their own.")

    def validate_credit_note_series(self, field) -> None:
        if not field.data.replace("-", "").isalnum():
            raise ValidationError("Letters and digits only, e.g. CN.")

    def validate_reverse_charge(self, field) -> None:
        if field.data and not self.vat_id.data:
            raise ValidationError("The reverse charge needs your own VAT id, to tell a foreign client's apart.")


def amount_cents(text: str) -> int | None:
    """"1.071,00", "1,071.00", "1071" -> 107100; None when it is not an amount."""
    value = (text or "").strip().replace(" ", "").replace("\u00a0", "")
    if "," in value and "." in value:
        value = value.replace(",", "") if value.rfind(".") > value.rfind(",") else value.replace(".", "").replace(",", ".")
    elif "," in value:
        value = value.replace(",", ".")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    if not amount.is_finite():  # "NaN", "Infinity": comparing NaN raises
        return None
    if amount <= 0 or amount.as_tuple().exponent < -2 or amount > Decimal("10000000"):
        return None
    return int(amount * 100)


class PaymentForm(FlaskForm):
    paid_on = DateField("Received on", default=date.today, validators=[DataRequired("Enter the date the money arrived.")])
    amount = StringField("Amount received", validators=[DataRequired("Enter the amount received."), Length(max=20)])
    reference = StringField("Bank reference", validators=[Optional(), Length(max=255)])

    def validate_amount(self, field) -> None:
        if amount_cents(field.data) is None:
            raise ValidationError("Enter an amount like 1071.00.")


class CreditNoteForm(FlaskForm):
    reason = StringField("Reason", validators=[DataRequired("Say why, e.g. 'Wrong billing address'."), Length(max=300)])


class ExportForm(FlaskForm):
    class Meta:
        csrf = False  # a GET download

    start = DateField("From", validators=[DataRequired("Enter the first day.")])
    end = DateField("To", validators=[DataRequired("Enter the last day.")])

    def validate_end(self, field) -> None:
        if self.start.data and field.data and field.data < self.start.data:
            raise ValidationError("The last day comes after the first.")
