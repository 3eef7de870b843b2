"""Training pages: the catalogue, a course, booking a seat, the calendar feed, and the self-service booking link."""
from __future__ import annotations

from collections import defaultdict

from flask import Response, abort, current_app, flash, g, make_response, redirect, render_template, request, url_for
from sqlalchemy import select

from blueprints.enquiries.operations import REPLY_PROMISE, submit_enquiry
from blueprints.invoices.operations import live_invoice
from blueprints.payments.stripe_api import card_payments_on
from blueprints.training import bp
from blueprints.training import operations as ops
from blueprints.training.forms import BookingForm, ConfirmForm, PrivateTrainingForm
from blueprints.training.links import link_token
from extensions import client_address, db, limiter
from models import Booking, Course, Enquiry, TrainingSession
from web.errors import render_error
from web.security import CONTENT_SECURITY_POLICY
from web.spam import TOO_FAST, arm, spam_reason, submit_once

BOOKING_FORM = "booking"
PRIVATE_FORM = "private_training"
TOO_FAST_ANSWER = "That was quicker than we expected: please check your details and press the button again."


def _sessions_with_seats(query) -> list[tuple[TrainingSession, int]]:
    """(session, seats left) pairs, counted in one query."""
    return db.session.execute(query.add_columns(TrainingSession.seats_left)).all()


class CourseGone(Exception):
    """An archived course's address: 410 Gone."""


def _published_course(slug: str) -> Course:
    course = db.session.scalar(Course.public().where(Course.slug == slug))
    if course is None:
        if db.session.scalar(select(Course.id).where(Course.slug == slug, Course.published.is_(True),
                                                     Course.archived_at.is_not(None))):
            raise CourseGone
        abort(404)
    return course


@bp.errorhandler(CourseGone)
def _course_gone(_error):
    return render_error(410, "This course is no longer offered. The training page lists the courses that are.")


@bp.get("/training")
def index():
    courses = db.session.scalars(Course.public().order_by(Course.position, Course.id)).all()
    by_course = defaultdict(list)
    for session, left in _sessions_with_seats(TrainingSession.upcoming()):
        if len(by_course[session.course_id]) < 3:
            by_course[session.course_id].append((session, left))
    return render_template("training/index.html", courses=courses, sessions=by_course)


