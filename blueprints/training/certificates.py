"""Attendance and certificates of attendance.

After a session the consultant marks who came, day by day (models/attendance.py: one row per booking and
local date). Each confirmed booking that attended at least one day gets a certificate: a PDF rendered from
templates/certificates/ (WeasyPrint, as the invoices), emailed as an attachment and downloadable from the
booking link, with a verification page at /certificates/<id> (128 random bits) an employer can open.
Regenerating (after a name correction) renders the PDF again under the same id.
"""
from __future__ import annotations

import logging
from datetime import date

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from blueprints.admin import bp as admin_bp
from blueprints.training import bp
from blueprints.training.aftercare_forms import NameCorrectionForm
from blueprints.training.emails import mail_client
from blueprints.training.operations import lock_session
from extensions import db
from mail.compose import Attachment
from mail.message import clean_text
from models import Attendance, AuditLog, Booking, Certificate, TrainingSession, site_settings, utcnow
from models.attendance import day_hours, session_dates
from models.bookings import BookingStateError
from models.certificates import new_certificate_id
from models.transactions import NotAllowed, begin_write

logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


def attendees(session: TrainingSession) -> list[Booking]:
    """The bookings whose attendance is marked: confirmed ones."""
    return [b for b in session.bookings if b.status == Booking.CONFIRMED]


def can_mark(session: TrainingSession) -> bool:
    """Attendance is marked once the session has begun (not for a cancelled one)."""
    return not session.is_cancelled and session.is_past()


# --- operations -----------------------------------------------------------------------------

def mark_attendance(session: TrainingSession, actor, present: set[tuple[int, date]]) -> int:
    """Store who attended which day (every attendee × day gets a row: present or not). Returns the days present."""
    begin_write()
    session = lock_session(session.id)
    if session is None or not can_mark(session):
        raise BookingStateError("Attendance can be marked only for a session that has begun and is not cancelled.")
    days = session_dates(session)
    people = attendees(session)
    existing = {(a.booking_id, a.day): a for a in db.session.scalars(
        select(Attendance).where(Attendance.booking_id.in_([b.id for b in people])))}
    count = 0
    changed = 0
    for booking in people:
        for day in days:
            attended = (booking.id, day) in present
            count += attended
            row = existing.get((booking.id, day))
            if row is None:
                db.session.add(Attendance(booking_id=booking.id, day=day, attended=attended,
                                          marked_by=getattr(actor, "id", None)))
                changed += 1
            elif row.attended != attended:
                row.attended, row.marked_by = attended, getattr(actor, "id", None)
                changed += 1
    db.session.flush()
    AuditLog.record(actor, "attendance.mark", session, present=count, days=len(days), attendees=len(people),
                    changed=changed)
    return count


def _fill(certificate: Certificate, booking: Booking, attended: list[date]) -> None:
    hours = day_hours(booking.session)
    certificate.name = booking.name
    certificate.course_title = booking.session.course.title
    certificate.first_day, certificate.last_day = attended[0], attended[-1]
    certificate.days = len(attended)
    certificate.minutes = round(sum(hours.get(day, 0) for day in attended) * 60)
    certificate.consultant_name = site_settings.current().consultant_name
    certificate.pdf = render_pdf(certificate)


def render_pdf(certificate: Certificate) -> bytes:
    from weasyprint import CSS, HTML  # on first use, as the invoices: the app starts without Pango

    html = render_template("certificates/document.html", certificate=certificate,
                           verify_url=verification_url(certificate))
    css = render_template("certificates/document.css")
    return HTML(string=html).write_pdf(stylesheets=[CSS(string=css)])


def verification_url(certificate: Certificate) -> str:
    return url_for("training.certificate", certificate_id=certificate.id, _external=True)


def _mail(certificate: Certificate, booking: Booking, *, corrected: bool = False) -> None:
    mail_client("certificate_issued", booking, certificate=certificate, verify_url=verification_url(certificate),
                corrected=corrected, attachments=[Attachment(certificate.filename, "application/pdf", certificate.pdf)])
    certificate.emailed_at = utcnow()


def issue_certificates(session: TrainingSession, actor) -> int:
    """A certificate, emailed, for each attendee who attended a day and has none yet. Returns how many were issued."""
    begin_write()
    session = lock_session(session.id)
    if session is None or not can_mark(session):
        raise BookingStateError("Certificates are issued only for a session that has begun and is not cancelled.")
    issued = 0
    for booking in attendees(session):
        attended = Attendance.attended_days(booking.id)
        if not attended or Certificate.for_booking(booking.id) is not None:
            continue
        certificate = Certificate(id=new_certificate_id(), booking_id=booking.id)
        _fill(certificate, booking, attended)
        db.session.add(certificate)
        db.session.flush()
        _mail(certificate, booking)
        AuditLog.record(actor, "certificate.issue", booking, certificate=certificate.id, days=certificate.days)
        issued += 1
    db.session.flush()
    return issued


