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

from blueprints.forms import email_field, options
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


# --- account security ----------------------------------------------------------------------

class CodeForm(FlaskForm):
    """The second step of signing in: a code from the authenticator app, or a recovery code."""
    code = StringField("Code", validators=[DataRequired("Enter the code from your authenticator app."), Length(max=40)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "text", "maxlength": 40,
                                  "spellcheck": "false", "autocapitalize": "none"})


class ForgotPasswordForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired("Enter your email address."), Length(max=254)],
                        render_kw={"autocomplete": "username", "inputmode": "email", "maxlength": 254,
                                   "spellcheck": "false", "autocapitalize": "none"})


MIN_PASSWORD = 10


class NewPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[
        DataRequired("Choose a password."), Length(min=MIN_PASSWORD, max=200, message="Use 10 to 200 characters.")],
        render_kw={"autocomplete": "new-password", "maxlength": 200, "minlength": MIN_PASSWORD})
    confirm = PasswordField("The same password again", validators=[DataRequired("Type the password again."),
                                                                   Length(max=200)],
                            render_kw={"autocomplete": "new-password", "maxlength": 200})

    def validate_confirm(self, field) -> None:
        if field.data != self.password.data:
            raise ValidationError("The two passwords are not the same.")


class ConfirmSetupForm(FlaskForm):
    code = StringField("Code from the app", validators=[DataRequired("Enter the 6-digit code the app shows."),
                                                        Length(max=20)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 20,
                                  "spellcheck": "false"})


class PasswordCheckForm(FlaskForm):
    """Asks for the password again before a change to how this account signs in."""
    password = PasswordField("Your password", validators=[DataRequired("Enter your password."), Length(max=200)],
                             render_kw={"autocomplete": "current-password", "maxlength": 200})


class DisableTwoFactorForm(PasswordCheckForm):
    code = StringField("Code from the app, or a recovery code",
                       validators=[DataRequired("Enter a code from the app or a recovery code."), Length(max=40)],
                       render_kw={"autocomplete": "one-time-code", "maxlength": 40, "spellcheck": "false"})


class InviteAdminForm(FlaskForm):
    email = email_field("Their email address", "Enter the new admin's email address.")


class ButtonForm(FlaskForm):
    """Only the CSRF token: what to do is in the URL."""
