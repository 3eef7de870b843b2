"""Privacy requests: find, export, erase a person's data."""
from __future__ import annotations

import json

from flask import Response, current_app, flash, render_template, request
from flask_login import current_user

from blueprints.admin import bp
from blueprints.admin import operations as ops
from blueprints.admin.forms import EraseForm, PrivacySearchForm
from extensions import db
from models import AuditLog


def render_found(form: PrivacySearchForm, status: int = 200):
    found = ops.find_person(form.email.data) if form.email.data and not form.errors else None
    return render_template("admin/privacy.html", form=form, found=found,
                           erase_form=EraseForm(formdata=None, email=form.email.data)), status


@bp.route("/privacy", methods=["GET", "POST"])
def privacy():
    form = PrivacySearchForm()
    if request.method == "POST" and not form.validate():
        return render_found(form, 422)
    return render_found(form)


@bp.post("/privacy/export")
def privacy_export():
    form = PrivacySearchForm()
    if not form.validate():
        return render_found(form, 422)
    data = ops.export_person(form.email.data)
    counts = {k: len(data[k]) for k in ("enquiries", "bookings", "comments", "emails")}
    AuditLog.record(current_user, "privacy.export", None, email_sha256=ops.email_hash(form.email.data), **counts)
    db.session.commit()
    body = json.dumps(data, indent=2, ensure_ascii=False)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": 'attachment; filename="personal-data.json"',
    })


@bp.post("/privacy/erase")
def privacy_erase():
    """First POST shows what will be erased and asks for the address again; the second erases."""
    form = EraseForm()
    email = (form.email.data or "").strip().lower()
    if not email:
        return render_found(PrivacySearchForm(formdata=None), 422)
    if "confirm_email" not in request.form:
        form = EraseForm(formdata=None, email=email)
        return render_template("admin/privacy_erase.html", form=form, found=ops.find_person(email))
    if not form.validate():
        return render_template("admin/privacy_erase.html", form=form, found=ops.find_person(email)), 422
    counts = ops.erase_person(email, current_user)
    db.session.commit()
    words = {"enquiries": ("enquiry", "enquiries"), "bookings": ("booking", "bookings"),
             "comments": ("comment", "comments"), "outbox": ("email", "emails")}
    erased = ", ".join(f"{counts[k]} {one if counts[k] == 1 else many}" for k, (one, many) in words.items())
    kept = counts["invoices_kept"]
    flash(f"Erased: {erased}. The rows stay, anonymised, so totals are unchanged."
          + (f" Kept as issued: {kept} {'invoice or credit note' if kept == 1 else 'invoices and credit notes'}"
             f" (tax law: {current_app.config['INVOICE_RETENTION_YEARS']} years)." if kept else ""), "success")
    search = PrivacySearchForm(formdata=None, email=email)
    return render_found(search)
