"""Forms of the admin shell (sign-in, action buttons, outbox, privacy) and the field helpers every admin form uses."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Email, Length, ValidationError

from blueprints.forms import options
from models.outbox import OutboxMessage


class LoginForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired(), Length(max=254)],
                        render_kw={"autocomplete": "username", "inputmode": "email"})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class LogoutForm(FlaskForm):
    """Only the CSRF token: logout is a POST."""


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



# --- outbox --------------------------------------------------------------------------------

class OutboxFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    status = SelectField("Status", choices=options([("", "Any status")] + [(s, s.title()) for s in OutboxMessage.STATUSES]))


class RetryForm(FlaskForm):
    """Only the CSRF token: the message to retry is in the URL."""


# --- archive and delete ----------------------------------------------------------------------

class ConfirmForm(FlaskForm):
    """Only the CSRF token: the row and the action are in the URL, the answer in the button (confirm=1)."""
