"""Invoice admin screens: the list (open, overdue, all), one invoice (PDF, payment received, credit note),
the accountant's CSV, and the business details every invoice is issued with."""
from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from blueprints.admin import bp, paginate
from blueprints.csv_export import csv_response
from blueprints.invoices import operations as ops
from blueprints.invoices.forms import BusinessDetailsForm, CreditNoteForm, ExportForm, PaymentForm, amount_cents
from extensions import db
from models import BusinessDetails, Invoice
from models.invoices import DEFAULT_REVERSE_CHARGE_NOTE
from models.transactions import NotAllowed

PER_PAGE = 50
FILTERS = {"open": "Unpaid", "overdue": "Overdue", "all": "All"}


def _invoice_or_404(invoice_id: int) -> Invoice:
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None:
        abort(404)
    return invoice


def pdf_response(invoice: Invoice, *, download: bool = False) -> Response:
    response = Response(invoice.pdf, mimetype="application/pdf")
    disposition = "attachment" if download else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{invoice.filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/invoices")
def invoices():
    show = request.args.get("show", "open")
    if show not in FILTERS:
        show = "open"
    today = ops.local_today()
    if show == "overdue":
        query = Invoice.overdue_query(today)
    elif show == "open":
        query = Invoice.open_query().order_by(Invoice.due_on, Invoice.id)
    else:
        query = select(Invoice).order_by(Invoice.issued_on.desc(), Invoice.id.desc())
    page = paginate(query, PER_PAGE)
    export = ExportForm(request.args if "start" in request.args else None)
    if "start" not in request.args:
        export.start.data = today.replace(day=1)
        export.end.data = today
    return render_template("admin/invoices.html", page=page, show=show, filters=FILTERS, today=today,
                           export=export, details=BusinessDetails.current())


@bp.get("/invoices/export.csv")
def invoices_export():
    form = ExportForm(request.args)
    if not form.validate():
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("admin.invoices", show="all"), code=303)
    header, rows = ops.export_rows(form.start.data, form.end.data)
    return csv_response(f"invoices-{form.start.data.isoformat()}-{form.end.data.isoformat()}.csv", header, rows)


@bp.get("/invoices/<int:invoice_id>")
def invoice(invoice_id: int):
    item = _invoice_or_404(invoice_id)
    payment = PaymentForm()
    if not payment.amount.data:
        payment.amount.data = ops.decimal(item.outstanding_cents)
    payment.paid_on.data = payment.paid_on.data or ops.local_today()
    note = db.session.get(Invoice, item.credited_by) if item.credited_by else None
    return render_template("admin/invoice.html", invoice=item, payment=payment, credit_note=note,
                           today=ops.local_today())


@bp.get("/invoices/<int:invoice_id>.pdf")
def invoice_pdf(invoice_id: int):
    return pdf_response(_invoice_or_404(invoice_id), download=request.args.get("download") == "1")


@bp.post("/invoices/<int:invoice_id>/payment")
def invoice_payment(invoice_id: int):
    item = _invoice_or_404(invoice_id)
    form = PaymentForm()
    if form.validate_on_submit():
        try:
            ops.record_payment(item.id, current_user, amount_cents=amount_cents(form.amount.data),
                               paid_on=form.paid_on.data, reference=form.reference.data or "")
        except NotAllowed as refused:
            db.session.rollback()
            form.amount.errors = [str(refused)]
        else:
            db.session.commit()
            item = db.session.get(Invoice, invoice_id)
            flash(f"Payment recorded: {item.number} is {item.status_label.lower()}.", "success")
            return redirect(url_for("admin.invoice", invoice_id=invoice_id, _anchor="payment"), code=303)
    return render_template("admin/invoice.html", invoice=item, payment=form, today=ops.local_today(),
                           credit_note=None), 422


@bp.route("/invoices/<int:invoice_id>/credit", methods=["GET", "POST"])
def invoice_credit(invoice_id: int):
    """Cancel an issued invoice with a credit note: asks first (the client is emailed; it cannot be undone)."""
    item = _invoice_or_404(invoice_id)
    if item.is_credit_note or item.is_credited:
        flash(f"{item.number} cannot be credited: it is {'a credit note' if item.is_credit_note else 'credited already'}.",
              "warning")
        return redirect(url_for("admin.invoice", invoice_id=invoice_id), code=303)
    form = CreditNoteForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            note = ops.credit_invoice_by_admin(item.id, current_user, form.reason.data)
        except NotAllowed as refused:
            db.session.rollback()
            flash(str(refused), "warning")
        else:
            db.session.commit()
            flash(f"Credit note {note.number} issued and emailed to {note.buyer_email}.", "success")
        return redirect(url_for("admin.invoice", invoice_id=invoice_id), code=303)
    status = 422 if form.errors else 200
    return render_template("admin/invoice_credit.html", invoice=item, form=form), status


@bp.route("/settings/business", methods=["GET", "POST"])
def business_details():
    details = BusinessDetails.current()
    form = BusinessDetailsForm(obj=details)
    if request.method == "GET" and not form.reverse_charge_note.data:
        form.reverse_charge_note.data = DEFAULT_REVERSE_CHARGE_NOTE
    if form.validate_on_submit():
        fields = {name: form[name].data for name in (
            "legal_name", "address", "vat_id", "iban", "bic", "payment_terms_days", "invoice_series",
            "credit_note_series", "number_format", "currency", "default_tax_rate", "reverse_charge",
            "reverse_charge_note", "footer_note")}
        fields["vat_id"] = fields["vat_id"] or ""
        fields["bic"] = fields["bic"] or ""
        fields["country"] = (fields["vat_id"] or "")[:2]
        fields["reverse_charge_note"] = fields["reverse_charge_note"] or DEFAULT_REVERSE_CHARGE_NOTE
        fields["footer_note"] = fields["footer_note"] or ""
        ops.save_business_details(current_user, **fields)
        db.session.commit()
        flash("Business details saved. Invoices issued from now on use them; those already issued stay as they are.",
              "success")
        return redirect(url_for("admin.business_details"), code=303)
    status = 422 if form.errors else 200
    return render_template("admin/business_details.html", form=form, details=details), status
