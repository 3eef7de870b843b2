"""The site's admin screens: the service editor."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from blueprints.admin import bp
from blueprints.site.forms import ServiceForm
from extensions import db
from models import AuditLog, Service
from models.base import slug_taken


@bp.route("/services/new", methods=["GET", "POST"], endpoint="service_new")
@bp.route("/services/<int:service_id>", methods=["GET", "POST"], endpoint="service_edit")
def service_edit(service_id: int | None = None):
    service = db.get_or_404(Service, service_id) if service_id is not None else None
    form = ServiceForm(obj=service)
    if request.method == "GET" and service is not None:
        form.offerings.data = "\n".join(service.offerings or [])
    if form.validate_on_submit():
        if slug_taken(Service, form.slug.data, service_id):
            form.slug.errors.append("Another service already uses this slug.")
        else:
            created = service is None
            if created:
                service = Service()
                db.session.add(service)
            service.title, service.slug = form.title.data, form.slug.data
            service.headline, service.summary = form.headline.data or "", form.summary.data or ""
            service.body = form.body.data or ""
            offerings = form.offerings.data or ""
            if not isinstance(offerings, str):  # field left out of the POST: WTForms kept the stored list
                offerings = "\n".join(offerings)
            service.offerings = [line.strip() for line in offerings.splitlines() if line.strip()]
            service.cta, service.position = form.cta.data, form.position.data or 0
            db.session.flush()
            AuditLog.record(current_user, "service.create" if created else "service.update", service)
            db.session.commit()
            flash("Service saved.", "success")
            return redirect(url_for("admin.service_edit", service_id=service.id), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/service_form.html", form=form, service=service), status
