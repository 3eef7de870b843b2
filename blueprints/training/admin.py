"""The training area's admin screens: sessions, bookings and courses.

The booking rules (seats, states, emails) are the training area's operations;
these routes only call them and report what happened.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from blueprints.admin import bp
from blueprints.csv_export import csv_response
from blueprints.forms import ActionForm, options, utc_to_local
from blueprints.training import operations, schedule
from blueprints.training.forms import CourseForm, SessionForm
from extensions import db
from models import AuditLog, Booking, Course, TrainingSession, utcnow
from models.base import slug_taken
from models.bookings import SessionEditRefused
from models.transactions import NotAllowed

CSV_COLUMNS = ("name", "email", "company", "seats", "status", "booked_at")


def course_options():
    return options((c.id, c.title) for c in db.session.scalars(select(Course).order_by(Course.position, Course.title)))


@bp.get("/sessions")
def sessions():
    show = request.args.get("show", "upcoming")
    query = TrainingSession.with_seats(select(TrainingSession))
    now = utcnow()
    if show == "past":
        query = query.where(TrainingSession.starts_at <= now).order_by(TrainingSession.starts_at.desc())
    else:
        show = "upcoming"
        query = query.where(TrainingSession.starts_at > now).order_by(TrainingSession.starts_at)
    rows = db.session.execute(query.limit(200)).all()
    pending = db.session.scalars(
        select(Booking).where(Booking.status == Booking.PENDING).order_by(Booking.created_at)).all()
    return render_template("admin/sessions.html", rows=rows, show=show, pending=pending)


@bp.route("/sessions/new", methods=["GET", "POST"])
def session_new():
    form = SessionForm()
    form.course_id.choices = course_options()
    if request.method == "GET":
        form.course_id.data = request.args.get("course_id", type=int)
    if form.validate_on_submit():
        starts_at, ends_at = form.instants()
        session = TrainingSession(
            course_id=form.course_id.data, starts_at=starts_at, ends_at=ends_at, timezone=form.timezone.data,
            mode=form.mode.data, location=form.location.data or "", capacity=form.capacity.data,
            max_seats_per_booking=form.max_seats_per_booking.data,
        )
        db.session.add(session)
        db.session.flush()
        AuditLog.record(current_user, "session.create", session)
        db.session.commit()
        flash("Session scheduled.", "success")
        return redirect(url_for("admin.session", session_id=session.id), code=303)
    status = 422 if request.method == "POST" else 200  # a valid POST has redirected
    return render_template("admin/session_form.html", form=form, session=None), status


@bp.get("/sessions/<int:session_id>")
def session(session_id: int):
    return _session_page(db.get_or_404(TrainingSession, session_id))


def _session_page(session: TrainingSession):
    return render_template("admin/session.html", session=session, held=session.seats_held, left=session.seats_left,
                           action_form=ActionForm(formdata=None))


def _invalid_action(form: ActionForm, session: TrainingSession):
    """An action form that did not validate (e.g. a message over the limit): 422, the session page and why."""
    for errors in form.errors.values():
        for error in errors:
            flash(f"Nothing was changed: {error}", "error")
    return _session_page(session), 422


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
def session_edit(session_id: int):
    """Edit a session; a new date or time goes through the training area's reschedule (it tells everyone booked)."""
    session = db.get_or_404(TrainingSession, session_id)
    if session.is_cancelled:
        flash("This session is cancelled; it can no longer be changed.", "warning")
        return redirect(url_for("admin.session", session_id=session.id), code=303)
    form = SessionForm(obj=session)
    form.course_id.choices = course_options()
    if request.method == "GET":
        form.starts_at.data = utc_to_local(session.starts_at, session.timezone)
        form.ends_at.data = utc_to_local(session.ends_at, session.timezone)
    if form.validate_on_submit():
        starts_at, ends_at = form.instants()
        moved = (starts_at, ends_at) != (session.starts_at, session.ends_at)
        try:
            session = schedule.edit_session(
                session, current_user, starts_at=starts_at, ends_at=ends_at, course_id=form.course_id.data,
                timezone=form.timezone.data, mode=form.mode.data, location=form.location.data or "",
                capacity=form.capacity.data, max_seats_per_booking=form.max_seats_per_booking.data,
            )
        except SessionEditRefused as refused:
            db.session.rollback()
            for field, message in refused.problems.items():
                form[field].errors.append(message)
        except NotAllowed as refused:  # the new times, or the session was cancelled meanwhile
            db.session.rollback()
            form.starts_at.errors.append(str(refused))
        else:
            db.session.commit()
            flash("Session rescheduled; everyone booked is told." if moved else "Session saved.", "success")
            return redirect(url_for("admin.session", session_id=session.id), code=303)
    status = 422 if request.method == "POST" else 200  # a valid POST has redirected
    return render_template("admin/session_form.html", form=form, session=session), status


