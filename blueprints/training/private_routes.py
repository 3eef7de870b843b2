"""Private courses, public side: the client chooses a proposed date; colleagues register through the private link.

Both addresses carry a secret: unknown tokens 404 (and count against the address's guesses), the pages are
kept out of caches, indexes and referrers, and nothing here is linked from a public page.
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from blueprints.training import bp, private
from blueprints.training import operations as ops
from blueprints.training.forms import ConfirmForm
from blueprints.training.private_forms import PrivateRegistrationForm
from blueprints.training.routes import TOO_FAST_ANSWER
from extensions import db, limiter
from models import Enquiry
from models.proposals import PrivateLink, SessionProposal
from models.transactions import NotAllowed
from web.spam import TOO_FAST, arm, spam_reason, submit_once

REGISTER_FORM = "private_register"
PRIVATE_ENDPOINTS = {"training.proposal", "training.private_book"}


def _row():
    """The proposal or live link the address's token opens, looked up once per request."""
    if "private_row" not in g:
        token = (request.view_args or {}).get("token")
        finder = SessionProposal if request.endpoint == "training.proposal" else PrivateLink
        g.private_row = finder.find_by_token(token)
    return g.private_row


guesses = limiter.shared_limit("20 per minute;200 per day", scope="private-token-guesses",
                               exempt_when=lambda: _row() is not None)
posts = limiter.shared_limit("10 per minute;60 per hour", scope="private-posts", methods=["POST"])


@bp.after_request
def private_course_pages(response):
    if request.endpoint in PRIVATE_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.route("/training/proposals/<token>", methods=["GET", "POST"])
@guesses
@posts
def proposal(token: str):
    item = _row()
    if item is None:
        abort(404)
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            link = private.accept_proposal(item)
        except NotAllowed as refused:
            db.session.rollback()
            flash(str(refused), "warning")
        else:
            db.session.commit()
            flash("Thank you: the date is booked. We have emailed you the link to forward to your colleagues.",
                  "success")
            return redirect(url_for("training.private_book", token=private.link_token(link)), code=303)
        return redirect(url_for("training.proposal", token=token), code=303)
    live = PrivateLink.live_for(item.session_id) if item.status == SessionProposal.ACCEPTED else None
    return render_template("training/proposal.html", proposal=item, session=item.session, form=form,
                           refusal=item.pick_refusal(), live_link=private.link_token(live) if live else None)


@bp.route("/training/private/<token>", methods=["GET", "POST"])
@guesses
@posts
def private_book(token: str):
    link = _row()
    if link is None:
        abort(404)
    session = link.session
    try:
        session.check_bookable(private_link=True)
    except ops.SessionUnavailable as error:
        return render_template("training/unavailable.html", message=str(error), session=session,
                               code=error.status_code), error.status_code
    form = PrivateRegistrationForm()
    offer_waitlist = session.is_full
    conflict = False
    if request.method == "GET":
        arm(form, REGISTER_FORM)
    elif form.validate_on_submit():
        reason = spam_reason(form, REGISTER_FORM)
        if reason == TOO_FAST:
            arm(form, REGISTER_FORM)
            form.form_token.errors = [TOO_FAST_ANSWER]
        elif reason:
            return render_template("training/booking_requested.html", session=session)
        else:
            def take_seat():
                result = private.register(link, name=form.name.data, email=form.email.data,
                                          company=form.company.data or "", notes=form.notes.data or "",
                                          waitlist=request.form.get("action") == "waitlist")
                done = ("You are on the waitlist: if a place frees up, you will get an email." if result.waitlisted
                        else "You are registered. We have emailed you the confirmation and the calendar invite.")
                return url_for("training.booking", token=result.token), done

            try:
                return submit_once(form, REGISTER_FORM, take_seat)
            except ops.BookingError as refused:
                db.session.rollback()
                if isinstance(refused, ops.SessionUnavailable):
                    abort(refused.status_code)
                conflict = isinstance(refused, ops.NotEnoughSeats)
                offer_waitlist = offer_waitlist or conflict
                form.name.errors.append(f"{refused} You can join the waitlist." if conflict else str(refused))
            session = link.session
    status = 409 if conflict else 422 if form.errors else 200
    enquiry = db.session.get(Enquiry, session.enquiry_id) if session.enquiry_id else None
    return render_template("training/private_book.html", session=session, course=session.course, form=form,
                           token=token, seats_left=session.seats_left, offer_waitlist=offer_waitlist,
                           company=enquiry.company if enquiry else ""), status
