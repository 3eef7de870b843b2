"""Forms of the admin shell (sign-in, action buttons, outbox, privacy, site settings) and the field helpers every admin form uses."""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from blueprints.forms import RequiredWhen, email_field, options, valid_timezone, visible_name
from models.outbox import OutboxMessage
from models.site_settings import MAX_CALLS_TO_ACTION, MAX_PROFILE_LINKS


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


# --- site settings -------------------------------------------------------------------------

LOCALE = re.compile(r"^([A-Za-z]{2,3})(?:-([A-Za-z]{4}))?(?:-([A-Za-z]{2}|[0-9]{3}))?$")


def strip(value):
    return value.strip() if isinstance(value, str) else value


def _readable_url(value: str) -> bool:
    return not any(c.isspace() or unicodedata.category(c)[0] == "C" for c in value)


def https_url(value: str) -> bool:
    """An absolute https:// address with a host and no user name in it (https://a@b.example reads as a, goes to b)."""
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and "@" not in parts.netloc and _readable_url(value)


def site_path(value: str) -> bool:
    """A path on this site: /contact, /training#dates (never //host or /\\host, which browsers take as another site)."""
    parts = urlsplit(value)
    return (value.startswith("/") and not value.startswith(("//", "/\\")) and "\\" not in value
            and not parts.scheme and not parts.netloc and _readable_url(value))


class LinkFields:
    """Label + URL pairs as plain fields (one form, no JavaScript to add rows)."""

    @staticmethod
    def check(form, prefix: str, count: int, allow_path: bool) -> list[dict]:
        links, ok = [], True
        for number in range(1, count + 1):
            label, url = form[f"{prefix}{number}_label"], form[f"{prefix}{number}_url"]
            if label.data and not url.data:
                url.errors.append("Enter the address this link goes to, or clear its label.")
                ok = False
            elif url.data and not label.data:
                label.errors.append("Enter the words the link shows, or clear its address.")
                ok = False
            elif url.data and not (https_url(url.data) or allow_path and site_path(url.data)):
                url.errors.append("Enter a path on this site starting with / (e.g. /contact) or an https:// address."
                                  if allow_path else "Enter an https:// address, e.g. https://www.linkedin.com/in/you.")
                ok = False
            elif url.data:
                links.append({"label": label.data, "url": url.data})
        return links if ok else None


def link_pair(what: str) -> tuple[StringField, StringField]:
    label = StringField(f"{what}: label", filters=[strip], validators=[Optional(), Length(max=80)])
    url = StringField(f"{what}: address", filters=[strip], validators=[Optional(), Length(max=500)],
                      render_kw={"inputmode": "url", "spellcheck": "false", "autocapitalize": "none"})
    return label, url


class SiteSettingsForm(FlaskForm):
    site_name = StringField("Site name", filters=[strip], validators=[
        DataRequired("Enter the site's name."), Length(max=100), visible_name])
    tagline = StringField("Tagline", filters=[strip], validators=[Optional(), Length(max=200)])
    hero_eyebrow = StringField("Line above the heading", filters=[strip], validators=[Optional(), Length(max=200)])
    hero_heading = StringField("Heading", filters=[strip], validators=[
        DataRequired("Enter the home page's heading."), Length(max=200)])
    hero_text = TextAreaField("Text", filters=[strip], validators=[Optional(), Length(max=1000)])
    cta1_label, cta1_url = link_pair("First button")
    cta2_label, cta2_url = link_pair("Second button")
    consultant_name = StringField("Your name", filters=[strip], validators=[
        DataRequired("Enter your name."), Length(max=200), visible_name], render_kw={"autocomplete": "name"})
    consultant_email = email_field("Public email address", required="Enter the address enquiries and bookings go to.")
    footer_text = TextAreaField("Footer text", filters=[strip], validators=[Optional(), Length(max=500)])
    profile1_label, profile1_url = link_pair("Profile link 1")
    profile2_label, profile2_url = link_pair("Profile link 2")
    profile3_label, profile3_url = link_pair("Profile link 3")
    profile4_label, profile4_url = link_pair("Profile link 4")
    timezone = SelectField("Time zone", choices=[SelectChoice(z, z) for z in sorted(available_timezones())],
                           validators=[valid_timezone])
    locale = StringField("Language of emails", filters=[strip], validators=[
        DataRequired("Enter a language tag, e.g. en or en-GB."), Length(max=35)],
        render_kw={"spellcheck": "false", "autocapitalize": "none"})

    def validate_locale(self, field) -> None:
        match = LOCALE.match(field.data or "")
        if not match:
            raise ValidationError("Enter a language tag such as en, en-GB, de-AT or ar.")
        language, script, region = match.groups()
        field.data = "-".join(p for p in (language.lower(), script and script.title(), region and region.upper()) if p)

    def links(self) -> tuple[list[dict] | None, list[dict] | None]:
        """The calls to action and profile links as stored, or None (errors added to the fields) when one is wrong."""
        return (LinkFields.check(self, "cta", MAX_CALLS_TO_ACTION, allow_path=True),
                LinkFields.check(self, "profile", MAX_PROFILE_LINKS, allow_path=False))

    def fill(self, site) -> None:
        """Show the stored values (a GET)."""
        for name in ("site_name", "tagline", "hero_eyebrow", "hero_heading", "hero_text", "consultant_name",
                     "consultant_email", "footer_text", "timezone", "locale"):
            self[name].data = getattr(site, name)
        for prefix, links, count in (("cta", site.calls_to_action, MAX_CALLS_TO_ACTION),
                                     ("profile", site.profile_links, MAX_PROFILE_LINKS)):
            for number, link in enumerate(links[:count], start=1):
                self[f"{prefix}{number}_label"].data, self[f"{prefix}{number}_url"].data = link.label, link.url

# --- archive and delete ----------------------------------------------------------------------

class ConfirmForm(FlaskForm):
    """Only the CSRF token: the row and the action are in the URL, the answer in the button (confirm=1)."""

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