@bp.route("/training/<slug>", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def course(slug: str):
    item = _published_course(slug)
    form = PrivateTrainingForm(prefix="private")
    if request.method == "GET":
        arm(form, PRIVATE_FORM)
    elif form.validate_on_submit():
        def request_course():
            enquiry = submit_enquiry(
                kind=Enquiry.PRIVATE_TRAINING, topic="training", name=form.name.data, email=form.email.data,
                company=form.company.data or "", message=form.message.data or "", course_id=item.id,
                preferred_dates=" ".join(form.preferred_dates.data.split()), attendees=form.attendees.data,
                training_format=form.training_format.data, spam_reason=spam_reason(form, PRIVATE_FORM),
            )
            # A trapped submission sees the same answer, so a bot learns nothing; a held or trapped one is
            # promised no email. The answer is a page of its own, not a message at the top of the long
            # course page, above the form the eye is on.
            copy = {"copy": 0} if enquiry.emails_withheld else {}
            return url_for("training.private_requested", slug=slug, _anchor="request-sent", **copy), None

        return submit_once(form, PRIVATE_FORM, request_course)
    sessions = _sessions_with_seats(TrainingSession.upcoming().where(TrainingSession.course_id == item.id))
    status = 422 if form.errors else 200
    return render_template("training/course.html", course=item, sessions=sessions, form=form), status


@bp.get("/training/<slug>/requested")
def private_requested(slug: str):
    """Where a private-course request leads: its confirmation and what happens next."""
    return render_template("training/private_requested.html", course=_published_course(slug),
                           copy_sent=request.args.get("copy") != "0", reply_promise=REPLY_PROMISE)


@bp.route("/training/sessions/<int:session_id>/book", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def book(session_id: int):
    session = db.session.get(TrainingSession, session_id)
    if session is None or not session.course.is_public:
        return _unavailable(ops.SessionUnavailable("There is no such session.", 404), None)
    try:
        session.check_bookable()
    except ops.SessionUnavailable as error:
        return _unavailable(error, session)
    priced = bool(session.course.price)
    form = BookingForm(priced=priced)
    card = priced and card_payments_on()
    offer_waitlist = session.is_full
    conflict = False  # 409: the seats asked for are not free (the form itself was fine)

    def form_page(status: int):
        return render_template("training/book.html", session=session, course=session.course, form=form,
                               seats_left=session.seats_left, offer_waitlist=offer_waitlist, card_payment=card), status

    if request.method == "GET":
        arm(form, BOOKING_FORM)
    elif form.validate_on_submit():
        reason = spam_reason(form, BOOKING_FORM)
        if reason == TOO_FAST:
            # Only too fast (autofill and a quick click): a person, most likely. Their details stay in the
            # form with a fresh stamp and one more press books; a bot gains nothing but a wait.
            arm(form, BOOKING_FORM)
            form.form_token.errors = [TOO_FAST_ANSWER]
            return form_page(422)
        if reason:
            # A bot takes no seat and learns nothing: the page reads like a real request's.
            current_app.logger.info("booking spam trapped session=%s reason=%s", session_id, reason)
            return render_template("training/booking_requested.html", session=session)
        def take_seats():
            action = request.form.get("action")
            result = ops.book_session(
                session_id, name=form.name.data, email=form.email.data, company=form.company.data or "",
                seats=form.seats.data, notes=form.notes.data or "", waitlist=action == "waitlist",
                **form.invoice_details(),
            )
            if card and action == "card" and not result.waitlisted:
                return url_for("training.booking_pay", token=result.token), None
            if result.waitlisted:
                done = ("You are on the waitlist. We have emailed you this page's link; "
                        "you will hear as soon as seats free up.")
            else:
                done = ("Thank you: your booking request is in. We have emailed you this page's link; "
                        "the consultant will confirm your seats shortly.")
            return url_for("training.booking", token=result.token), done

        try:
            return submit_once(form, BOOKING_FORM, take_seats)  # a double click holds one booking
        except ops.BookingError as refused:
            db.session.rollback()
            if isinstance(refused, ops.SessionUnavailable):
                return _unavailable(refused, session)
            conflict = isinstance(refused, ops.NotEnoughSeats)
            if conflict:
                form.seats.errors.append(f"{refused} Choose fewer seats, or join the waitlist.")
                offer_waitlist = True
            else:
                form.seats.errors.append(str(refused))
        session = db.session.get(TrainingSession, session_id)
    return form_page(409 if conflict else 422 if form.errors else 200)


def _unavailable(error: ops.SessionUnavailable, session: TrainingSession | None):
    return render_template("training/unavailable.html", message=str(error), session=session,
                           code=error.status_code), error.status_code


@bp.get("/training/calendar.ics")
def calendar():
    from blueprints.training.ics import sessions_feed

    sessions = db.session.scalars(TrainingSession.upcoming().where(
        TrainingSession.course_id.in_(Course.public().with_only_columns(Course.id)))).all()
    response = Response(sessions_feed(sessions), mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="training.ics"'
    return response


# --- self-service: /bookings/<token> ---------------------------------------------------------

def _token_booking() -> Booking | None:
    """The booking the address's token opens, looked up once per request (the rate limits and the view share it)."""
    if "token_booking" not in g:
        g.token_booking = Booking.find_by_token((request.view_args or {}).get("token"))
    return g.token_booking


def _known_token() -> bool:
    return _token_booking() is not None


def _booking_key() -> str:
    """Per booking (by id, so a re-issued link shares the count); unknown tokens count per client address."""
    booking = _token_booking()
    return f"booking:{booking.id}" if booking is not None else f"unknown-booking:{client_address()}"


# Guessing links: lookups of unknown tokens, any method, count per client address and get 429 past the
# limit; a working link never counts and is never refused by it.
token_guesses = limiter.shared_limit("20 per minute;200 per day", scope="booking-token-guesses",
                                     exempt_when=_known_token)
# Self-service actions (cancel, move, attend) are few in real life: tight limits per booking and per
# address, so nobody can make the site mail a client (or the consultant) over and over.
per_booking = limiter.shared_limit("6 per minute;30 per day", scope="booking-actions", key_func=_booking_key,
                                   methods=["POST"])
per_address = limiter.shared_limit("10 per minute;60 per hour", scope="booking-actions-address", methods=["POST"])


def _booking_or_404(token: str) -> Booking:
    booking = _token_booking()
    if booking is None:
        abort(404)
    return booking


def _live_token(item: Booking, token: str) -> str:
    """The token that opens this booking now: an operation that emailed the client may have re-issued the link."""
    return token if item.token_matches(token) else link_token(item)


@bp.after_request
def private_pages(response):
    """The booking pages carry a secret in their address: keep them out of caches, indexes and referrers."""
    if request.endpoint and request.endpoint.startswith("training.booking"):
        response.headers["Cache-Control"] = "no-store"
        # same-origin, not no-referrer: over HTTPS Flask-WTF refuses a POST (cancel, move) without a Referer.
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.get("/bookings/<token>")
@token_guesses
def booking(token: str):
    from models import Invoice

    item = _booking_or_404(token)
    move_to = ops.move_targets(item) if item.can_move else {}
    can_pay = card_payments_on() and item.price_total is not None and item.status == Booking.PENDING
    return render_template("training/booking.html", booking=item, session=item.session, token=token,
                           move_to=move_to, invoices=Invoice.for_booking(item.id), can_pay=can_pay,
                           just_paid=request.args.get("paid") == "1")


def _act(operation, item: Booking, done: str) -> None:
    """Run a self-service operation and commit it, or roll back and say why it was refused."""
    try:
        operation(item)
    except ops.BookingError as refused:
        db.session.rollback()
        flash(str(refused), "warning")
    else:
        db.session.commit()
        flash(done, "success")


@bp.route("/bookings/<token>/cancel", methods=["GET", "POST"])
@token_guesses
@per_booking
@per_address
def booking_cancel(token: str):
    item = _booking_or_404(token)
    form = ConfirmForm()
    if item.status == Booking.CANCELLED:
        flash("This booking is already cancelled.", "warning")
        return redirect(url_for("training.booking", token=token), code=303)
    if request.method == "POST" and form.validate_on_submit():
        _act(ops.cancel_booking, item, "Your booking is cancelled. We have emailed you a confirmation.")
        return redirect(url_for("training.booking", token=_live_token(item, token)), code=303)
    if not item.can_cancel:
        flash(f"This booking is {item.status_label.lower()}; there is nothing to cancel.", "warning")
        return redirect(url_for("training.booking", token=token), code=303)
    return render_template("training/booking_cancel.html", booking=item, session=item.session, token=token,
                           form=form)


@bp.route("/bookings/<token>/attend", methods=["GET", "POST"])
@token_guesses
@per_booking
@per_address
def booking_attend(token: str):
    item = _booking_or_404(token)
    form = ConfirmForm()
    if not item.can_attend:
        flash(item.refusal("attend"), "warning")
        return redirect(url_for("training.booking", token=token), code=303)
    if request.method == "POST" and form.validate_on_submit():
        _act(ops.confirm_attendance, item, "Thank you: see you there.")
        return redirect(url_for("training.booking", token=token), code=303)
    return render_template("training/booking_attend.html", booking=item, session=item.session, token=token,
                           form=form)


@bp.route("/bookings/<token>/move", methods=["GET", "POST"])
@token_guesses
@per_booking
@per_address
def booking_move(token: str):
    """Choose another session (step 1), confirm it (step 2), move (POST with confirm)."""
    item = _booking_or_404(token)
    form = ConfirmForm()
    if not item.can_move:
        flash(item.refusal("move"), "warning")
        return redirect(url_for("training.booking", token=token), code=303)
    targets = ops.move_targets(item)
    chosen = None
    error = None
    if request.method == "POST" and form.validate_on_submit():
        wanted = request.form.get("session_id", type=int)
        chosen = next((s for s in targets if s.id == wanted), None)
        if chosen is None:
            error = "Choose one of the sessions listed."
        elif request.form.get("confirm") == "yes":
            try:
                ops.move_booking(item, chosen.id)
            except ops.BookingError as refused:
                db.session.rollback()
                error = str(refused)
                chosen = None
                targets = ops.move_targets(item)
            else:
                db.session.commit()
                flash("Your booking has moved. We have emailed you the new details.", "success")
                return redirect(url_for("training.booking", token=_live_token(item, token)), code=303)
    status = 422 if error else 200
    return render_template("training/booking_move.html", booking=item, session=item.session, token=token,
                           form=form, targets=targets, chosen=chosen, error=error,
                           invoice=live_invoice(item) if chosen else None), status


@bp.get("/bookings/<token>/invoices/<int:invoice_id>.pdf")
@token_guesses
def booking_invoice(token: str, invoice_id: int):
    """The booking's own invoice or credit note, as issued."""
    from blueprints.invoices.admin import pdf_response
    from models import Invoice

    item = _booking_or_404(token)
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None or invoice.booking_id != item.id:
        abort(404)
    return pdf_response(invoice, download=request.args.get("download") == "1")


@bp.route("/bookings/<token>/pay", methods=["GET", "POST"])
@token_guesses
@per_booking
@per_address
def booking_pay(token: str):
    """Pay a pending booking by card: what it costs (step 1), then Stripe Checkout (POST: a 303 to Stripe's page)."""
    from blueprints.payments import operations as payments
    from blueprints.payments import stripe_api

    item = _booking_or_404(token)
    if not card_payments_on():
        abort(404)
    form = ConfirmForm()
    refusal = payments.payable_refusal(item)
    if refusal:
        flash(refusal, "warning")
        return redirect(url_for("training.booking", token=token), code=303)
    if request.method == "POST" and form.validate_on_submit():
        try:
            url = payments.open_checkout(item)
            db.session.commit()
        except ops.BookingError as refused:
            db.session.rollback()
            flash(str(refused), "warning")
            return redirect(url_for("training.booking", token=token), code=303)
        except stripe_api.Error as error:
            db.session.rollback()
            current_app.logger.warning("stripe checkout for booking %s failed: %s", item.id, error)
            flash("Card payment is not available right now. Your booking request stands: the consultant will "
                  "confirm it and send an invoice to pay by bank transfer.", "warning")
            return redirect(url_for("training.booking", token=token), code=303)
        return redirect(url, code=303)
    response = make_response(render_template(
        "training/booking_pay.html", booking=item, session=item.session, token=token, form=form,
        quote=payments.quote(item), hold_minutes=current_app.config["STRIPE_HOLD_MINUTES"]))
    # This page's form is answered by a 303 to Stripe's page, and form-action covers the redirect too.
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {current_app.config['STRIPE_CHECKOUT_ORIGIN']}")
    return response
