"""Public case study pages: the list and one case study."""
from __future__ import annotations

from flask import abort, render_template

from blueprints.cases import bp
from blueprints.cases import operations as ops


@bp.get("/case-studies")
def index():
    return render_template("cases/index.html", items=ops.published_case_studies())


@bp.get("/case-studies/<slug>")
def case_study(slug: str):
    item = ops.visible_case_study(slug)
    if item is None:
        abort(404)
    return render_case_study(item)


def render_case_study(item, *, preview: bool = False):
    """The page; `preview` is the consultant's view of a draft (no structured data, not indexed)."""
    return render_template("cases/case_study.html", item=item, preview=preview,
                           structured_data=None if preview else ops.structured_data(item))
