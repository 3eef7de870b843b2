"""Admin screens of private courses (proposing dates from a request, the private link, adding attendees), and of any
session's joining details and days. Registered on the admin blueprint (imported by blueprints/training/admin.py)."""
from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from blueprints.admin import bp
from blueprints.enquiries.operations import proposed_start
from blueprints.forms import ActionForm, utc_to_local
from blueprints.training import private
from blueprints.training.admin import _ask, _confirmed, _each, _people, course_options
from blueprints.training.joining import set_days, update_joining
from blueprints.training.operations import BookingError
from blueprints.training.private_forms import AttendeeForm, DaysForm, JoiningForm, ProposeForm
from extensions import db
from models import Booking, Enquiry, TrainingSession
from models.proposals import PrivateLink, SessionProposal
from models.session_days import days_text
from models.transactions import NotAllowed

# --- on the enquiry page: propose dates ------------------------------------------------------------

def propose_form_for(enquiry: Enquiry, form: ProposeForm | None = None) -> ProposeForm | None:
    """The "Propose dates" form of a private-training request (prefilled from what the client asked for)."""
    if not enquiry.can_schedule():
        return None
    if form is None:
        start = proposed_start(enquiry)
        days = enquiry.course.duration_days if enquiry.course else 1
        form = ProposeForm(formdata=None, prefix="propose", course_id=enquiry.course_id, starts_1=start,
                           ends_1=start.replace(hour=17) + timedelta(days=days - 1) if start else None,
                           capacity=enquiry.attendees or 10,
                           mode="on-site" if enquiry.training_format == "on-site" else "online")
    form.course_id.choices = course_options()
    return form


def proposals_of(enquiry: Enquiry) -> list[SessionProposal]:
    return db.session.scalars(select(SessionProposal).where(SessionProposal.enquiry_id == enquiry.id)
                              .order_by(SessionProposal.id)).all()


@bp.post("/enquiries/<int:enquiry_id>/propose")
def enquiry_propose(enquiry_id: int):
    from blueprints.enquiries.admin import back_to, render_enquiry

    enquiry = db.get_or_404(Enquiry, enquiry_id)
    if not enquiry.can_schedule():
        flash("Only a private-training request can be scheduled.", "warning")
        return back_to(enquiry)
    form = ProposeForm(prefix="propose")
    form.course_id.choices = course_options()
    if not form.validate_on_submit():
        return render_enquiry(enquiry, propose_form=form)
    try:
        proposals = private.propose_dates(
            enquiry, current_user, course_id=form.course_id.data, ranges=form.ranges(), timezone=form.timezone.data,
            mode=form.mode.data, location=form.location.data or "", capacity=form.capacity.data,
            message=form.message.data or "")
    except NotAllowed as refused:
        db.session.rollback()
        form.starts_1.errors.append(str(refused))
        return render_enquiry(enquiry, propose_form=form)
    db.session.commit()
    n = len(proposals)
    flash(f"{n} date{'s' if n != 1 else ''} proposed; {enquiry.email} is emailed a link for each.", "success")
    return back_to(enquiry)


# --- on the session page ---------------------------------------------------------------------------

def session_extras(session: TrainingSession) -> dict:
    """What the session page shows of private courses, joining details and days."""
    link = PrivateLink.live_for(session.id) if session.is_private else None
    proposal = db.session.scalar(select(SessionProposal).where(SessionProposal.session_id == session.id))
    return {"private_link": private.private_link_url(link) if link else None, "proposal": proposal,
            "attendee_form": AttendeeForm(formdata=None, prefix="attendee") if session.is_private else None}


def _back(session_id: int):
    return redirect(url_for("admin.session", session_id=session_id), code=303)


@bp.route("/sessions/<int:session_id>/joining", methods=["GET", "POST"])
def session_joining(session_id: int):
    session = db.get_or_404(TrainingSession, session_id)
    if session.is_cancelled:
        flash("This session is cancelled; it can no longer be changed.", "warning")
        return _back(session_id)
    form = JoiningForm(obj=session)
    confirmed = [b for b in session.bookings if b.status == Booking.CONFIRMED]
    if form.validate_on_submit() and request.form.get("back") != "1":
        values = form.values()
        changed = any(values[name] != (getattr(session, name) or "") for name in values)
        if changed and confirmed and not _confirmed():
            hidden = [(name, value) for name, value in values.items()]
            facts = [f"{_each(len(confirmed))} with a confirmed booking gets an email with the new details and an "
                     "updated calendar invitation.",
                     "Pending and waitlisted bookings get nothing now: the details come with their confirmation.",
                     "Sent emails cannot be taken back."]
            return _ask(ActionForm(formdata=None), title=f"Send the new joining details to {_people(len(confirmed))}?",
                        action=url_for("admin.session_joining", session_id=session_id),
                        button=f"Yes, save and email {_people(len(confirmed))}", back=url_for("admin.session", session_id=session_id),
                        told=[], facts=facts, message_label="Message", hidden=hidden, change_label="Change the details")
        try:
            sent = update_joining(session, current_user, **values)
        except NotAllowed as refused:
            db.session.rollback()
            flash(str(refused), "warning")
            return _back(session_id)
        db.session.commit()
        flash(f"Joining details saved; {_people(sent)} sent the updated invite." if sent else "Joining details saved.",
              "success")
        return _back(session_id)
    status = 422 if form.errors else 200
    return render_template("admin/session_joining.html", form=form, session=session, confirmed=confirmed), status


