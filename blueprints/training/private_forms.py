"""Forms of private courses (registering through the private link; proposing dates) and of joining details and days."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from blueprints.forms import (
    DATETIME_FORMATS,
    email_field,
    local_to_utc,
    options,
    valid_timezone,
    visible_name,
    whole_number,
)
from blueprints.training.forms import CONSENT_TEXT, PromptSelectField, optional_int, timezone_choices
from models import TrainingSession
from models.session_days import DaysError, parse_days
from web.spam import SpamTrapFields


class PrivateRegistrationForm(FlaskForm, SpamTrapFields):
    """One attendee of a private course: their own name and address, one place."""

    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=100), visible_name])
    email = email_field("Email")
    company = StringField("Company", validators=[Optional(), Length(max=150)])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=2000)])
    consent = BooleanField(CONSENT_TEXT, validators=[DataRequired("Tick the box so the registration can be stored.")])


class AttendeeForm(FlaskForm):
    """The consultant adds an attendee to a private session directly."""

    name = StringField("Name", validators=[DataRequired("Enter the attendee's name."), Length(max=100), visible_name])
    email = email_field("Email", required="Enter the attendee's email address.")
    company = StringField("Company", validators=[Optional(), Length(max=150)])


def web_url(form, field) -> None:
    value = (field.data or "").strip()
    if value and not value.lower().startswith(("https://", "http://")):
        raise ValidationError("Enter the meeting link as it starts: https://…")
    if any(c.isspace() for c in value):
        raise ValidationError("A link has no spaces.")


class JoiningForm(FlaskForm):
    join_url = StringField("Meeting link", validators=[Optional(), Length(max=500), web_url])
    join_text = TextAreaField("Passcode and dial-in", validators=[Optional(), Length(max=2000)], render_kw={"rows": 3})
    venue_address = TextAreaField("Address", validators=[Optional(), Length(max=1000)], render_kw={"rows": 3})
    venue_room = StringField("Room", validators=[Optional(), Length(max=200)])
    arrival_notes = TextAreaField("Arrival notes", validators=[Optional(), Length(max=2000)], render_kw={"rows": 3})

    def values(self) -> dict[str, str]:
        return {name: (self[name].data or "").strip() for name in
                ("join_url", "join_text", "venue_address", "venue_room", "arrival_notes")}


class DaysForm(FlaskForm):
    days = TextAreaField("Days", validators=[DataRequired("Give at least one day."), Length(max=5000)],
                         render_kw={"rows": 6})
    message = TextAreaField("Message to everyone booked", validators=[Optional(), Length(max=5000)],
                            render_kw={"rows": 3})

    def __init__(self, *args, zone: str = "UTC", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zone
        self.ranges = []

    def validate_days(self, field) -> None:
        try:
            self.ranges = parse_days(field.data, self.zone)
        except DaysError as error:
            raise ValidationError(str(error)) from None


PROPOSALS = 3


class ProposeForm(FlaskForm):
    """Up to three dates offered to the client, each a first start and last end (split into days as sessions are)."""

    course_id = PromptSelectField("Course", coerce=optional_int, prompt="Choose a course",
                                  validators=[InputRequired("Choose a course.")])
    starts_1 = DateTimeLocalField("Option 1 starts", format=DATETIME_FORMATS, validators=[DataRequired("Enter the first date.")])
    ends_1 = DateTimeLocalField("Option 1 ends", format=DATETIME_FORMATS, validators=[DataRequired("Enter when it ends.")])
    starts_2 = DateTimeLocalField("Option 2 starts", format=DATETIME_FORMATS, validators=[Optional()])
    ends_2 = DateTimeLocalField("Option 2 ends", format=DATETIME_FORMATS, validators=[Optional()])
    starts_3 = DateTimeLocalField("Option 3 starts", format=DATETIME_FORMATS, validators=[Optional()])
    ends_3 = DateTimeLocalField("Option 3 ends", format=DATETIME_FORMATS, validators=[Optional()])
    timezone = PromptSelectField("Time zone", default="Europe/London", choices=timezone_choices, prompt="Choose a time zone",
                                 validators=[InputRequired("Choose a time zone."), valid_timezone], validate_choice=False)
    mode = PromptSelectField("Format", choices=options([(TrainingSession.ONLINE, "Online"), (TrainingSession.ON_SITE, "On-site")]),
                             default=TrainingSession.ONLINE, prompt="Choose online or on-site",
                             validators=[InputRequired("Choose online or on-site.")])
    location = StringField("Location", validators=[Optional(), Length(max=200)])
    capacity = IntegerField("Places", default=10, validators=[
        InputRequired("Enter how many people may register."), whole_number(min=1, max=500)])
    message = TextAreaField("Message to the client", validators=[Optional(), Length(max=5000)], render_kw={"rows": 3})

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for n in range(1, PROPOSALS + 1):
            start, end = self[f"starts_{n}"], self[f"ends_{n}"]
            if (start.data is None) != (end.data is None):
                (end if end.data is None else start).errors.append("Give both the start and the end, or neither.")
                ok = False
            elif start.data is not None and end.data <= start.data:
                end.errors.append("The end must be after the start.")
                ok = False
        if ok:
            try:
                self.ranges()
            except OverflowError:
                self.starts_1.errors.append("That date is too far away.")
                ok = False
        return ok

    def ranges(self):
        zone = self.timezone.data
        out = []
        for n in range(1, PROPOSALS + 1):
            start, end = self[f"starts_{n}"].data, self[f"ends_{n}"].data
            if start is not None and end is not None:
                out.append((local_to_utc(start, zone), local_to_utc(end, zone)))
        return out