def regenerate_certificate(certificate: Certificate, actor, name: str) -> Certificate:
    """Correct the name (on the booking too) and render the certificate again: same id, emailed again."""
    booking_id = certificate.booking_id
    begin_write()
    session_id = db.session.scalar(select(Booking.session_id).where(Booking.id == booking_id))
    lock_session(session_id)
    booking = db.session.get(Booking, booking_id)
    attended = Attendance.attended_days(booking.id)
    if not attended:
        raise BookingStateError("This person is no longer marked as attending any day.")
    old = booking.name
    booking.name = clean_text(name)  # one line: it is the To name of the email too
    _fill(certificate, booking, attended)
    certificate.regenerated_at = utcnow()
    db.session.flush()
    _mail(certificate, booking, corrected=True)
    AuditLog.record(actor, "certificate.regenerate", booking, certificate=certificate.id,
                    name_changed=old != booking.name)
    db.session.flush()
    return certificate


# --- public pages ------------------------------------------------------------------------------

@bp.get("/certificates/<certificate_id>")
def certificate(certificate_id: str):
    """The verification page an employer opens: what was certified, or 404."""
    item = Certificate.find(certificate_id)
    if item is None:
        abort(404)
    response = current_app.make_response(render_template("training/certificate.html", certificate=item))
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.app_template_global()
def booking_certificate(booking: Booking) -> Certificate | None:
    return Certificate.for_booking(booking.id)


def pdf_response(item: Certificate, *, download: bool = False) -> Response:
    response = Response(item.pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'{"attachment" if download else "inline"}; filename="{item.filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _booking_certificate(token: str):
    from blueprints.training.routes import _booking_or_404

    item = _booking_or_404(token)
    found = Certificate.for_booking(item.id)
    if found is None:
        abort(404)
    return pdf_response(found, download=request.args.get("download") == "1")


def register_public_routes() -> None:
    from blueprints.training.routes import token_guesses

    bp.add_url_rule("/bookings/<token>/certificate.pdf", "booking_certificate", token_guesses(_booking_certificate))


register_public_routes()


# --- admin screens -------------------------------------------------------------------------------

def attendance_context(session: TrainingSession) -> dict:
    people = attendees(session)
    return {"days": session_dates(session), "attendees": people, "can_mark": can_mark(session),
            "marks": Attendance.for_bookings(b.id for b in people),
            "certificates": {c.booking_id: c for c in db.session.scalars(
                select(Certificate).where(Certificate.booking_id.in_([b.id for b in people])))}}


@admin_bp.route("/sessions/<int:session_id>/attendance", methods=["GET", "POST"])
def session_attendance(session_id: int):
    from blueprints.forms import ActionForm

    session = db.get_or_404(TrainingSession, session_id)
    form = ActionForm()
    context = attendance_context(session)
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        present = set()
        ids = {b.id for b in context["attendees"]}
        days = {d.isoformat(): d for d in context["days"]}
        for value in request.form.getlist("present"):
            booking_id, _, day = value.partition(":")
            if booking_id.isdigit() and int(booking_id) in ids and day in days:
                present.add((int(booking_id), days[day]))
        try:
            count = mark_attendance(session, current_user, present)
        except NotAllowed as refused:
            db.session.rollback()
            flash(str(refused), "warning")
        else:
            db.session.commit()
            flash(f"Attendance saved: {count} day{'s' if count != 1 else ''} attended.", "success")
        return redirect(url_for("admin.session_attendance", session_id=session_id), code=303)
    return render_template("admin/session_attendance.html", session=session, form=form, **context)


@admin_bp.post("/sessions/<int:session_id>/certificates")
def session_certificates(session_id: int):
    from blueprints.forms import ActionForm

    session = db.get_or_404(TrainingSession, session_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        count = issue_certificates(session, current_user)
    except NotAllowed as refused:
        db.session.rollback()
        flash(str(refused), "warning")
    else:
        db.session.commit()
        flash(f"{count} certificate{'s' if count != 1 else ''} issued and emailed." if count
              else "No new certificates: everyone who attended already has one.", "success" if count else "warning")
    return redirect(url_for("admin.session_attendance", session_id=session_id), code=303)


@admin_bp.route("/certificates/<certificate_id>/regenerate", methods=["GET", "POST"])
def certificate_regenerate(certificate_id: str):
    item = Certificate.find(certificate_id)
    if item is None:
        abort(404)
    form = NameCorrectionForm(obj=item if request.method == "GET" else None)
    back = url_for("admin.session_attendance", session_id=item.booking.session_id)
    if form.validate_on_submit():
        try:
            regenerate_certificate(item, current_user, form.name.data)
        except NotAllowed as refused:
            db.session.rollback()
            flash(str(refused), "warning")
        else:
            db.session.commit()
            flash("Certificate regenerated (same verification address) and emailed again.", "success")
        return redirect(back, code=303)
    return render_template("admin/certificate_regenerate.html", certificate=item, form=form, back=back), (
        422 if form.errors else 200)


@admin_bp.get("/certificates/<certificate_id>.pdf")
def certificate_pdf(certificate_id: str):
    item = Certificate.find(certificate_id)
    if item is None:
        abort(404)
    return pdf_response(item)
