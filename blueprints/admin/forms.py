"""Forms of the consultant's admin (sign-in, inbox, bookings, content, privacy)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, available_timezones

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, Regexp, ValidationError

from models import Enquiry, Post, TrainingSession

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


class LoginForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired(), Length(max=254)],
                        render_kw={"autocomplete": "username", "inputmode": "email"})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class LogoutForm(FlaskForm):
    """Only the CSRF token: logout is a POST."""


class ActionForm(FlaskForm):
    """A button that changes state, with an optional note to the client."""

    message = TextAreaField("Message to the client", validators=[Optional(), Length(max=5000)],
                            render_kw={"rows": 3})


class ConfirmForm(FlaskForm):
    confirm = BooleanField("I understand this cannot be undone", validators=[DataRequired("Tick the box to confirm.")])


# --- enquiries -----------------------------------------------------------------------------

class EnquiryFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Name or email", validators=[Optional(), Length(max=254)], render_kw={"type": "search"})
    status = SelectField("Status", choices=options([("", "Any status (except spam)")] + [(s, s.title()) for s in Enquiry.STATUSES]),
                         validators=[Optional()])
    kind = SelectField("Kind", choices=options([("", "Any kind"), (Enquiry.CONTACT, "Contact"),
                                                (Enquiry.PRIVATE_TRAINING, "Private training")]), validators=[Optional()])


class NoteForm(FlaskForm):
    # Its own id: the reply form on the same page also has a `body` field.
    body = TextAreaField("Internal note", validators=[DataRequired(), Length(max=10000)], render_kw={"rows": 3}, id="note-body")


class StatusForm(FlaskForm):
    status = SelectField("Status", choices=options((s, s.title()) for s in Enquiry.STATUSES))


class ReplyForm(FlaskForm):
    subject = StringField("Subject", validators=[DataRequired(), Length(max=200)])
    body = TextAreaField("Reply", validators=[DataRequired(), Length(max=20000)], render_kw={"rows": 10})


class SessionForm(FlaskForm):
    """Create or reschedule a training session; times are entered in the session's own zone."""

    course_id = SelectField("Course", coerce=int)
    starts_at = DateTimeLocalField("Starts", format=DATETIME_FORMATS, validators=[DataRequired()])
    ends_at = DateTimeLocalField("Ends", format=DATETIME_FORMATS, validators=[DataRequired()])
    timezone = StringField("Time zone", default="Europe/London", validators=[DataRequired(), Length(max=64), valid_timezone])
    mode = SelectField("Format", choices=options([(TrainingSession.ONLINE, "Online"), (TrainingSession.ON_SITE, "On-site")]))
    location = StringField("Location", validators=[Optional(), Length(max=200)])
    capacity = IntegerField("Capacity (seats)", default=10, validators=[DataRequired(), NumberRange(min=1, max=500)])

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


# --- content -------------------------------------------------------------------------------

class CourseForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=150)])
    slug = StringField("Slug", validators=[DataRequired(), Length(max=80), SLUG])
    summary = StringField("Summary", validators=[Optional(), Length(max=300)])
    description = TextAreaField("Description (Markdown)", validators=[Optional(), Length(max=50000)])
    duration_days = IntegerField("Duration (days)", default=1, validators=[DataRequired(), NumberRange(min=1, max=60)])
    level = StringField("Level", default="Beginner", validators=[DataRequired(), Length(max=30)])
    prerequisites = TextAreaField("Prerequisites", validators=[Optional(), Length(max=5000)], render_kw={"rows": 3})
    price = IntegerField("Price per seat", validators=[Optional(), NumberRange(min=0)])
    currency = StringField("Currency", validators=[Optional(), Length(min=3, max=3)])
    position = IntegerField("Position", default=0, validators=[Optional()])
    published = BooleanField("Published", default=True)


class ServiceForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=120)])
    slug = StringField("Slug", validators=[DataRequired(), Length(max=80), SLUG])
    headline = StringField("Headline", validators=[Optional(), Length(max=200)])
    summary = StringField("Summary", validators=[Optional(), Length(max=300)])
    body = TextAreaField("Body (Markdown)", validators=[Optional(), Length(max=50000)], render_kw={"rows": 14})
    offerings = TextAreaField("Offerings (one per line)", validators=[Optional(), Length(max=5000)], render_kw={"rows": 5})
    cta = SelectField("Call to action", choices=options([("contact", "Contact"), ("training", "Training")]))
    position = IntegerField("Position", default=0, validators=[Optional()])


class PostForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    slug = StringField("Slug", validators=[DataRequired(), Length(max=120), SLUG])
    summary = StringField("Summary", validators=[Optional(), Length(max=300)])
    body = TextAreaField("Body (Markdown)", validators=[Optional(), Length(max=200000)], render_kw={"rows": 20})
    tags = StringField("Tags (comma-separated)", validators=[Optional(), Length(max=500)])
    status = SelectField("Status", choices=options([(Post.DRAFT, "Draft"), (Post.PUBLISHED, "Published")]))
    published_at = DateTimeLocalField("Publish at (UTC; a future time schedules it)", format=DATETIME_FORMATS,
                                      validators=[Optional()])

    def tag_names(self) -> list[str]:
        seen: dict[str, str] = {}
        value = self.tags.data or ""
        if not isinstance(value, str):  # field left out of the POST: WTForms kept the post's Tag list
            value = ",".join(tag.name for tag in value)
        for raw in value.split(","):
            name = " ".join(raw.split())[:60]
            if name and name.lower() not in seen:
                seen[name.lower()] = name
        return list(seen.values())


# --- privacy -------------------------------------------------------------------------------

class PrivacySearchForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])


class EraseForm(FlaskForm):
    email = HiddenField(validators=[DataRequired(), Length(max=254)])
    confirm_email = StringField("Type the address again to confirm", validators=[DataRequired(), Length(max=254)],
                                render_kw={"autocomplete": "off"})

    def validate_confirm_email(self, field) -> None:
        if (field.data or "").strip().lower() != (self.email.data or "").strip().lower():
            raise ValidationError("This does not match the address being erased.")

