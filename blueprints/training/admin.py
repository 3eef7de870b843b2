"""The training area's admin screens: sessions, bookings and courses.

The booking rules (seats, states, emails) are the training area's operations;
these routes only call them and report what happened.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from blueprints.admin import bp
from blueprints.csv_export import csv_response
from blueprints.forms import ActionForm, options, utc_to_local
from blueprints.training import interest, month, operations, schedule
from blueprints.training.activity import client_activity
from blueprints.training.forms import CourseForm, SessionForm
from extensions import db
from models import AuditLog, Booking, Course, TrainingSession, site_settings, utcnow
from models.base import slug_taken
from models.bookings import SessionEditRefused
from models.transactions import NotAllowed
from web.template_helpers import format_date, format_datetime

CSV_COLUMNS = ("name", "email", "company", "seats", "status", "booked_at", "attendance_confirmed_at",
               "cancelled_at", "cancelled_by", "moved_by_client_from", "notes")


def course_options(keep: int | None = None):
    """The courses a session may be of: not archived (but the one it already is of, `keep`)."""
    query = select(Course).where(Course.live() | (Course.id == keep)).order_by(Course.position, Course.title)
    return options((c.id, c.title) for c in db.session.scalars(query))


@bp.get("/sessions")
def sessions():
    show = request.args.get("show", "upcoming")
    query = TrainingSession.with_seats(select(TrainingSession).where(TrainingSession.live()))
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
        announced = interest.announce_session(session, current_user)  # the course's interest list, once
        db.session.commit()
        if announced:
            flash(f"{announced} {'person' if announced == 1 else 'people'} on the interest list emailed.", "success")
        flash("Session scheduled.", "success")
        return redirect(url_for("admin.session", session_id=session.id), code=303)
    status = 422 if request.method == "POST" else 200  # a valid POST has redirected
    return render_template("admin/session_form.html", form=form, session=None), status


@bp.get("/sessions/<int:session_id>")
def session(session_id: int):
    return _session_page(db.get_or_404(TrainingSession, session_id))


def _session_page(session: TrainingSession):
    from blueprints.training.minimum import minimum_context

    return render_template("admin/session.html", session=session, held=session.seats_held, left=session.seats_left,
                           action_form=ActionForm(formdata=None), activity=client_activity(session.bookings),
                           **private_admin.session_extras(session), **minimum_context(session))


def _invalid_action(form: ActionForm, session: TrainingSession):
    """An action form that did not validate (e.g. a message over the limit): 422, the session page and why."""
    for errors in form.errors.values():
        for error in errors:
            flash(f"Nothing was changed: {error}", "error")
    return _session_page(session), 422


# --- asking first --------------------------------------------------------------------------------
# An action that emails people and cannot be undone takes two steps, without JavaScript: its button
# (or a GET) shows what will happen, who is emailed and the message, and only the POST from that
# page's own button (confirm=1) acts. Confirming a booking is one click: it is the answer expected.

def _confirmed() -> bool:
    return request.method == "POST" and request.form.get("confirm") == "1"


def _ask(form, *, title: str, action: str, button: str, back: str, told, facts, message_label: str,
         hidden=(), change_label: str | None = None, status: int = 200):
    """The confirmation page: what happens, who is emailed (`told`: bookings), the message, the final button."""
    form.message.label.text = message_label
    return render_template("admin/confirm.html", form=form, title=title, action=action, button=button, back=back,
                           told=told, facts=facts, hidden=hidden, change_label=change_label), status


def _people(n: int) -> str:
    return f"{n} {'person' if n == 1 else 'people'}"


def _each(n: int) -> str:
    return "The person" if n == 1 else f"Each of the {n} people"


def _seats(n: int) -> str:
    return f"{n} seat{'s' if n != 1 else ''}"


def _active(session: TrainingSession) -> list[Booking]:
    return [b for b in session.bookings if b.is_active]


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
def session_edit(session_id: int):
    """Edit a session; a new date or time goes through the training area's reschedule (it tells everyone booked)."""
    session = db.get_or_404(TrainingSession, session_id)
    if session.is_cancelled:
        flash("This session is cancelled; it can no longer be changed.", "warning")
        return redirect(url_for("admin.session", session_id=session.id), code=303)
    form = SessionForm(obj=session)
    form.course_id.choices = course_options(keep=session.course_id)
    if request.method == "GET":
        form.starts_at.data = utc_to_local(session.starts_at, session.timezone)
        form.ends_at.data = utc_to_local(session.ends_at, session.timezone)
    if form.validate_on_submit() and request.form.get("back") != "1":
        starts_at, ends_at = form.instants()
        moved = (starts_at, ends_at) != (session.starts_at, session.ends_at)
        told = _active(session)
        if moved and told and not _confirmed():
            return _ask_reschedule(form, session, starts_at, told)
        try:
            session = schedule.edit_session(
                session, current_user, starts_at=starts_at, ends_at=ends_at, course_id=form.course_id.data,
                timezone=form.timezone.data, mode=form.mode.data, location=form.location.data or "",
                capacity=form.capacity.data, max_seats_per_booking=form.max_seats_per_booking.data,
                message=form.message.data or "",
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
    status = 422 if form.errors else 200  # a valid POST has redirected, or asked first, or came back to change
    return render_template("admin/session_form.html", form=form, session=session), status


def _ask_reschedule(form: SessionForm, session: TrainingSession, starts_at, told: list[Booking]):
    """Before a move in time: the same checks the move makes, then who will be emailed the new time."""
    problems = session.edit_problems(course_id=form.course_id.data, capacity=form.capacity.data)
    try:
        schedule.check_times(starts_at, form.instants()[1])
    except NotAllowed as refused:
        problems["starts_at"] = str(refused)
    if problems:
        for field, problem in problems.items():
            form[field].errors.append(problem)
        return render_template("admin/session_form.html", form=form, session=session), 422
    zone = form.timezone.data
    invites = sum(1 for b in told if b.status == Booking.CONFIRMED)
    facts = [
        f"From {format_datetime(session.starts_at, session.timezone)} to {format_datetime(starts_at, zone)}.",
        f"{_each(len(told))} booked or waitlisted below gets an email with the new time (and the message"
        " below, if you write one), and can move or cancel from it." + (f" Confirmed bookings ({invites}) get an updated calendar invitation."
                                              if invites else ""),
        "Sent emails cannot be taken back.",
    ]
    hidden = [(f.name, value) for f in form if f.name not in ("csrf_token", "message") for value in request.form.getlist(f.name)]
    return _ask(form, title=f"Reschedule {session.course.title}?", action=url_for("admin.session_edit", session_id=session.id),
                button=f"Yes, reschedule and email {_people(len(told))}", back=url_for("admin.session", session_id=session.id),
                told=told, facts=facts, message_label="Message to everyone booked", hidden=hidden,
                change_label="Change the new times")


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


@bp.route("/sessions/<int:session_id>/cancel", methods=["GET", "POST"])
def session_cancel(session_id: int):
    session = db.get_or_404(TrainingSession, session_id)
    back = url_for("admin.session", session_id=session_id)
    if session.is_cancelled:
        flash("This session is already cancelled.", "warning")
        return redirect(back, code=303)
    form = ActionForm()
    valid = form.validate_on_submit()
    if valid and _confirmed():
        _act(schedule.cancel_session, session, "Session cancelled; everyone booked is told.",
             message=form.message.data or "")
        return redirect(back, code=303)
    told = _active(session)
    held = sum(b.seats for b in told if b.holds_seats)
    invites = sum(1 for b in told if b.status == Booking.CONFIRMED)
    when = format_datetime(session.starts_at, session.timezone)
    if told:
        facts = [f"The session on {when} is cancelled, and so are the {len(told)} bookings on it ({_seats(held)} held).",
                 f"{_each(len(told))} below gets an email saying so, with the message below if you write one."
                 + (f" Confirmed bookings ({invites}) also get a calendar cancellation." if invites else "")]
    else:
        facts = [f"The session on {when} is cancelled. Nobody is booked, so nobody is emailed."]
    facts.append("It cannot be undone.")
    return _ask(form, title=f"Cancel {session.course.title} on {format_date(session.starts_at, session.timezone)}?",
                action=url_for("admin.session_cancel", session_id=session_id),
                button=f"Yes, cancel the session and email {_people(len(told))}" if told else "Yes, cancel the session",
                back=back, told=told, facts=facts, message_label="Message to everyone booked",
                status=422 if request.method == "POST" and not valid else 200)


BOOKING_ACTIONS = {
    "confirm": (operations.confirm_booking, "Booking confirmed; the client is told."),
    "decline": (operations.decline_booking, "Booking declined; the client is told."),
    "cancel": (operations.cancel_booking, "Booking cancelled; the client is told."),
}
ASK_FIRST = {"decline", "cancel"}  # final: a declined or cancelled booking has no way back


@bp.route("/bookings/<int:booking_id>/<any(confirm, decline, cancel):action>", methods=["GET", "POST"])
def booking_action(booking_id: int, action: str):
    if request.method == "GET" and action not in ASK_FIRST:
        abort(405)  # confirming has no page of its own: it is the session page's button
    booking = db.get_or_404(Booking, booking_id)
    session = booking.session
    back = url_for("admin.session", session_id=session.id, _anchor=f"booking-{booking_id}")
    form = ActionForm()
    valid = form.validate_on_submit()
    if request.method == "POST" and not valid and action not in ASK_FIRST:
        return _invalid_action(form, session)
    refusal = booking.refusal(action)
    if action in ASK_FIRST and refusal:  # stale page or link: say why before asking anything
        flash(refusal, "warning")
        return redirect(back, code=303)
    if valid and (action not in ASK_FIRST or _confirmed()):
        operation, done = BOOKING_ACTIONS[action]
        _act(operation, booking, done, message=form.message.data or "")
        return redirect(back, code=303)
    verb = "Decline" if action == "decline" else "Cancel"
    facts = [f"{booking.name} ({booking.email}) gets an email saying their booking is "
             f"{'declined' if action == 'decline' else 'cancelled'}, with the message below if you write one."]
    if booking.holds_seats:
        waiting = len(session.waitlist()) if session.is_open() else 0
        facts.append(f"Their {_seats(booking.seats)} go back to the session"
                     + (f"; the waitlist ({_people(waiting)}) is offered them, and whoever gets a seat is emailed."
                        if waiting else "."))
    if booking.status == Booking.CONFIRMED:
        facts.append("Their calendar invitation is withdrawn.")
        from blueprints.invoices.operations import live_invoice

        if (invoice := live_invoice(booking)) is not None:
            facts.append(f"Invoice {invoice.number} is cancelled by a credit note, attached to their email"
                         + (" (refund what they paid yourself)." if invoice.paid_cents else "."))
    facts.append("It cannot be undone.")
    return _ask(form, title=f"{verb} {booking.name}'s booking?",
                action=url_for("admin.booking_action", booking_id=booking_id, action=action),
                button=f"Yes, {verb.lower()} the booking and email {booking.name}", back=back, told=[booking],
                facts=facts, message_label="Message to the client",
                status=422 if request.method == "POST" and not valid else 200)


@bp.post("/bookings/<int:booking_id>/invoice")
def booking_invoice(booking_id: int):
    """"Issue invoice now": the invoice a confirmed priced booking lacks, issued and emailed (operations.invoice_now)."""
    booking = db.get_or_404(Booking, booking_id)
    form = ActionForm()
    if not form.validate_on_submit():
        return _invalid_action(form, booking.session)
    _act(operations.invoice_now, booking, f"Invoice issued and emailed to {booking.name}.")
    return redirect(url_for("admin.session", session_id=booking.session_id, _anchor=f"booking-{booking_id}"), code=303)


def _iso(value) -> str:
    return value.isoformat(timespec="seconds") if value else ""


@bp.get("/sessions/<int:session_id>/attendees.csv")
def session_attendees_csv(session_id: int):
    session = db.get_or_404(TrainingSession, session_id)
    activity = client_activity(session.bookings)
    rows = ((b.name, b.email, b.company, b.seats, b.status, _iso(b.created_at),
             _iso(activity[b.id].attendance_confirmed_at), _iso(activity[b.id].cancelled_at), activity[b.id].cancelled_by,
             _iso(activity[b.id].moved_from.starts_at if activity[b.id].moved_from else None), b.notes)
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


@bp.get("/calendar")
def calendar():
    """Sessions in a month grid, in the consultant's time zone."""
    zone = site_settings.current().timezone
    today = utcnow().astimezone(ZoneInfo(zone)).date()
    first = month.parse_month(request.args.get("month"), today)
    if first is None:
        abort(404)
    return render_template("admin/calendar.html", month=month.build(first, zone, today), zone=zone, today=today)


from blueprints.training import private_admin  # noqa: E402  (private courses, joining details, days: their own module)
