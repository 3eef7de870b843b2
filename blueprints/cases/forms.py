"""The case study editor (admin)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from blueprints.forms import SLUG, RequiredWhen, options
from blueprints.training.forms import CheckboxesField

TECHNOLOGIES_MAX = 20


class TechnologiesField(StringField):
    """"Kubernetes, Ceph, Ansible": each once (case kept as typed), in the order given."""

    def _value(self) -> str:
        return self.data if isinstance(self.data, str) else ", ".join(self.data or [])

    def process_formdata(self, valuelist) -> None:
        if valuelist:
            self.data = valuelist[0]

    def post_validate(self, form, validation_stopped) -> None:
        if not isinstance(self.data, str) or self.errors:
            return
        names: dict[str, str] = {}
        for raw in self.data.split(","):
            name = " ".join(raw.split())
            if not name:
                continue
            if len(name) > 40:
                raise ValidationError(f"“{name[:40]}…”: a technology's name has at most 40 characters.")
            names.setdefault(name.lower(), name)
        if len(names) > TECHNOLOGIES_MAX:
            raise ValidationError(f"At most {TECHNOLOGIES_MAX} technologies.")
        self.data = list(names.values())


class CaseStudyForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Enter a title."), Length(max=200)], render_kw={"dir": "auto"})
    # Left empty, the editor makes one from the title.
    slug = StringField("Slug", validators=[Optional(), Length(max=120), SLUG])
    client = StringField("Client", validators=[DataRequired("Enter the client, or describe them (e.g. a telecom operator)."),
                                               Length(max=200)], render_kw={"dir": "auto"})
    client_named = BooleanField("The client agreed to be named (otherwise the text above is a description, like “a telecom operator”)")
    summary = StringField("Summary", validators=[Optional(), Length(max=300)], render_kw={"dir": "auto"})
    problem = TextAreaField("The problem (Markdown)", validators=[DataRequired("Describe the problem the client had."),
                                                                  Length(max=50000)], render_kw={"rows": 8})
    work = TextAreaField("What was done (Markdown)", validators=[DataRequired("Describe what was done."), Length(max=50000)],
                         render_kw={"rows": 10})
    result = TextAreaField("The result (Markdown)", validators=[DataRequired("Describe the result."), Length(max=50000)],
                           render_kw={"rows": 6})
    services = CheckboxesField("Services", coerce=int, choices=[])
    technologies = TechnologiesField("Technologies (comma-separated)", validators=[Optional(), Length(max=1000)])
    quote = TextAreaField("Quote", validators=[Optional(), Length(max=2000)], render_kw={"rows": 3, "dir": "auto"})
    quote_by = StringField("Who said it", validators=[RequiredWhen("required with a quote"), Length(max=200)], render_kw={"dir": "auto"})

    def __init__(self, *args, services=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.services.choices = options([(s.id, s.title) for s in services])

    def validate_quote_by(self, field) -> None:
        if (self.quote.data or "").strip() and not (field.data or "").strip():
            raise ValidationError("Say who said it (a role is enough, e.g. “Head of infrastructure”).")
        if (field.data or "").strip() and not (self.quote.data or "").strip():
            raise ValidationError("There is no quote to attribute: enter the quote or empty this field.")


class CaseStudyActionForm(FlaskForm):
    """A Publish / Unpublish button; `back` is "list" when it was pressed in the list."""

    back = HiddenField()
