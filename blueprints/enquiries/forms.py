"""The contact form, and the consultant's inbox forms."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from blueprints.forms import email_field, options, visible_name
from models import Enquiry
from models.enquiries import KIND_LABELS
from web.spam import SpamTrapFields

MESSAGE_MIN = 20
MESSAGE_MAX = 5000


class ContactForm(FlaskForm, SpamTrapFields):
    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=100), visible_name],
                       render_kw={"autocomplete": "name", "maxlength": 100})
    email = email_field("Email address")
    company = StringField("Company", validators=[Optional(), Length(max=150)],
                          render_kw={"autocomplete": "organization", "maxlength": 150})
    topic = SelectField("What is it about?", validators=[DataRequired("Choose a topic.")],
                        validate_choice=True)
    message = TextAreaField(
        "Your message",
        validators=[DataRequired("Tell me a little about what you need."),
                    Length(min=MESSAGE_MIN, max=MESSAGE_MAX,
                           message=f"Write between {MESSAGE_MIN} and {MESSAGE_MAX:,} characters.")],
        render_kw={"rows": 8, "minlength": MESSAGE_MIN, "maxlength": MESSAGE_MAX},
    )
    consent = BooleanField("I agree", validators=[DataRequired("Tick the box so I may keep your message to reply.")])

    def __init__(self, *args, topics: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.topic.choices = [SelectChoice("", "Choose a topic")] + [SelectChoice(v, label) for v, label in topics]


# --- the inbox (admin) -----------------------------------------------------------------------

class EnquiryFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Name or email", validators=[Optional(), Length(max=254)], render_kw={"type": "search"})
    # "Any" is a real choice here, not a missing answer: the filters say nothing about being optional.
    status = SelectField("Status", choices=options([("", "Any but spam")] + list(Enquiry.STATUS_LABELS.items())),
                         validators=[Optional()])
    kind = SelectField("Kind", choices=options([("", "Any kind")] + list(KIND_LABELS.items())), validators=[Optional()])


class NoteForm(FlaskForm):
    # Its own id: the reply form on the same page also has a `body` field.
    body = TextAreaField("Internal note", validators=[DataRequired(), Length(max=10000)], render_kw={"rows": 3}, id="note-body")


class StatusForm(FlaskForm):
    status = SelectField("Move to", choices=options(Enquiry.STATUS_LABELS.items()),
                         validators=[DataRequired("Choose where to move it.")])

    def offer(self, statuses: list[str]) -> None:
        """Show only the moves this enquiry allows (a POST names any status; the model refuses the rest).

        A required select starts with an empty placeholder (HTML requires it, and nothing is preselected).
        """
        self.status.choices = options([("", "Choose a status")] + [(s, Enquiry.STATUS_LABELS[s]) for s in statuses])


class ReplyForm(FlaskForm):
    subject = StringField("Subject", validators=[DataRequired(), Length(max=200)])
    body = TextAreaField("Reply", validators=[DataRequired(), Length(max=20000)], render_kw={"rows": 10})
