"""Forms of the admin shell (sign-in, action buttons, outbox, privacy) and the field helpers every admin form uses."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Email, Length, ValidationError

from blueprints.forms import RequiredWhen, options
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


# --- images (the post, service, course and case study editors) -------------------------------

class ImageForm(FlaskForm):
    """An image upload: the file, and what it shows for people who cannot see it (or that it is decorative)."""

    image = FileField("Image file (JPEG, PNG or WebP)", validators=[FileRequired("Choose an image file to upload.")],
                      render_kw={"accept": "image/jpeg,image/png,image/webp"})
    alt = StringField("Alt text", validators=[RequiredWhen("required unless decorative"), Length(max=300)], render_kw={"maxlength": 300, "dir": "auto"})
    decorative = BooleanField("Decorative: it shows nothing the text does not say (no alt text)")
    preview = BooleanField("Use it as the article's image when the article is shared (social preview)", default=True)

    def validate_alt(self, field) -> None:
        if not self.decorative.data and not (field.data or "").strip():
            raise ValidationError("Describe what the image shows, or tick “Decorative” if it shows nothing the text does not say.")


class ImageRemoveForm(FlaskForm):
    """Only the CSRF token: the image stops being shown (the file stays: a body may show it inline)."""
