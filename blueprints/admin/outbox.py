"""The mail outbox: every message, retry a failed one."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from blueprints.admin import bp, paginate
from blueprints.admin.forms import OutboxFilterForm, RetryForm
from extensions import db
from models import AuditLog, OutboxMessage

PER_PAGE = 50
STATUSES = OutboxMessage.STATUSES


@bp.get("/outbox")
def outbox():
    form = OutboxFilterForm(request.args)
    status = form.status.data if form.status.data in STATUSES else ""
    query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    if status:
        query = query.where(OutboxMessage.status == status)
    results = paginate(query, PER_PAGE)
    counts = dict(db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    filters = {"status": status} if status else {}
    return render_template("admin/outbox.html", form=form, results=results, counts=counts, statuses=STATUSES,
                           filters=filters)


def related_url(message: OutboxMessage) -> str | None:
    """The admin page of what the message is about ("enquiry:7"), when there is one."""
    kind, _, related_id = (message.related or "").partition(":")
    if kind == "enquiry" and related_id.isdecimal():
        return url_for("admin.enquiry", enquiry_id=int(related_id))
    return None


@bp.get("/outbox/<int:message_id>")
def outbox_message(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    return render_template("admin/outbox_message.html", message=message, retry_form=RetryForm(),
                           related_url=related_url(message))


@bp.post("/outbox/<int:message_id>/retry")
def outbox_retry(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    form = RetryForm()
    if not form.validate_on_submit():  # it holds only the CSRF token: a bad token is a 400
        abort(400)
    previous_error = message.last_error
    if not message.retry():
        flash(f"Only a failed message can be retried; this one is {message.status}. Nothing was changed.", "warning")
    else:
        AuditLog.record(current_user, "outbox.retry", message, to=message.to_addr, subject=message.subject,
                        last_error=(previous_error or "")[:500])
        db.session.commit()
        flash("Queued again: it goes out with the next delivery.", "success")
    return redirect(url_for("admin.outbox_message", message_id=message.id), code=303)
