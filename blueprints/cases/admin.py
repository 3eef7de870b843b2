"""The case study editor (draft, preview, publish), under Admin → Content."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from blueprints.admin import bp
from blueprints.cases import operations as ops
from blueprints.cases.forms import CaseStudyActionForm, CaseStudyForm
from blueprints.cases.routes import render_case_study
from extensions import db
from models import CaseStudy, Service
from models.base import slug_taken
from models.transactions import NotAllowed

TEXT_FIELDS = ("title", "slug", "client", "summary", "problem", "work", "result", "quote", "quote_by")


@bp.get("/case-studies")
def case_studies():
    items = db.session.scalars(select(CaseStudy).order_by(CaseStudy.status, CaseStudy.published_at.desc(),
                                                          CaseStudy.id.desc())).all()
    return render_template("admin/case_studies.html", items=items)


@bp.route("/case-studies/new", methods=["GET", "POST"], endpoint="case_study_new")
@bp.route("/case-studies/<int:case_id>", methods=["GET", "POST"], endpoint="case_study_edit")
def case_study_edit(case_id: int | None = None):
    item = db.get_or_404(CaseStudy, case_id) if case_id is not None else None
    services = db.session.scalars(Service.ordered()).all()
    form = CaseStudyForm(obj=item, services=services)
    if request.method == "GET" and item is not None:
        form.services.data = [s.id for s in item.services]
    if form.is_submitted() and not form.slug.data and isinstance(form.title.data, str) and form.title.data:
        form.slug.data = ops.propose_slug(form.title.data, case_id)  # shown in the field, so the consultant sees it
    if form.validate_on_submit():
        if not form.slug.data:
            form.slug.errors.append("Enter a slug: none could be made from the title (letters a–z, digits, hyphens).")
        elif slug_taken(CaseStudy, form.slug.data, case_id):
            form.slug.errors.append("Another case study already uses this slug.")
        else:
            data = {name: getattr(form, name).data for name in TEXT_FIELDS}
            data = {name: value.strip() if isinstance(value, str) else "" for name, value in data.items()}
            data["technologies"] = form.technologies.data if isinstance(form.technologies.data, list) else []
            data["client_named"] = bool(form.client_named.data)
            data["service_ids"] = form.services.data or []
            item = ops.save_case_study(item, data, current_user._get_current_object())
            db.session.commit()
            flash(f"Case study saved ({item.state()}) at /case-studies/{item.slug}.", "success")
            return redirect(url_for("admin.case_study_edit", case_id=item.id), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/case_study_form.html", form=form, item=item), status


@bp.get("/case-studies/<int:case_id>/preview")
def case_study_preview(case_id: int):
    """The page as it will show, for the consultant only: a draft too."""
    return render_case_study(db.get_or_404(CaseStudy, case_id), preview=True)


@bp.post("/case-studies/<int:case_id>/<any(publish, unpublish):action>")
def case_study_action(case_id: int, action: str):
    item = db.get_or_404(CaseStudy, case_id)
    form = CaseStudyActionForm()
    if not form.validate_on_submit():  # only the CSRF token and where to go back to: a bad token is a 400
        abort(400)
    try:
        ops.ACTIONS[action](item, current_user._get_current_object())
    except NotAllowed as error:
        flash(str(error), "warning")
    else:
        db.session.commit()
        flash(f"“{item.title}” is now {item.state()}.", "success")
    if form.back.data == "list":
        return redirect(url_for("admin.case_studies"), code=303)
    return redirect(url_for("admin.case_study_edit", case_id=item.id), code=303)
