"""Minimum class size: go/no-go before a session's decision date.

Before the date (ASK_BEFORE) the consultant is emailed the seats confirmed against the minimum, the
dashboard lists the session and the digest has a line; "go" tells everyone holding seats that it runs;
"cancel" cancels it through the usual session cancellation (emails, calendar cancellations, the next
session of the course offered). Undecided on the date: one more reminder. The site never cancels by itself.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from blueprints.admin import bp as admin_bp
from blueprints.admin import digest
from blueprints.forms import ActionForm
from blueprints.training import schedule
from blueprints.training.aftercare_forms import MinimumForm
from blueprints.training.emails import mail_client
from blueprints.training.operations import lock_session
from extensions import db
from mail.compose import queue_email
from models import AuditLog, Booking, SessionMinimum, TrainingSession, site_settings, utcnow
from models.bookings import BookingError, BookingStateError
from models.transactions import NotAllowed, begin_write
from web.template_helpers import format_datetime

ASK_BEFORE = timedelta(days=3)


def local_today(session: TrainingSession, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(session.timezone)).date()


def _undecided_query():
    return (select(SessionMinimum).join(SessionMinimum.session)
            .where(SessionMinimum.decision.is_(None), TrainingSession.status == TrainingSession.SCHEDULED)
            .order_by(SessionMinimum.decide_by, SessionMinimum.session_id))


def due_decisions(now: datetime | None = None) -> list[SessionMinimum]:
    """Undecided sessions still to come whose decision date is near (ASK_BEFORE) or past."""
    now = now or utcnow()
    rows = db.session.scalars(_undecided_query().where(TrainingSession.starts_at > now)).all()
    return [m for m in rows if local_today(m.session, now) >= m.decide_by - ASK_BEFORE]


# --- operations -----------------------------------------------------------------------------

def set_minimum(session: TrainingSession, actor, *, min_attendees: int, decide_by: date) -> SessionMinimum:
    begin_write()
    session = lock_session(session.id)
    if session is None or session.is_cancelled:
        raise BookingStateError("This session is cancelled.")
    minimum = db.session.get(SessionMinimum, session.id)
    if minimum is not None and minimum.decided:
        raise BookingStateError("The go/no-go for this session is already decided.")
    if decide_by > session.local_starts_at.date():
        raise BookingError("The decision date must be on or before the session's first day.")
    if minimum is None:
        minimum = SessionMinimum(session_id=session.id, min_attendees=min_attendees, decide_by=decide_by)
        db.session.add(minimum)
    elif minimum.decide_by != decide_by:
        minimum.asked_at = minimum.reminded_at = None  # a new date: ask again before it
    minimum.min_attendees, minimum.decide_by = min_attendees, decide_by
    db.session.flush()
    AuditLog.record(actor, "session.minimum", session, min_attendees=min_attendees, decide_by=decide_by.isoformat())
    return minimum


def _lock_undecided(session: TrainingSession) -> tuple[TrainingSession, SessionMinimum]:
    begin_write()
    session = lock_session(session.id)
    minimum = db.session.get(SessionMinimum, session.id) if session is not None else None
    if minimum is None:
        raise BookingStateError("This session has no minimum class size.")
    if minimum.decided:
        raise BookingStateError(f"Already decided: {minimum.decision}.")
    if session.is_cancelled or not session.is_open():
        raise BookingStateError("This session is cancelled or has already started.")
    return session, minimum


def decide_go(session: TrainingSession, actor, message: str = "") -> SessionMinimum:
    """It runs: everyone holding seats is told so."""
    session, minimum = _lock_undecided(session)
    minimum.decision, minimum.decided_at = SessionMinimum.GO, utcnow()
    told = [b for b in session.bookings if b.holds_seats]
    for booking in told:
        mail_client("session_go", booking, message=message.strip())
    AuditLog.record(actor, "session.go", session, confirmed_seats=minimum.confirmed_seats(),
                    min_attendees=minimum.min_attendees, told=len(told), note=message.strip())
    db.session.flush()
    return minimum


def decide_cancel(session: TrainingSession, actor, message: str = "") -> SessionMinimum:
    """It does not run: the session is cancelled as any other (emails, calendar cancellations, next session offered)."""
    session, minimum = _lock_undecided(session)
    minimum.decision, minimum.decided_at = SessionMinimum.CANCEL, utcnow()
    AuditLog.record(actor, "session.no_go", session, confirmed_seats=minimum.confirmed_seats(),
                    min_attendees=minimum.min_attendees)
    schedule.cancel_session(session, actor, message)
    return minimum


def send_decision_requests(now: datetime | None = None) -> int:
    """From cron: the go/no-go email before the date, and once more on the date if still undecided. The caller commits."""
    now = now or utcnow()
    begin_write()
    sent = 0
    for minimum in due_decisions(now):
        session = minimum.session
        overdue = local_today(session, now) >= minimum.decide_by
        if minimum.asked_at is not None and (not overdue or minimum.reminded_at is not None):
            continue
        reminder = minimum.asked_at is not None or overdue
        if minimum.asked_at is None:
            minimum.asked_at = now
        if overdue:
            minimum.reminded_at = now
        queue_email("session_decision_due", to=site_settings.current().consultant_email,
                    to_name=site_settings.current().consultant_name, related=f"session:{session.id}", automatic=False,
                    session=session, course=session.course, minimum=minimum, reminder=reminder,
                    confirmed=minimum.confirmed_seats(), held=minimum.held_seats(),
                    admin_url=url_for("admin.session", session_id=session.id, _external=True, _anchor="go-no-go"))
        AuditLog.record(None, "session.decision_asked", session, reminder=reminder)
        sent += 1
    db.session.flush()
    return sent


# --- the digest and the dashboard ---------------------------------------------------------------

@digest.section
def go_no_go(w: digest.Window) -> digest.Section | None:
    rows = due_decisions(w.until)
    if not rows:
        return None
    items = [digest.Item(m.session.course.title,
                         f"{format_datetime(m.session.starts_at, m.session.timezone)} · {m.confirmed_seats()} of at least "
                         f"{m.min_attendees} seats confirmed · decide by {format_date_only(m.decide_by)}",
                         url_for("admin.session", session_id=m.session_id, _external=True, _anchor="go-no-go"))
             for m in rows[:digest.LISTED]]
    return digest.Section("go_no_go", "Sessions to decide: go or cancel", items, len(rows))


def format_date_only(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


@admin_bp.app_template_global()
def go_no_go_due() -> list[SessionMinimum]:
    """For the dashboard: sessions whose go/no-go is due."""
    return due_decisions()


# --- admin screens -------------------------------------------------------------------------------

@admin_bp.post("/sessions/<int:session_id>/minimum")
def session_minimum(session_id: int):
    session = db.get_or_404(TrainingSession, session_id)
    form = MinimumForm()
    back = url_for("admin.session", session_id=session_id, _anchor="go-no-go")
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(f"Nothing was changed: {error}", "error")
        return redirect(back, code=303)
    try:
        set_minimum(session, current_user, min_attendees=form.min_attendees.data, decide_by=form.decide_by.data)
    except NotAllowed as refused:
        db.session.rollback()
        flash(str(refused), "warning")
    else:
        db.session.commit()
        flash("Minimum class size saved.", "success")
    return redirect(back, code=303)


@admin_bp.route("/sessions/<int:session_id>/decision/<any(go, cancel):decision>", methods=["GET", "POST"])
def session_decision(session_id: int, decision: str):
    from blueprints.training.admin import _active, _ask, _confirmed, _people

    session = db.get_or_404(TrainingSession, session_id)
    minimum = db.session.get(SessionMinimum, session_id)
    back = url_for("admin.session", session_id=session_id, _anchor="go-no-go")
    if minimum is None or minimum.decided or not session.is_open():
        flash("There is no go/no-go to decide for this session.", "warning")
        return redirect(back, code=303)
    form = ActionForm()
    valid = form.validate_on_submit()
    if valid and _confirmed():
        operation = decide_go if decision == "go" else decide_cancel
        try:
            operation(session, current_user, form.message.data or "")
        except NotAllowed as refused:
            db.session.rollback()
            flash(str(refused), "warning")
        else:
            db.session.commit()
            flash("Decided: it runs; everyone booked is told." if decision == "go"
                  else "Session cancelled; everyone booked is told, with the next session offered.", "success")
        return redirect(back, code=303)
    counts = f"{minimum.confirmed_seats()} seats confirmed of the minimum {minimum.min_attendees}."
    if decision == "go":
        told = [b for b in session.bookings if b.holds_seats]
        facts = [counts, f"Everyone holding seats ({_people(len(told))}) gets an email saying the session runs.",
                 "Sent emails cannot be taken back."]
        title, button = f"Run {session.course.title}?", f"Yes, it runs: email {_people(len(told))}"
    else:
        told = _active(session)
        following = schedule.next_public_session(session)
        facts = [counts, f"The session is cancelled with its {len(told)} bookings; each person gets the cancellation email"
                 + (f", offering the next session ({format_datetime(following.starts_at, following.timezone)})."
                    if following else " (no later session is scheduled to offer)."), "It cannot be undone."]
        title, button = f"Cancel {session.course.title}?", f"Yes, cancel and email {_people(len(told))}"
    return _ask(form, title=title, action=url_for("admin.session_decision", session_id=session_id, decision=decision),
                button=button, back=back, told=told, facts=facts, message_label="Message to everyone booked",
                status=422 if request.method == "POST" and not valid else 200)


def minimum_context(session: TrainingSession) -> dict:
    """What the session page's go/no-go section shows."""
    minimum = db.session.get(SessionMinimum, session.id)
    form = MinimumForm(formdata=None, obj=minimum)
    return {"minimum": minimum, "minimum_form": form,
            "confirmed_seats": sum(b.seats for b in session.bookings if b.status == Booking.CONFIRMED)}
