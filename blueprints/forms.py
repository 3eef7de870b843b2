"""Form pieces every feature's forms use: choices, time zones, slugs, the action button forms."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, available_timezones

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, Regexp, ValidationError

SLUG = Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", message="Use lowercase letters, digits and hyphens (e.g. my-page).")
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


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
