"""The enquiries inbox: the consultant's sales pipeline."""
from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select

from blueprints.admin import bp, paginate
from blueprints.enquiries import operations as ops
from blueprints.enquiries.forms import EnquiryFilterForm, NoteForm, ReplyForm, StatusForm
from blueprints.forms import ActionForm, options
from blueprints.training.forms import SessionForm
from extensions import db
from models import Course, Enquiry, TrainingSession
from models.transactions import NotAllowed

PER_PAGE = 25


def course_choices() -> list[tuple[int, str]]:
    return options((c.id, c.title) for c in db.session.scalars(
        select(Course).where(Course.live()).order_by(Course.position, Course.title)))


@bp.get("/enquiries")
def enquiries():
    form = EnquiryFilterForm(request.args)
    form.validate()
    query = select(Enquiry).where(Enquiry.live()).order_by(Enquiry.created_at.desc(), Enquiry.id.desc())
    status = form.status.data if form.status.data in Enquiry.STATUSES else ""
    kind = form.kind.data if form.kind.data in Enquiry.KINDS else ""
    if status:
        query = query.where(Enquiry.status == status)
    else:
        query = query.where(Enquiry.status != Enquiry.SPAM)  # spam is one click away, never in the way
    if kind:
        query = query.where(Enquiry.kind == kind)
    q = (form.q.data or "").strip()[:254]
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(or_(func.lower(Enquiry.name).like(pattern), func.lower(Enquiry.email).like(pattern)))
    results = paginate(query, PER_PAGE)
    counts = dict(db.session.execute(select(Enquiry.status, func.count()).where(Enquiry.live())
                                     .group_by(Enquiry.status)).all())
    filters = {k: v for k, v in {"q": q, "status": status, "kind": kind}.items() if v}
    return render_template("admin/enquiries.html", form=form, results=results, counts=counts, filters=filters,
                           statuses=Enquiry.STATUS_LABELS, action_form=ActionForm(formdata=None))


def render_enquiry(enquiry: Enquiry, **forms):
    """The enquiry page; a form given in `forms` is shown with its errors (and the page answers 422)."""
    reply_form = forms.get("reply_form") or ReplyForm(formdata=None, subject=ops.default_reply_subject(enquiry))
    schedule_form = forms.get("schedule_form")
    if schedule_form is None and enquiry.can_schedule():
        start = ops.proposed_start(enquiry)
        days = enquiry.course.duration_days if enquiry.course else 1
        schedule_form = SessionForm(
            formdata=None,
            course_id=enquiry.course_id,
            starts_at=start,
            ends_at=start.replace(hour=17) + timedelta(days=days - 1) if start else None,
            capacity=enquiry.attendees or 10,
            mode="on-site" if enquiry.training_format == "on-site" else "online",
        )
    if schedule_form is not None:
        schedule_form.course_id.choices = course_choices()
    status_form = forms.get("status_form") or StatusForm(formdata=None)
    status_form.offer(enquiry.status_targets())
    sessions = db.session.scalars(select(TrainingSession).where(TrainingSession.enquiry_id == enquiry.id)
                                  .order_by(TrainingSession.starts_at)).all()
    from blueprints.training.private_admin import proposals_of, propose_form_for

    return render_template(
        "admin/enquiry.html", enquiry=enquiry, sessions=sessions, reply_form=reply_form,
        propose_form=propose_form_for(enquiry, forms.get("propose_form")), proposals=proposals_of(enquiry),
        note_form=forms.get("note_form") or NoteForm(formdata=None), status_form=status_form,
        schedule_form=schedule_form, action_form=forms.get("action_form") or ActionForm(formdata=None),
    ), 422 if forms else 200


def back_to(enquiry: Enquiry):
    return redirect(url_for("admin.enquiry", enquiry_id=enquiry.id), code=303)


@bp.get("/enquiries/<int:enquiry_id>")
def enquiry(enquiry_id: int):
    return render_enquiry(db.get_or_404(Enquiry, enquiry_id))


