"""Feedback after a session, and the quotes the consultant approves for the course and service pages.

The day after a session's last day (in its time zone) each confirmed attendee (not one marked absent
every day) gets one request with a link to /bookings/<token>/feedback: no account, the booking link's
token is the key; answering again updates the same row. A quote shows on the site only once approved,
and again needs approval if its words change. schema.org: a Review for each approved quote that has a
rating; AggregateRating only from AGGREGATE_MIN overall ratings up, over every answer (not only the quoted).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from blueprints.admin import bp as admin_bp
from blueprints.training import bp
from blueprints.training.aftercare_forms import FeedbackForm, QuoteDecisionForm
from blueprints.training.emails import mail_client
from blueprints.training.links import booking_url
from blueprints.training.operations import as_client, lock_session
from extensions import db
from models import Attendance, AuditLog, Booking, Course, Feedback, Service, TrainingSession, utcnow
from models.attendance import session_dates
from models.bookings import BookingStateError
from models.feedback import AGGREGATE_MIN, QUESTIONS
from models.transactions import NotAllowed, begin_write

# Sessions that ended longer ago than this get no request (e.g. when this feature is first switched on).
REQUEST_WITHIN = timedelta(days=14)


def ended_locally(session: TrainingSession, now: datetime | None = None) -> bool:
    """The session's last day is over in its own time zone: from the next local midnight on."""
    days = session_dates(session)
    today = (now or utcnow()).astimezone(ZoneInfo(session.timezone)).date()
    return bool(days) and today > days[-1]


def may_give_feedback(booking: Booking, now: datetime | None = None) -> bool:
    session = booking.session
    return booking.status == Booking.CONFIRMED and not session.is_cancelled and ended_locally(session, now)


def _absent_every_day(booking: Booking) -> bool:
    marks = [attended for (_b, _d), attended in Attendance.for_bookings([booking.id]).items()]
    return bool(marks) and not any(marks)


# --- operations -----------------------------------------------------------------------------

def send_feedback_requests(now: datetime | None = None) -> int:
    """From cron: one request per confirmed attendee, the day after the session ends. The caller commits."""
    now = now or utcnow()
    begin_write()
    session_ids = db.session.scalars(
        select(TrainingSession.id).where(TrainingSession.status == TrainingSession.SCHEDULED,
                                         TrainingSession.ends_at <= now, TrainingSession.ends_at > now - REQUEST_WITHIN)
        .order_by(TrainingSession.id)).all()
    sent = 0
    for session_id in session_ids:
        session = lock_session(session_id)  # two runs at once take turns per session
        if not ended_locally(session, now):
            continue
        asked = set(db.session.scalars(select(Feedback.booking_id).where(Feedback.session_id == session_id)))
        for booking in session.bookings:
            if booking.status != Booking.CONFIRMED or booking.id in asked or _absent_every_day(booking):
                continue
            db.session.add(Feedback(booking_id=booking.id, session_id=session.id, course_id=session.course_id,
                                    requested_at=now, quote_name=booking.name, quote_company=booking.company))
            mail_client("feedback_request", booking,
                        feedback_url=booking_url(booking, "training.booking_feedback"))
            sent += 1
        db.session.flush()
    if sent:
        AuditLog.record(None, "feedback.request", None, requests=sent)
    db.session.flush()
    return sent


def submit_feedback(booking: Booking, answers: dict) -> Feedback:
    """The attendee's answers (a second answer updates the first). A changed quote needs approval again."""
    begin_write()
    lock_session(booking.session_id)
    booking = db.session.get(Booking, booking.id)
    if not may_give_feedback(booking):
        raise BookingStateError("Feedback opens the day after the session, for confirmed attendees.")
    feedback = db.session.scalar(select(Feedback).where(Feedback.booking_id == booking.id))
    first = feedback is None or not feedback.answered
    if feedback is None:
        feedback = Feedback(booking_id=booking.id, session_id=booking.session_id, course_id=booking.session.course_id,
                            requested_at=utcnow())
        db.session.add(feedback)
    before = (feedback.comment, feedback.quote_name, feedback.quote_company, feedback.may_quote)
    for column, _ in QUESTIONS:
        setattr(feedback, column, int(answers[column]))
    feedback.comment = (answers.get("comment") or "").strip()
    feedback.may_quote = bool(answers.get("may_quote"))
    feedback.quote_name = (answers.get("quote_name") or "").strip()
    feedback.quote_company = (answers.get("quote_company") or "").strip()
    feedback.answered_at = utcnow()
    if not feedback.may_quote:
        feedback.quote_status = Feedback.NONE
    elif feedback.quote_status != Feedback.APPROVED or before != (
            feedback.comment, feedback.quote_name, feedback.quote_company, feedback.may_quote):
        feedback.quote_status = Feedback.PENDING
    db.session.flush()
    AuditLog.record(as_client(booking), "feedback.submit" if first else "feedback.update", feedback,
                    may_quote=feedback.may_quote)
    return feedback


def decide_quote(feedback: Feedback, actor, approve: bool) -> Feedback:
    begin_write()
    feedback = db.session.get(Feedback, feedback.id)
    if approve and not feedback.quotable:
        raise BookingStateError("Only an answer whose author allowed quoting, with words to quote, can be approved.")
    feedback.quote_status = Feedback.APPROVED if approve else Feedback.DECLINED
    feedback.quote_decided_at = utcnow()
    db.session.flush()
    AuditLog.record(actor, "feedback.quote_approve" if approve else "feedback.quote_decline", feedback)
    return feedback