def _act(operation, target, done: str, **kwargs) -> None:
    """Run an admin operation and commit it, or roll back and say why it was refused."""
    try:
        operation(target, current_user, **kwargs)
    except NotAllowed as refused:
        db.session.rollback()
        flash(str(refused), "warning")
    else:
        db.session.commit()
        flash(done, "success")


@bp.post("/sessions/<int:session_id>/cancel")
def session_cancel(session_id: int):
    session = db.get_or_404(TrainingSession, session_id)
    form = ActionForm()
    if not form.validate_on_submit():
        return _invalid_action(form, session)
    _act(schedule.cancel_session, session, "Session cancelled; everyone booked is told.", message=form.message.data or "")
    return redirect(url_for("admin.session", session_id=session_id), code=303)


BOOKING_ACTIONS = {
    "confirm": (operations.confirm_booking, "Booking confirmed; the client is told."),
    "decline": (operations.decline_booking, "Booking declined; the client is told."),
    "cancel": (operations.cancel_booking, "Booking cancelled; the client is told."),
}


@bp.post("/bookings/<int:booking_id>/<any(confirm, decline, cancel):action>")
def booking_action(booking_id: int, action: str):
    booking = db.get_or_404(Booking, booking_id)
    session_id = booking.session_id
    form = ActionForm()
    if not form.validate_on_submit():
        return _invalid_action(form, booking.session)
    operation, done = BOOKING_ACTIONS[action]
    _act(operation, booking, done, message=form.message.data or "")
    return redirect(url_for("admin.session", session_id=session_id, _anchor=f"booking-{booking_id}"), code=303)


@bp.get("/sessions/<int:session_id>/attendees.csv")
def session_attendees_csv(session_id: int):
    session = db.get_or_404(TrainingSession, session_id)
    rows = ((b.name, b.email, b.company, b.seats, b.status, b.created_at.isoformat(timespec="seconds"))
            for b in session.bookings)
    day = session.starts_at.date().isoformat()
    return csv_response(f"attendees-{session.course.slug}-{day}.csv", CSV_COLUMNS, rows)


@bp.route("/courses/new", methods=["GET", "POST"], endpoint="course_new")
@bp.route("/courses/<int:course_id>", methods=["GET", "POST"], endpoint="course_edit")
def course_edit(course_id: int | None = None):
    course = db.get_or_404(Course, course_id) if course_id is not None else None
    form = CourseForm(obj=course)
    if form.validate_on_submit():
        if slug_taken(Course, form.slug.data, course_id):
            form.slug.errors.append("Another course already uses this slug.")
        else:
            created = course is None
            if created:
                course = Course(formats=["online", "on-site", "private"], outline=[], tags=[])
                db.session.add(course)
            form.populate_obj(course)
            course.summary = course.summary or ""
            course.description = course.description or ""
            course.prerequisites = course.prerequisites or ""
            course.currency = (course.currency or "").upper() or None
            course.position = course.position or 0
            db.session.flush()
            AuditLog.record(current_user, "course.create" if created else "course.update", course)
            db.session.commit()
            flash("Course saved.", "success")
            return redirect(url_for("admin.course_edit", course_id=course.id), code=303)
    status = 422 if request.method == "POST" else 200  # a valid POST has redirected
    sessions = []
    if course is not None:
        sessions = db.session.scalars(select(TrainingSession).where(TrainingSession.course_id == course.id)
                                      .order_by(TrainingSession.starts_at.desc())).all()
    return render_template("admin/course_form.html", form=form, course=course, sessions=sessions), status