@bp.post("/enquiries/<int:enquiry_id>/note")
def enquiry_note(enquiry_id: int):
    enquiry = db.get_or_404(Enquiry, enquiry_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return render_enquiry(enquiry, note_form=form)
    ops.add_note(enquiry, current_user, form.body.data)
    db.session.commit()
    flash("Note added.", "success")
    return back_to(enquiry)


@bp.post("/enquiries/<int:enquiry_id>/status")
def enquiry_status(enquiry_id: int):
    enquiry = db.get_or_404(Enquiry, enquiry_id)
    form = StatusForm()
    if not form.validate_on_submit():
        return render_enquiry(enquiry, status_form=form)
    try:
        ops.set_status(enquiry, current_user, form.status.data)
    except NotAllowed as error:
        flash(str(error), "warning")
    else:
        db.session.commit()
        flash(f"Marked as {enquiry.status_label.lower()}.", "success")
    return back_to(enquiry)


@bp.post("/enquiries/<int:enquiry_id>/reply")
def enquiry_reply(enquiry_id: int):
    enquiry = db.get_or_404(Enquiry, enquiry_id)
    form = ReplyForm()
    if not form.validate_on_submit():
        return render_enquiry(enquiry, reply_form=form)
    if refusal := enquiry.reply_refusal():  # the page offers no reply form for it: a stale or forged POST
        flash(refusal, "warning")
        return back_to(enquiry)
    ops.reply(enquiry, current_user, form.subject.data, form.body.data)
    db.session.commit()
    flash(f"Reply queued to {enquiry.email}.", "success")
    return back_to(enquiry)


@bp.post("/enquiries/<int:enquiry_id>/not-spam")
def enquiry_not_spam(enquiry_id: int):
    enquiry = db.get_or_404(Enquiry, enquiry_id)
    form = ActionForm()
    if not form.validate_on_submit():
        return render_enquiry(enquiry, action_form=form)
    try:
        released = ops.mark_not_spam(enquiry, current_user)
    except NotAllowed as error:
        flash(str(error), "warning")
    else:
        db.session.commit()
        flash("Moved to the inbox; the notification email is queued." if released else "Moved to the inbox.", "success")
    return back_to(enquiry)


@bp.post("/enquiries/<int:enquiry_id>/release")
def enquiry_release(enquiry_id: int):
    enquiry = db.get_or_404(Enquiry, enquiry_id)
    form = ActionForm()
    if not form.validate_on_submit():
        return render_enquiry(enquiry, action_form=form)
    try:
        ops.release(enquiry, current_user)
    except NotAllowed as error:
        flash(str(error), "warning")
    else:
        db.session.commit()
        flash(f"Released to the inbox: the copy to {enquiry.email} and your notification are queued.", "success")
    if request.form.get("back") == "list":  # released from the list: carry on down the list
        return redirect(url_for("admin.enquiries", status=Enquiry.HELD), code=303)
    return back_to(enquiry)


@bp.post("/enquiries/<int:enquiry_id>/schedule")
def enquiry_schedule(enquiry_id: int):
    enquiry = db.get_or_404(Enquiry, enquiry_id)
    if not enquiry.can_schedule():  # the page offers no schedule form for it: a forged or stale POST
        flash(ops.ONLY_PRIVATE_TRAINING, "warning")
        return back_to(enquiry)
    form = SessionForm()
    form.course_id.choices = course_choices()
    if not form.validate_on_submit():
        return render_enquiry(enquiry, schedule_form=form)
    starts_at, ends_at = form.instants()
    from blueprints.training.private import schedule_direct

    session = schedule_direct(
        enquiry, current_user, course_id=form.course_id.data, starts_at=starts_at, ends_at=ends_at,
        timezone=form.timezone.data, mode=form.mode.data, location=form.location.data, capacity=form.capacity.data,
    )
    db.session.commit()
    flash("Private session scheduled and the request marked won. Issue its booking link below.", "success")
    return redirect(url_for("admin.session", session_id=session.id), code=303)
