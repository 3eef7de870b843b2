"""Training forms: booking a seat and asking for a private course; scheduling sessions and editing courses (admin)."""
from __future__ import annotations

from datetime import datetime

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from blueprints.forms import (
    DATETIME_FORMATS,
    SLUG,
    email_field,
    local_to_utc,
    options,
    valid_timezone,
    visible_name,
    whole_number,
)
from models import TrainingSession
from web.spam import SpamTrapFields

CONSENT_TEXT = "I agree that my details are stored and used to handle this request (see the privacy page)."


class BookingForm(FlaskForm, SpamTrapFields):
    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=100), visible_name])
    email = email_field("Email")
    company = StringField("Company", validators=[Optional(), Length(max=150)])
    seats = IntegerField("Seats", default=1, validators=[
        InputRequired("Enter how many seats you need."), whole_number(min=1, max=99, message="Book between 1 and 99 seats.")])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=2000)])
    consent = BooleanField(CONSENT_TEXT, validators=[DataRequired("Tick the box so the booking can be stored.")])


class PrivateTrainingForm(FlaskForm, SpamTrapFields):
    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=100), visible_name])
    email = email_field("Email")
    company = StringField("Company", validators=[Optional(), Length(max=150)])
    preferred_dates = StringField("Preferred dates", validators=[
        DataRequired("Tell us roughly when, e.g. 'any week in March'."), Length(max=500)])
    attendees = IntegerField("Number of attendees", validators=[
        InputRequired("Enter how many people would attend."),
        whole_number(min=1, max=500, message="Enter a number between 1 and 500.")])
    training_format = RadioField("Format", choices=[SelectChoice("online", "Online"), SelectChoice("on-site", "On-site at your premises")],
                                  validators=[DataRequired("Choose a format.")])
    message = TextAreaField("Anything else", validators=[Optional(), Length(max=5000)])
    consent = BooleanField(CONSENT_TEXT, validators=[DataRequired("Tick the box so the request can be stored.")])


class ConfirmForm(FlaskForm):
    """A bare POST with CSRF: the button on a confirmation page."""


# --- admin ---------------------------------------------------------------------------------

class SessionForm(FlaskForm):
    """Create or reschedule a training session; times are entered in the session's own zone."""

    course_id = SelectField("Course", coerce=int)
    starts_at = DateTimeLocalField("Starts", format=DATETIME_FORMATS, validators=[DataRequired()])
    ends_at = DateTimeLocalField("Ends", format=DATETIME_FORMATS, validators=[DataRequired()])
    timezone = StringField("Time zone", default="Europe/London", validators=[DataRequired(), Length(max=64), valid_timezone])
    mode = SelectField("Format", choices=options([(TrainingSession.ONLINE, "Online"), (TrainingSession.ON_SITE, "On-site")]))
    location = StringField("Location", validators=[Optional(), Length(max=200)])
    capacity = IntegerField("Capacity (seats)", default=10, validators=[DataRequired(), whole_number(min=1, max=500)])
    # Optional: left out of a POST, it keeps the session's value (or the default, 4).
    max_seats_per_booking = IntegerField("Most seats per booking", default=4, validators=[
        Optional(), whole_number(min=1, max=500)])

    def validate_starts_at(self, field) -> None:
        if field.data is not None and field.data.tzinfo is not None:  # left out of the POST: the stored UTC value
            raise ValidationError("Enter the start time.")

    def validate_ends_at(self, field) -> None:
        if field.data is not None and field.data.tzinfo is not None:
            raise ValidationError("Enter the end time.")
        if self.starts_at.data and self.starts_at.data.tzinfo is None and field.data and field.data <= self.starts_at.data:
            raise ValidationError("The end must be after the start.")

    def instants(self) -> tuple[datetime, datetime]:
        zone = self.timezone.data
        return local_to_utc(self.starts_at.data, zone), local_to_utc(self.ends_at.data, zone)


class CourseForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=150)])
    slug = StringField("Slug", validators=[DataRequired(), Length(max=80), SLUG])
    summary = StringField("Summary", validators=[Optional(), Length(max=300)])
    description = TextAreaField("Description (Markdown)", validators=[Optional(), Length(max=50000)])
    duration_days = IntegerField("Duration (days)", default=1, validators=[DataRequired(), whole_number(min=1, max=60)])
    level = StringField("Level", default="Beginner", validators=[DataRequired(), Length(max=30)])
    prerequisites = TextAreaField("Prerequisites", validators=[Optional(), Length(max=5000)], render_kw={"rows": 3})
    price = IntegerField("Price per seat", validators=[Optional(), whole_number(min=0, max=1_000_000)])
    currency = StringField("Currency", validators=[Optional(), Length(min=3, max=3)])
    position = IntegerField("Position", default=0, validators=[Optional(), whole_number(min=-10_000, max=10_000)])
    published = BooleanField("Published", default=True)
