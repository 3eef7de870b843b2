"""CSV exports of every enquiry and every booking, for a date range in the consultant's time zone.

Beside the attendee CSV of one session (blueprints/training/admin.py); every cell goes through
blueprints/csv_export.py, so none can run as a spreadsheet formula.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import render_template, request
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import DateField
from wtforms.validators import Optional, ValidationError

from blueprints.admin import bp
from blueprints.csv_export import csv_response
from extensions import db
from models import Booking, Enquiry, TrainingSession, site_settings, utcnow

ENQUIRY_COLUMNS = ("id", "received_at", "kind", "status", "name", "email", "company", "topic", "message",
                   "course", "preferred_dates", "attendees", "format", "spam_reason", "consent_at")
BOOKING_COLUMNS = ("id", "booked_at", "status", "name", "email", "company", "seats", "course", "session_starts_at",
                   "session_time_zone", "where", "confirmed_at", "cancelled_at", "cancelled_by", "notes")
# Today and the earliest date a date input may hold before the database's range becomes a problem.
EARLIEST = date(2000, 1, 1)


class ExportForm(FlaskForm):
    """From and to dates, both included, both optional: an open end means everything on that side."""

    class Meta:
        csrf = False  # a download changes nothing

    start = DateField("From", validators=[Optional()])
    end = DateField("To", validators=[Optional()])

    def validate_start(self, field) -> None:
        if field.data and field.data < EARLIEST:
            raise ValidationError(f"Choose a date from {EARLIEST:%-d %B %Y} on.")

    def validate_end(self, field) -> None:
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError("The end date is before the start date.")
        if field.data and field.data < EARLIEST:
            raise ValidationError(f"Choose a date from {EARLIEST:%-d %B %Y} on.")

    def instants(self, zone: str) -> tuple[datetime | None, datetime | None]:
        """The range as UTC instants: from the start of the first day to the end of the last, in `zone`."""
        tz = ZoneInfo(zone)
        start = datetime.combine(self.start.data, time(), tz) if self.start.data else None
        end = datetime.combine(self.end.data + timedelta(days=1), time(), tz) if self.end.data else None
        return start, end

    def filename(self, what: str) -> str:
        if not (self.start.data or self.end.data):
            return f"{what}-all-{utcnow().date().isoformat()}.csv"
        start = self.start.data.isoformat() if self.start.data else "start"
        end = self.end.data.isoformat() if self.end.data else "now"
        return f"{what}-{start}-to-{end}.csv"


def _zone() -> str:
    return site_settings.current().timezone


def _local(value: datetime | None, zone: str) -> str:
    """An instant as ISO 8601 in the consultant's zone, with its offset, so nothing is ambiguous."""
    return value.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds") if value else ""


def _within(column, start, end):
    conditions = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return conditions


def _page(form: ExportForm, status: int = 200):
    return render_template("admin/exports.html", form=form, zone=_zone()), status


@bp.get("/exports")
def exports():
    form = ExportForm(request.args)
    if request.args:
        form.validate()
    return _page(form)


@bp.get("/exports/enquiries.csv")
def export_enquiries():
    form = ExportForm(request.args)
    if not form.validate():
        return _page(form, 422)
    zone = _zone()
    start, end = form.instants(zone)
    query = (select(Enquiry).options(joinedload(Enquiry.course))
             .where(*_within(Enquiry.created_at, start, end)).order_by(Enquiry.created_at, Enquiry.id))
    rows = ((e.id, _local(e.created_at, zone), e.kind_label, e.status_label, e.name, e.email, e.company,
             e.topic, e.message, e.course.title if e.course else "", e.preferred_dates, e.attendees or "",
             e.format_label, e.spam_reason or "", _local(e.consent_at, zone))
            for e in db.session.scalars(query))
    return csv_response(form.filename("enquiries"), ENQUIRY_COLUMNS, rows)


@bp.get("/exports/bookings.csv")
def export_bookings():
    form = ExportForm(request.args)
    if not form.validate():
        return _page(form, 422)
    zone = _zone()
    start, end = form.instants(zone)
    query = (select(Booking).options(joinedload(Booking.session).joinedload(TrainingSession.course))
             .where(*_within(Booking.created_at, start, end)).order_by(Booking.created_at, Booking.id))
    rows = ((b.id, _local(b.created_at, zone), b.status_label, b.name, b.email, b.company, b.seats,
             b.session.course.title, _local(b.session.starts_at, b.session.timezone), b.session.timezone,
             b.session.where, _local(b.confirmed_at, zone), _local(b.cancelled_at, zone), b.cancelled_by or "",
             b.notes)
            for b in db.session.scalars(query))
    return csv_response(form.filename("bookings"), BOOKING_COLUMNS, rows)
