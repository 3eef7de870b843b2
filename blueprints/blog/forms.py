"""Blog forms: a reader's comment; the post editor and comment moderation (admin)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from blueprints.blog.operations import COMMENT_MAX_CHARS, COMMENT_MIN_CHARS
from blueprints.forms import DATETIME_FORMATS, SLUG, email_field, local_to_utc, options, utc_to_local, visible_name
from models import Post
from web.spam import SpamTrapFields


def clean(value):
    """What add_comment stores (stripped, LF line ends), so the lengths checked here are the lengths stored."""
    return value.strip().replace("\r\n", "\n") if isinstance(value, str) else value


class CommentForm(FlaskForm, SpamTrapFields):
    name = StringField("Name", filters=[clean], validators=[DataRequired("Please enter your name."), Length(max=100),
                                                    visible_name],
                       render_kw={"autocomplete": "name", "maxlength": 100})
    email = email_field("Email", "Please enter your email address.")
    body = TextAreaField("Comment", filters=[clean], validators=[
        DataRequired("Please write a comment."),
        Length(min=COMMENT_MIN_CHARS, max=COMMENT_MAX_CHARS,
               message=f"Please keep your comment between {COMMENT_MIN_CHARS} and {COMMENT_MAX_CHARS:,} characters."),
    ], render_kw={"rows": 6, "maxlength": COMMENT_MAX_CHARS})
    consent = BooleanField(validators=[DataRequired("Please agree so that your comment can be stored.")])
    submit = SubmitField("Post comment")


# --- admin ---------------------------------------------------------------------------------

class PostForm(FlaskForm):
    """The editor; publish times are wall-clock times in `zone` (the consultant's, SITE_TIMEZONE)."""

    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    # Left empty, the editor makes one from the title (operations.propose_slug).
    slug = StringField("Slug", validators=[Optional(), Length(max=120), SLUG])
    summary = StringField("Summary", validators=[Optional(), Length(max=300)])
    body = TextAreaField("Body (Markdown)", validators=[Optional(), Length(max=200000)], render_kw={"rows": 20})
    tags = StringField("Tags (comma-separated)", validators=[Optional(), Length(max=500)])
    status = SelectField("Status", choices=options([(Post.DRAFT, "Draft"), (Post.PUBLISHED, "Published")]))
    published_at = DateTimeLocalField("Publish at", format=DATETIME_FORMATS, validators=[Optional()])

    def __init__(self, *args, zone: str, post: Post | None = None, **kwargs) -> None:
        super().__init__(*args, obj=post, **kwargs)
        self.zone = zone
        self.published_at.label.text = f"Publish at ({zone} time)"
        if not self.is_submitted() and post is not None:
            self.tags.data = ", ".join(t.name for t in post.tags)
            self.published_at.data = utc_to_local(post.published_at, zone)

    def validate_published_at(self, field) -> None:
        # A time inside the spring-forward gap (01:30 on the last Sunday of March in London) never happens.
        if field.data is not None and utc_to_local(local_to_utc(field.data, self.zone), self.zone) != field.data:
            raise ValidationError(f"{field.data:%H:%M} does not exist on {field.data:%-d %B %Y} in {self.zone}: "
                                  "the clocks go forward then. Choose another time.")

    def publish_time(self):
        """The entered time as a UTC instant, or None when left empty (publishing then means now)."""
        return local_to_utc(self.published_at.data, self.zone) if self.published_at.data else None

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


class PostActionForm(FlaskForm):
    """A Publish / Unpublish button; `back` is "content" when it was pressed in the content list."""

    back = HiddenField()


class ModerationForm(FlaskForm):
    """One moderation button; `seen` is the state the moderator saw, so a stale click changes nothing."""

    seen = HiddenField()
