"""Forms of the training aftercare: minimum class size, attendance, certificates, feedback, interest lists."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from blueprints.forms import ActionForm, email_field, visible_name, whole_number
from models.feedback import QUESTIONS
from web.spam import SpamTrapFields

RATING_CHOICES = [SelectChoice(str(n), label) for n, label in
                  ((1, "1 (poor)"), (2, "2"), (3, "3"), (4, "4"), (5, "5 (excellent)"))]


class MinimumForm(FlaskForm):
    min_attendees = IntegerField("Minimum confirmed seats", validators=[
        InputRequired("Enter the fewest confirmed seats the session runs with."),
        whole_number(min=1, max=1000, message="Enter a number between 1 and 1,000.")])
    decide_by = DateField("Decide by", validators=[InputRequired("Enter the date by which you decide.")])


class NameCorrectionForm(ActionForm):
    name = StringField("Name on the certificate", validators=[
        DataRequired("Enter the name."), Length(max=100), visible_name])


class FeedbackForm(FlaskForm):
    comment = TextAreaField("Anything you would like to say", validators=[Optional(), Length(max=3000)])
    may_quote = BooleanField("You may quote me, with my name and company")
    quote_name = StringField("Name to show", validators=[Optional(), Length(max=100)])
    quote_company = StringField("Company to show", validators=[Optional(), Length(max=150)])

    def validate_may_quote(self, field) -> None:
        if field.data and not (self.comment.data or "").strip():
            raise ValidationError("Write a few words above to be quoted.")
        if field.data and not (self.quote_name.data or "").strip():
            raise ValidationError("Give the name to show with the quote.")


# One required 1-5 radio group per question (models/feedback.py QUESTIONS).
for _column, _question in QUESTIONS:
    setattr(FeedbackForm, _column, RadioField(_question, choices=RATING_CHOICES,
                                              validators=[DataRequired("Choose a rating from 1 to 5.")]))


class InterestForm(FlaskForm, SpamTrapFields):
    email = email_field("Your email address")
    consent = BooleanField("Email me once when a new session of this course is scheduled (I can unsubscribe with one click)",
                           validators=[DataRequired("Tick the box so we may email you.")])


class QuoteDecisionForm(FlaskForm):
    """A bare POST with CSRF: approve or withdraw a quote."""


def feedback_field_order():
    return [column for column, _ in QUESTIONS]
