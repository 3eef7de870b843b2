"""The mail outbox: every message, what became of it in words, retry a failed one, send a waiting one now."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from blueprints.admin import bp, paginate
from blueprints.admin.forms import OutboxFilterForm, RetryForm
from extensions import db
from models import AuditLog, Booking, Comment, Enquiry, OutboxMessage
from models.outbox import failure_reason

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
                           filters=filters, **_helpers())


@bp.get("/outbox/<int:message_id>")
def outbox_message(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    return render_template("admin/outbox_message.html", message=message, retry_form=RetryForm(), **_helpers())


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


@bp.post("/outbox/<int:message_id>/send-now")
def outbox_send_now(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    if not RetryForm().validate_on_submit():  # only the CSRF token
        abort(400)
    if not message.send_now():
        flash(f"Only a waiting message can be sent now; this one is {message.status}. Nothing was changed.", "warning")
    else:
        AuditLog.record(current_user, "outbox.send_now", message, to=message.to_addr, subject=message.subject,
                        attempts=message.attempts)
        db.session.commit()
        _wake_delivery()
        flash("It goes out now, without waiting for its next try; this page shows how it went once you reload it.",
              "success")
    return redirect(url_for("admin.outbox_message", message_id=message.id), code=303)


def _wake_delivery() -> None:
    """The one-process default's delivery thread sleeps until the next due message: wake it (workers poll)."""
    from mail.thread import ensure_thread

    thread = ensure_thread(current_app._get_current_object())
    if thread is not None:
        thread.wake()


# --- what the pages say -------------------------------------------------------------------------

def _helpers() -> dict:
    return {"related_link": related_link, "delivery_summary": delivery_summary, "failure_reason": failure_reason}


def related_link(message: OutboxMessage) -> tuple[str, str | None]:
    """What the message is about, in words, and its admin page: ("Enquiry #7", "/admin/enquiries/7")."""
    kind, _, related_id = (message.related or "").partition(":")
    if not related_id.isdecimal():
        return message.related or "", None
    number = int(related_id)
    url = None
    if kind == "enquiry" and db.session.get(Enquiry, number) is not None:
        url = url_for("admin.enquiry", enquiry_id=number)
    elif kind == "booking" and (booking := db.session.get(Booking, number)) is not None:
        url = url_for("admin.session", session_id=booking.session_id, _anchor=f"booking-{number}")
    elif kind == "comment" and (comment := db.session.get(Comment, number)) is not None:
        url = url_for("admin.comments", status=comment.status, _anchor=f"comment-{number}")
    return f"{kind.capitalize()} #{number}", url


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def delivery_summary(message: OutboxMessage) -> str:
    """Its attempts in words: every try counts, the successful one included."""
    n = message.attempts or 0
    tries = f"{n} attempt{'' if n == 1 else 's'}"
    if message.status == OutboxMessage.SENT:
        return f"Sent on the {ordinal(n)} attempt" if n else "Sent"
    if message.status == OutboxMessage.FAILED:
        return f"Gave up after {tries}"
    if message.status == OutboxMessage.SENDING:
        return f"Being delivered now ({ordinal(n + 1)} attempt)"
    if message.status == OutboxMessage.SKIPPED:
        return "Not sent"
    if n == 0:
        return "Waiting for its first attempt"
    limit = current_app.config.get("OUTBOX_MAX_ATTEMPTS", 8)
    return f"{tries} of {limit} failed; tried again automatically"
