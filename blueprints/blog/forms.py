from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, Length

from blueprints.blog.operations import COMMENT_MAX_CHARS, COMMENT_MIN_CHARS
from spam import SpamTrapFields


def clean(value):
    """What add_comment stores (stripped, LF line ends), so the lengths checked here are the lengths stored."""
    return value.strip().replace("\r\n", "\n") if isinstance(value, str) else value


class CommentForm(FlaskForm, SpamTrapFields):
    name = StringField("Name", filters=[clean], validators=[DataRequired("Please enter your name."), Length(max=100)],
                       render_kw={"autocomplete": "name", "maxlength": 100})
    email = EmailField("Email", filters=[clean], validators=[DataRequired("Please enter your email address."),
                                            Email("Please enter a valid email address."), Length(max=254)],
                       render_kw={"autocomplete": "email", "maxlength": 254})
    body = TextAreaField("Comment", filters=[clean], validators=[
        DataRequired("Please write a comment."),
        Length(min=COMMENT_MIN_CHARS, max=COMMENT_MAX_CHARS,
               message=f"Please keep your comment between {COMMENT_MIN_CHARS} and {COMMENT_MAX_CHARS:,} characters."),
    ], render_kw={"rows": 6, "maxlength": COMMENT_MAX_CHARS})
    consent = BooleanField(validators=[DataRequired("Please agree so that your comment can be stored.")])
    submit = SubmitField("Post comment")
