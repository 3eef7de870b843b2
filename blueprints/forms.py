"""Form pieces every feature's forms use: choices, time zones, slugs, names, email addresses, whole numbers, the action button forms."""
from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo, available_timezones

from email_validator import EmailNotValidError, validate_email
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from mail.addresses import parse_address


class RequiredWhen:
    """Marks a field another field decides on (alt text unless "decorative"): the label says so, not "(optional)".

    The form's own validate_<field> does the checking; this only sets the flag the form macro reads.
    """

    field_flags = {"conditional": True}

    def __init__(self, condition: str) -> None:
        self.condition = condition

    def __call__(self, form, field) -> None:
        return None


SLUG = Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", message="Use lowercase letters, digits and hyphens (e.g. my-page).")
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


# Letters that render as nothing (Hangul fillers, the braille blank, the Mongolian vowel separator).
BLANK_LETTERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800", "\u180e"}


def visible_name(form, field) -> None:
    """A name someone can read: at least one letter or digit that shows.

    A name of only zero-width, bidi-override or other invisible characters (U+200B, U+202E, U+2066 …)
    passes DataRequired but shows the consultant, and the client's emails, nothing at all.
    """
    if not any(unicodedata.category(c)[0] in "LN" and c not in BLANK_LETTERS for c in field.data or ""):
        raise ValidationError("Enter a name with letters that show.")


class EmailAddress:
    """The one rule for a visitor's email address, on every public form: international ones are welcome.

    email-validator checks the syntax and that the domain could receive mail anywhere (not
    localhost, .invalid …); mail/addresses.py, that the mailer can write it into a message, so a
    form never says "we have emailed you" about a message that cannot be built. The field keeps the
    normalised spelling (NFC, lower-case domain), so one mailbox is one address.
    """

    message = "That is not a valid email address. Enter an email address like name@example.com."

    def __call__(self, form, field) -> None:
        value = (field.data or "").strip()
        if not value:
            return  # DataRequired says so
        try:
            address = validate_email(value, check_deliverability=False, allow_smtputf8=True).normalized
            parse_address(address)
        except (EmailNotValidError, ValueError):
            raise ValidationError(self.message) from None
        field.data = address


def email_field(label: str, required: str = "Enter your email address.") -> StringField:
    """A visitor's email address: a text input with the email keyboard.

    Not <input type=email>: browsers refuse a non-ASCII local part (jörg@…) there before the form
    is sent, so the form would refuse what the server accepts.
    """
    return StringField(label, validators=[DataRequired(required), Length(max=254), EmailAddress()],
                       render_kw={"autocomplete": "email", "inputmode": "email", "maxlength": 254,
                                  "spellcheck": "false", "autocapitalize": "none"})


# The largest whole number a form may send: PostgreSQL's INTEGER column stops at 2**31 - 1, and a larger
# value (20 digits, or 1e20 once parsed) would be a 500 on the INSERT rather than a form error.
INT_MAX = 2**31 - 1


class WholeNumber(NumberRange):
    """NumberRange that also copes with an int too large for a float (NumberRange's isnan check raises on 400 digits)."""

    def __call__(self, form, field) -> None:
        if isinstance(field.data, int) and not -INT_MAX <= field.data <= INT_MAX:
            raise ValidationError(self.message)
        super().__call__(form, field)


def whole_number(min: int = -INT_MAX, max: int = INT_MAX, message: str | None = None) -> WholeNumber:  # noqa: A002
    """A range within what the database stores; every IntegerField has one (tests/web/test_security_limits.py)."""
    assert -INT_MAX <= min <= max <= INT_MAX
    return WholeNumber(min=min, max=max, message=message or f"Enter a whole number between {min:,} and {max:,}.")


def options(pairs) -> list[SelectChoice]:
    """SelectField choices in the form WTForms 3.3+ wants."""
    return [SelectChoice(value, label) for value, label in pairs]


def valid_timezone(form, field) -> None:
    if field.data not in available_timezones():
        raise ValidationError("Use an IANA time zone name, e.g. Europe/London.")


def local_to_utc(value: datetime, zone: str) -> datetime:
    """A naive wall-clock time in `zone` (what a datetime-local input sends) as an aware instant."""
    return value.replace(tzinfo=ZoneInfo(zone)).astimezone(ZoneInfo("UTC"))


def utc_to_local(value: datetime | None, zone: str) -> datetime | None:
    """The naive wall-clock time a datetime-local input should show."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


class ActionForm(FlaskForm):
    """A button that changes state, with an optional note to the client."""

    message = TextAreaField("Message to the client", validators=[Optional(), Length(max=5000)],
                            render_kw={"rows": 3})
