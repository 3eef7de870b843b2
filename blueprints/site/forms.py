"""Site forms: the service editor (admin)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from blueprints.forms import SLUG, options, whole_number


class ServiceForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=120)])
    slug = StringField("Slug", validators=[DataRequired(), Length(max=80), SLUG])
    headline = StringField("Headline", validators=[Optional(), Length(max=200)])
    summary = StringField("Summary", validators=[Optional(), Length(max=300)])
    body = TextAreaField("Body (Markdown)", validators=[Optional(), Length(max=50000)], render_kw={"rows": 14})
    offerings = TextAreaField("Offerings (one per line)", validators=[Optional(), Length(max=5000)], render_kw={"rows": 5})
    cta = SelectField("Call to action", choices=options([("contact", "Contact"), ("training", "Training")]))
    position = IntegerField("Position", default=0, validators=[Optional(), whole_number(min=-10_000, max=10_000)])