@bp.route("/sessions/<int:session_id>/days", methods=["GET", "POST"])
def session_days(session_id: int):
    session = db.get_or_404(TrainingSession, session_id)
    if session.is_cancelled:
        flash("This session is cancelled; it can no longer be changed.", "warning")
        return _back(session_id)
    form = DaysForm(zone=session.timezone)
    if request.method == "GET":
        form.days.data = days_text(session)
    told = [b for b in session.bookings if b.is_active]
    if form.validate_on_submit() and request.form.get("back") != "1":
        ranges = form.ranges
        unchanged = [(d.starts_at, d.ends_at) for d in session.days] == ranges
        if not unchanged and told and not _confirmed():
            facts = [f"{_each(len(told))} booked or waitlisted below gets an email with the new days (and the message "
                     "below, if you write one); confirmed bookings get an updated calendar invitation.",
                     "Sent emails cannot be taken back."]
            return _ask(form, title="Change the days?", action=url_for("admin.session_days", session_id=session_id),
                        button=f"Yes, change the days and email {_people(len(told))}",
                        back=url_for("admin.session", session_id=session_id), told=told, facts=facts,
                        message_label="Message to everyone booked", hidden=[("days", form.days.data)],
                        change_label="Change the days")
        try:
            set_days(session, current_user, ranges, message=form.message.data or "")
        except BookingError as refused:
            db.session.rollback()
            form.days.errors.append(str(refused))
        else:
            db.session.commit()
            flash("Days saved." + (" Everyone booked is told." if told and not unchanged else ""), "success")
            return _back(session_id)
    status = 422 if form.errors else 200
    return render_template("admin/session_days.html", form=form, session=session,
                           first=utc_to_local(session.starts_at, session.timezone)), status


@bp.post("/sessions/<int:session_id>/private-link")
def session_private_link(session_id: int):
    session = db.get_or_404(TrainingSession, session_id)
    form = ActionForm()
    if not form.validate_on_submit():
        flash("Nothing was changed: the form had expired. Try again.", "error")
        return _back(session_id)
    try:
        private.issue_link(session, current_user, send=request.form.get("send") == "1")
    except NotAllowed as refused:
        db.session.rollback()
        flash(str(refused), "warning")
    else:
        db.session.commit()
        flash("A new booking link is ready" + (" and emailed to the client." if request.form.get("send") == "1" else "."),
              "success")
    return _back(session_id)


@bp.route("/sessions/<int:session_id>/private-link/revoke", methods=["GET", "POST"])
def session_private_link_revoke(session_id: int):
    session = db.get_or_404(TrainingSession, session_id)
    if PrivateLink.live_for(session.id) is None:
        flash("This session has no live booking link.", "warning")
        return _back(session_id)
    form = ActionForm()
    if form.validate_on_submit() and _confirmed():
        try:
            private.revoke_link(session, current_user)
        except NotAllowed as refused:
            db.session.rollback()
            flash(str(refused), "warning")
        else:
            db.session.commit()
            flash("The booking link is revoked: it opens nothing now.", "success")
        return _back(session_id)
    facts = ["The link stops working at once: anyone who opens it sees “not found”.",
             "People already registered keep their places. You can issue a new link afterwards.",
             "Nobody is emailed."]
    return _ask(form, title="Revoke the booking link?", action=url_for("admin.session_private_link_revoke", session_id=session_id),
                button="Yes, revoke the link", back=url_for("admin.session", session_id=session_id), told=[], facts=facts,
                message_label="Message")


@bp.post("/sessions/<int:session_id>/attendees")
def session_add_attendee(session_id: int):
    from blueprints.training.admin import _session_page

    session = db.get_or_404(TrainingSession, session_id)
    form = AttendeeForm(prefix="attendee")
    if not form.validate_on_submit():
        for field in form:
            for error in field.errors:
                flash(f"Nobody was added: {error}", "error")
        return _session_page(session), 422
    try:
        result = private.add_attendee(session, current_user, name=form.name.data, email=form.email.data,
                                      company=form.company.data or "")
    except NotAllowed as refused:
        db.session.rollback()
        flash(str(refused), "warning")
    else:
        db.session.commit()
        flash(f"{result.booking.name} is added and emailed the invite." if not result.waitlisted
              else f"{result.booking.name} is on the waitlist: the session is full.", "success")
    return _back(session_id)
