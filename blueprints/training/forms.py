"""Training forms: booking a seat and asking for a private course; scheduling sessions and editing courses (admin)."""
from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

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
from blueprints.invoices.forms import no_spaces, valid_vat
from models import TrainingSession
from models.enquiries import FORMAT_LABELS
from web.spam import SpamTrapFields

CONSENT_TEXT = "I agree that my details are stored and used to handle this request (see the privacy page)."


class BookingForm(FlaskForm, SpamTrapFields):
    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=100), visible_name])
    email = email_field("Email")
    company = StringField("Company", validators=[Optional(), Length(max=150)])
    seats = IntegerField("Seats", default=1, validators=[
        InputRequired("Enter how many seats you need."), whole_number(min=1, max=99, message="Book between 1 and 99 seats.")])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=2000)])
    # Invoice details: shown and asked for only when the course has a price (`priced`).
    billing_address = TextAreaField("Billing address", validators=[Length(max=500)])  # required when priced (below)
    vat_id = StringField("VAT id", filters=[no_spaces], validators=[Optional(), Length(max=20), valid_vat])
    po_reference = StringField("Purchase order reference", validators=[Optional(), Length(max=60)])
    consent = BooleanField(CONSENT_TEXT, validators=[DataRequired("Tick the box so the booking can be stored.")])

    def __init__(self, *args, priced: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.priced = priced
        if priced:
            self.billing_address.flags.required = True

    def validate_billing_address(self, field) -> None:
        if self.priced and not (field.data or "").strip():
            raise ValidationError("Enter the address the invoice goes to.")

    def invoice_details(self) -> dict:
        if not self.priced:
            return {}
        return {"billing_address": "\n".join(line.strip() for line in self.billing_address.data.strip().splitlines()
                                             if line.strip()),
                "vat_id": self.vat_id.data or "", "po_reference": (self.po_reference.data or "").strip()}


class PrivateTrainingForm(FlaskForm, SpamTrapFields):
    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=100), visible_name])
    email = email_field("Email")
    company = StringField("Company", validators=[Optional(), Length(max=150)])
    preferred_dates = StringField("Preferred dates", validators=[
        DataRequired("Tell us roughly when, e.g. 'any week in March'."), Length(max=500)])
    attendees = IntegerField("Number of attendees", validators=[
        InputRequired("Enter how many people would attend."),
        whole_number(min=1, max=500, message="Enter a number between 1 and 500.")])
    training_format = RadioField("Format", choices=[SelectChoice(v, label) for v, label in FORMAT_LABELS.items()],
                                  validators=[DataRequired("Choose a format.")])
    message = TextAreaField("Anything else", validators=[Optional(), Length(max=5000)])
    consent = BooleanField(CONSENT_TEXT, validators=[DataRequired("Tick the box so the request can be stored.")])


class ConfirmForm(FlaskForm):
    """A bare POST with CSRF: the button on a confirmation page."""


# --- admin ---------------------------------------------------------------------------------

# Zones most of the consultant's sessions use, first; every other IANA zone follows, grouped by region.
COMMON_ZONES = (
    "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Brussels", "Europe/Amsterdam",
    "Europe/Berlin", "Europe/Zurich", "Europe/Vienna", "Europe/Madrid", "Europe/Rome", "Europe/Stockholm",
    "Europe/Warsaw", "Europe/Athens", "Europe/Helsinki", "America/New_York", "America/Chicago",
    "America/Denver", "America/Los_Angeles", "America/Toronto", "Asia/Dubai", "Asia/Kolkata",
    "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney", "UTC",
)
REGIONS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")


@lru_cache(maxsize=1)
def timezone_choices() -> tuple[SelectChoice, ...]:
    """Every IANA zone once: the common ones, then by region (Europe/Berlin as "Berlin" under "Europe"), then the rest."""
    zones = available_timezones()
    common = [SelectChoice(z, z.replace("_", " "), optgroup="Common") for z in COMMON_ZONES if z in zones]
    rest = sorted(zones - set(COMMON_ZONES))
    grouped = [SelectChoice(z, z.split("/", 1)[1].replace("_", " "), optgroup=region)
               for region in REGIONS for z in rest if z.startswith(region + "/")]
    seen = {c.value for c in common + grouped}
    other = [SelectChoice(z, z.replace("_", " "), optgroup="Other") for z in rest if z not in seen]
    return tuple(common + grouped + other)


def optional_int(value) -> int | None:
    """An id from a select whose first option is an empty prompt."""
    return None if value in ("", None) else int(value)


class PromptSelectField(SelectField):
    """A required select that opens on an empty prompt option: HTML wants a required select's first option empty,
    and a prompt says there is a choice to make rather than offering the first course as if chosen."""

    def __init__(self, label=None, validators=None, prompt: str = "Choose one", **kwargs) -> None:
        super().__init__(label, validators, **kwargs)
        self.prompt = prompt

    @property
    def choices(self):
        return [SelectChoice("", self.prompt), *(self._choices_from_input(SelectField.choices.fget(self)) or [])]

    @choices.setter
    def choices(self, value) -> None:
        SelectField.choices.fset(self, value)