# --- what the public pages show ---------------------------------------------------------------

def related_course_ids(service: Service) -> list[int]:
    """The courses a service page speaks for: the training service all of them, any other those tagged with its slug."""
    courses = db.session.scalars(select(Course).where(Course.published.is_(True))).all()
    return [c.id for c in courses if service.cta == "training" or service.slug in (c.tags or [])]


@bp.app_template_global()
def course_quotes(course: Course) -> list[Feedback]:
    return Feedback.approved_quotes([course.id])


@bp.app_template_global()
def service_quotes(service: Service) -> list[Feedback]:
    ids = related_course_ids(service)
    return Feedback.approved_quotes(ids, limit=3) if ids else []


@bp.app_template_global()
def course_reviews_ld(course: Course) -> dict:
    """schema.org review/aggregateRating for a Course, only with what is true: approved, rated, enough of them."""
    data = {}
    reviews = [{"@type": "Review", "reviewBody": q.comment,
                "author": {"@type": "Person", "name": q.quote_name},
                "reviewRating": {"@type": "Rating", "ratingValue": q.rating_overall, "bestRating": 5, "worstRating": 1}}
               for q in course_quotes(course) if q.rating_overall]
    if reviews:
        data["review"] = reviews
    summary = Feedback.summary(Feedback.course_id == course.id)
    count = summary["counts"]["rating_overall"]
    if count >= AGGREGATE_MIN:
        data["aggregateRating"] = {"@type": "AggregateRating", "ratingValue": summary["averages"]["rating_overall"],
                                   "ratingCount": count, "bestRating": 5, "worstRating": 1}
    return data


@bp.app_template_global()
def feedback_open_for(booking: Booking) -> bool:
    return may_give_feedback(booking)


# --- the attendee's page ------------------------------------------------------------------------

def _feedback_page(token: str):
    from blueprints.training.routes import _booking_or_404

    booking = _booking_or_404(token)
    if not may_give_feedback(booking):
        flash("Feedback opens the day after the session, for confirmed attendees.", "warning")
        return redirect(url_for("training.booking", token=token), code=303)
    existing = db.session.scalar(select(Feedback).where(Feedback.booking_id == booking.id))
    form = FeedbackForm()
    if request.method == "GET":
        form = FeedbackForm(formdata=None, obj=existing)
        for column, _ in QUESTIONS:
            value = getattr(existing, column, None) if existing else None
            form[column].data = str(value) if value else None
        if existing is None or not existing.answered:
            form.quote_name.data = (existing.quote_name if existing and existing.quote_name else booking.name)
            form.quote_company.data = (existing.quote_company if existing and existing.quote_company else booking.company)
    elif form.validate_on_submit():
        try:
            submit_feedback(booking, form.data)
        except NotAllowed as refused:
            db.session.rollback()
            flash(str(refused), "warning")
        else:
            db.session.commit()
            flash("Thank you for your feedback." + (" The consultant reads every quote before it is shown on the site."
                                                    if form.may_quote.data else ""), "success")
            return redirect(url_for("training.booking_feedback", token=token), code=303)
    return render_template("training/feedback.html", booking=booking, session=booking.session, token=token,
                           form=form, existing=existing, questions=QUESTIONS), (422 if form.errors else 200)


def register_public_routes() -> None:
    from blueprints.training.routes import per_address, per_booking, token_guesses

    bp.add_url_rule("/bookings/<token>/feedback", "booking_feedback",
                    token_guesses(per_booking(per_address(_feedback_page))), methods=["GET", "POST"])


register_public_routes()


# --- admin screens -------------------------------------------------------------------------------

def _answers(*conditions):
    return db.session.scalars(select(Feedback).where(Feedback.answered_at.is_not(None), *conditions)
                              .order_by(Feedback.answered_at.desc(), Feedback.id.desc()).limit(500)).all()


@admin_bp.get("/sessions/<int:session_id>/feedback")
def session_feedback(session_id: int):
    session = db.get_or_404(TrainingSession, session_id)
    condition = Feedback.session_id == session_id
    return render_template("admin/feedback.html", title=f"Feedback: {session.course.title}", session=session,
                           course=session.course, summary=Feedback.summary(condition), answers=_answers(condition),
                           questions=QUESTIONS, form=QuoteDecisionForm(formdata=None))


@admin_bp.get("/courses/<int:course_id>/feedback")
def course_feedback(course_id: int):
    course = db.get_or_404(Course, course_id)
    condition = Feedback.course_id == course_id
    return render_template("admin/feedback.html", title=f"Feedback: {course.title} (every session)", session=None,
                           course=course, summary=Feedback.summary(condition), answers=_answers(condition),
                           questions=QUESTIONS, form=QuoteDecisionForm(formdata=None))


@admin_bp.post("/feedback/<int:feedback_id>/<any(approve, decline):decision>")
def feedback_quote(feedback_id: int, decision: str):
    feedback = db.get_or_404(Feedback, feedback_id)
    if not QuoteDecisionForm().validate_on_submit():
        abort(400)
    try:
        decide_quote(feedback, current_user, decision == "approve")
    except NotAllowed as refused:
        db.session.rollback()
        flash(str(refused), "warning")
    else:
        db.session.commit()
        flash("Quote approved: it shows on the course page." if decision == "approve" else "Quote not shown.", "success")
    if request.form.get("from") == "course":
        return redirect(url_for("admin.course_feedback", course_id=feedback.course_id), code=303)
    return redirect(url_for("admin.session_feedback", session_id=feedback.session_id), code=303)
