"""Public training forms: booking a seat and asking for a private course."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional

from spam import SpamTrapFields

CONSENT_TEXT = "I agree that my details are stored and used to handle this request (see the privacy page)."


class BookingForm(FlaskForm, SpamTrapFields):
    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=100)])
    email = StringField("Email", validators=[DataRequired("Enter your email address."),
                                             Email("Enter a valid email address."), Length(max=254)])
    company = StringField("Company", validators=[Optional(), Length(max=150)])
    seats = IntegerField("Seats", default=1, validators=[
        InputRequired("Enter how many seats you need."), NumberRange(min=1, max=99, message="Book between 1 and 99 seats.")])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=2000)])
    consent = BooleanField(CONSENT_TEXT, validators=[DataRequired("Tick the box so the booking can be stored.")])


class PrivateTrainingForm(FlaskForm, SpamTrapFields):
    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=100)])
    email = StringField("Email", validators=[DataRequired("Enter your email address."),
                                             Email("Enter a valid email address."), Length(max=254)])
    company = StringField("Company", validators=[Optional(), Length(max=150)])
    preferred_dates = StringField("Preferred dates", validators=[
        DataRequired("Tell us roughly when, e.g. 'any week in March'."), Length(max=500)])
    attendees = IntegerField("Number of attendees", validators=[
        InputRequired("Enter how many people would attend."),
        NumberRange(min=1, max=500, message="Enter a number between 1 and 500.")])
    training_format = RadioField("Format", choices=[SelectChoice("online", "Online"), SelectChoice("on-site", "On-site at your premises")],
                                  validators=[DataRequired("Choose a format.")])
    message = TextAreaField("Anything else", validators=[Optional(), Length(max=5000)])
    consent = BooleanField(CONSENT_TEXT, validators=[DataRequired("Tick the box so the request can be stored.")])


class ConfirmForm(FlaskForm):
    """A bare POST with CSRF: the button on a confirmation page."""