class SessionForm(FlaskForm):
    """Create or reschedule a training session; times are entered in the session's own zone."""

    course_id = PromptSelectField("Course", coerce=optional_int, prompt="Choose a course",
                                  validators=[InputRequired("Choose a course.")])
    starts_at = DateTimeLocalField("Starts", format=DATETIME_FORMATS, validators=[DataRequired("Enter the start time.")])
    ends_at = DateTimeLocalField("Ends", format=DATETIME_FORMATS, validators=[DataRequired("Enter the end time.")])
    timezone = PromptSelectField("Time zone", default="Europe/London", choices=timezone_choices, prompt="Choose a time zone",
                           validators=[InputRequired("Choose a time zone."), valid_timezone],
                           validate_choice=False)  # valid_timezone says it in words, not "Not a valid choice"
    mode = PromptSelectField("Format", choices=options([(TrainingSession.ONLINE, "Online"), (TrainingSession.ON_SITE, "On-site")]),
                             default=TrainingSession.ONLINE, prompt="Choose online or on-site",
                             validators=[InputRequired("Choose online or on-site.")])
    location = StringField("Location", validators=[Optional(), Length(max=200)])
    capacity = IntegerField("Capacity (seats)", default=10, validators=[
        InputRequired("Enter how many seats the session has."), whole_number(min=1, max=500)])
    # Optional: left out of a POST, it keeps the session's value (or the default, 4).
    max_seats_per_booking = IntegerField("Most seats per booking", default=4, validators=[
        Optional(), whole_number(min=1, max=500)])
    # Goes into the "session moved" email to everyone booked; only a reschedule sends it.
    message = TextAreaField("Message to everyone booked", validators=[Optional(), Length(max=5000)],
                            render_kw={"rows": 3})

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


# --- the course outline, formats and tags ------------------------------------------------------

COURSE_FORMATS = (("online", "Online"), ("on-site", "On-site"), ("private", "Private (one team)"))
OUTLINE_MAX = 20_000
OUTLINE_LINE_MAX = 300
OUTLINE_MODULES_MAX = 50
TAGS_MAX = 1000
TAG_PATTERN = re.compile(r"\w[\w .+#-]*")


class OutlineField(TextAreaField):
    """The outline as text: a module title on its own line, its topics below it, each starting with "- "."""

    def _value(self) -> str:
        if isinstance(self.data, str):  # what was typed, shown back with its error
            return self.data
        blocks = []
        for module in self.data or []:
            blocks.append("\n".join([module.get("title", ""), *(f"- {t}" for t in module.get("topics", []))]))
        return "\n\n".join(blocks)

    def process_formdata(self, valuelist) -> None:
        if valuelist:
            self.data = valuelist[0]  # parsed once its length is checked (post_validate); an error shows it as typed

    def post_validate(self, form, validation_stopped) -> None:
        if not isinstance(self.data, str) or self.errors:
            return
        outline = []
        for number, raw in enumerate(self.data.splitlines(), start=1):
            line = " ".join(raw.split())
            if not line:
                continue
            if len(line) > OUTLINE_LINE_MAX:
                raise ValidationError(f"Line {number} is longer than {OUTLINE_LINE_MAX} characters.")
            if line[0] in "-*•":
                if not outline:
                    raise ValidationError(f"Line {number} is a topic: start with a module title on a line of its own.")
                topic = line[1:].strip()
                if topic:
                    outline[-1]["topics"].append(topic)
            else:
                outline.append({"title": line, "topics": []})
        if len(outline) > OUTLINE_MODULES_MAX:
            raise ValidationError(f"An outline has at most {OUTLINE_MODULES_MAX} modules.")
        self.data = outline


class TagsField(StringField):
    """Tags as "docker, containers": lower case, each once, in the order given."""

    def _value(self) -> str:
        return self.data if isinstance(self.data, str) else ", ".join(self.data or [])

    def process_formdata(self, valuelist) -> None:
        if valuelist:
            self.data = valuelist[0]

    def post_validate(self, form, validation_stopped) -> None:
        if not isinstance(self.data, str) or self.errors:
            return
        tags = []
        for raw in self.data.split(","):
            tag = " ".join(raw.split()).lower()
            if not tag:
                continue
            if not TAG_PATTERN.fullmatch(tag) or len(tag) > 40:
                raise ValidationError(f"\u201c{tag[:40]}\u201d: a tag has letters, digits, spaces or - + # . (at most 40).")
            if tag not in tags:
                tags.append(tag)
        if len(tags) > 20:
            raise ValidationError("At most 20 tags.")
        self.data = tags


class CheckboxesField(SelectMultipleField):
    """A few choices, any number of them, as checkboxes (unticked boxes are not sent: none ticked is an empty list)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CourseForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Enter a title."), Length(max=150)])
    slug = StringField("Slug", validators=[DataRequired("Enter a slug."), Length(max=80), SLUG])
    summary = StringField("Summary", validators=[Optional(), Length(max=300)])
    description = TextAreaField("Description (Markdown)", validators=[Optional(), Length(max=50000)])
    duration_days = IntegerField("Duration (days)", default=1, validators=[
        InputRequired("Enter how many days the course lasts."), whole_number(min=1, max=60)])
    level = StringField("Level", default="Beginner", validators=[DataRequired("Enter a level."), Length(max=30)])
    prerequisites = TextAreaField("Prerequisites", validators=[Optional(), Length(max=5000)], render_kw={"rows": 3})
    formats = CheckboxesField("Formats", choices=options(COURSE_FORMATS), default=[c for c, _ in COURSE_FORMATS])
    outline = OutlineField("Outline", default=list, validators=[Length(max=OUTLINE_MAX)], render_kw={"rows": 12})
    tags = TagsField("Tags", default=list, validators=[Length(max=TAGS_MAX)])
    price = IntegerField("Price per seat", validators=[Optional(), whole_number(min=0, max=1_000_000)])
    currency = StringField("Currency", validators=[Optional(), Length(min=3, max=3)])
    position = IntegerField("Position", default=0, validators=[Optional(), whole_number(min=-10_000, max=10_000)])
    published = BooleanField("Published", default=True)
