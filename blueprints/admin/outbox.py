"""The mail outbox: every message, retry a failed one."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from blueprints.admin import bp
from blueprints.admin.forms import OutboxFilterForm, RetryForm
from extensions import db
from models import AuditLog, OutboxMessage

PER_PAGE = 50
STATUSES = OutboxMessage.STATUSES


def get_message(message_id: int) -> OutboxMessage:
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        abort(404)
    return message


@bp.get("/outbox")
def outbox():
    form = OutboxFilterForm(request.args)
    status = form.status.data if form.status.data in STATUSES else ""
    query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    if status:
        query = query.where(OutboxMessage.status == status)
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    results = db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)
    counts = dict(db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    filters = {"status": status} if status else {}
    return render_template("admin/outbox.html", form=form, results=results, counts=counts, statuses=STATUSES,
                           filters=filters)


@bp.get("/outbox/<int:message_id>")
def outbox_message(message_id: int):
    message = get_message(message_id)
    related_url = None
    kind, _, related_id = (message.related or "").partition(":")
    if kind == "enquiry" and related_id.isdigit():
        related_url = f"/admin/enquiries/{related_id}"  # a plain path: the page belongs to the enquiries area
    return render_template("admin/outbox_message.html", message=message, retry_form=RetryForm(),
                           related_url=related_url)


@bp.post("/outbox/<int:message_id>/retry")
def outbox_retry(message_id: int):
    form = RetryForm()
    if not form.validate_on_submit():
        abort(400)
    message = get_message(message_id)
    previous_error = message.last_error
    if not message.retry():
        flash(f"Only a failed message can be retried; this one is {message.status}. Nothing was changed.", "warning")
    else:
        AuditLog.record(current_user, "outbox.retry", message, to=message.to_addr, subject=message.subject,
                        last_error=(previous_error or "")[:500])
        db.session.commit()
        flash("Queued again: it goes out with the next delivery.", "success")
    return redirect(url_for("admin.outbox_message", message_id=message.id), code=303)
