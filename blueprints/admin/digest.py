"""The consultant's daily digest: what needs them today, in one email, sent only when there is something.

`flask digest send` (cli/digest.py) runs it from cron. The consultant's morning is read in
SITE_TIMEZONE: before DIGEST_HOUR there, a run sends nothing, so an hourly cron entry sends at the
right local hour in winter and in summer. Each day's digest is recorded (DigestRun, one per local
day), so a second run that day sends nothing, and two runs at once cannot both send.

Other parts of the site add their own sections with `section` (below): each is a function of the
Window that returns a Section, or None when it has nothing to say. Go/no-go decisions on sessions
and overdue invoices belong there when they exist.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from extensions import db
from mail.compose import queue_email
from models import AuditLog, Booking, DigestRun, Enquiry, OutboxMessage, TrainingSession, site_settings, utcnow
from models.outbox import failure_reason
from web.template_helpers import format_date, format_datetime

# How many of each kind the email lists by name; the rest are counted ("and 4 more").
LISTED = 10
# Sessions that start this soon are in the digest (the reminders go out 48 hours before).
SOON = timedelta(days=2)
# The first digest ever looks back this far for new enquiries.
FIRST_LOOK_BACK = timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """What one digest covers: new things since the last one, in the consultant's day and zone."""

    day: date
    since: datetime
    until: datetime
    zone: str


@dataclass(frozen=True)
class Item:
    text: str  # one line: who or what
    detail: str = ""  # the line under it
    url: str = ""


@dataclass(frozen=True)
class Section:
    key: str  # for the record of what was sent: {"new_enquiries": 3}
    title: str
    items: list[Item]
    total: int  # items may list only the first LISTED
    link: tuple[str, str] | None = None  # (words, url): where to deal with all of them

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.items))


SectionSource = Callable[[Window], Section | None]
_sections: list[SectionSource] = []


def section(source: SectionSource) -> SectionSource:
    """Add a section to every digest (a decorator); sections appear in the order they were added."""
    _sections.append(source)
    return source


def _url(endpoint: str, **values) -> str:
    return url_for(endpoint, _external=True, **values)


def _listed(query, limit: int = LISTED):
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return db.session.scalars(query.limit(limit)).all(), total


def _enquiry_item(e: Enquiry, zone: str) -> Item:
    who = e.name + (f" ({e.company})" if e.company else "")
    about = e.topic_label or e.kind_label
    return Item(who, f"{about}, {format_datetime(e.created_at, zone)}", _url("admin.enquiry", enquiry_id=e.id))


@section
def new_enquiries(w: Window) -> Section | None:
    query = (select(Enquiry).where(Enquiry.created_at > w.since, Enquiry.created_at <= w.until,
                                   Enquiry.status.not_in((Enquiry.SPAM, Enquiry.HELD)))
             .order_by(Enquiry.created_at, Enquiry.id))
    rows, total = _listed(query)
    if not total:
        return None
    return Section("new_enquiries", "New enquiries", [_enquiry_item(e, w.zone) for e in rows], total,
                   ("Open the inbox", _url("admin.enquiries")))


@section
def held_enquiries(w: Window) -> Section | None:
    query = select(Enquiry).where(Enquiry.status == Enquiry.HELD).order_by(Enquiry.created_at, Enquiry.id)
    rows, total = _listed(query)
    if not total:
        return None
    return Section("held_enquiries", "Held for your review",
                   [_enquiry_item(e, w.zone) for e in rows], total,
                   ("Review them", _url("admin.enquiries", status=Enquiry.HELD)))


@section
def pending_bookings(w: Window) -> Section | None:
    query = select(Booking).where(Booking.status == Booking.PENDING).order_by(Booking.created_at, Booking.id)
    rows, total = _listed(query)
    if not total:
        return None
    items = [Item(f"{b.name} ({b.seats} {'seat' if b.seats == 1 else 'seats'})",
                  f"{b.session.course.title}, {format_date(b.session.starts_at, b.session.timezone)}",
                  _url("admin.session", session_id=b.session_id, _anchor=f"booking-{b.id}")) for b in rows]
    return Section("pending_bookings", "Bookings awaiting your answer", items, total,
                   ("Open the bookings", _url("admin.sessions")))


@section
def failed_emails(w: Window) -> Section | None:
    # Failed since the last digest (a failed message's last attempt was due at next_attempt_at): an old
    # failure is in the outbox, not in every digest for ever.
    query = (select(OutboxMessage).where(OutboxMessage.status == OutboxMessage.FAILED,
                                         OutboxMessage.next_attempt_at > w.since)
             .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id))
    rows, total = _listed(query)
    if not total:
        return None
    items = [Item(f"To {m.to_addr}: {m.subject}", failure_reason(m.last_error),
                  _url("admin.outbox_message", message_id=m.id)) for m in rows]
    return Section("failed_emails", "Emails that could not be delivered", items, total,
                   ("Open the outbox", _url("admin.outbox")))


@section
def sessions_soon(w: Window) -> Section | None:
    query = TrainingSession.with_seats(
        select(TrainingSession).where(TrainingSession.status == TrainingSession.SCHEDULED,
                                      TrainingSession.starts_at > w.until, TrainingSession.starts_at <= w.until + SOON)
        .order_by(TrainingSession.starts_at, TrainingSession.id))
    rows = db.session.execute(query).all()
    if not rows:
        return None
    items = [Item(s.course.title, f"{format_datetime(s.starts_at, s.timezone)} · {s.where} · "
                  f"{held} of {s.capacity} seats held", _url("admin.session", session_id=s.id))
             for s, held, _left in rows[:LISTED]]
    return Section("sessions_soon", "Sessions starting in the next two days", items, len(rows),
                   ("Open the calendar", _url("admin.calendar")))


# --- sending -------------------------------------------------------------------------------------

@dataclass
class Outcome:
    status: str  # sent, already_sent, nothing, too_early
    day: date
    sections: list[Section] = field(default_factory=list)
    run: DigestRun | None = None

    @property
    def message(self) -> str:
        if self.status == "sent":
            counts = ", ".join(f"{s.total} {s.title.lower()}" for s in self.sections)
            return f"Digest for {self.day:%-d %B %Y} queued to {self.run.recipient}: {counts}."
        if self.status == "already_sent":
            return f"The digest for {self.day:%-d %B %Y} was already sent; nothing sent."
        if self.status == "too_early":
            hour = current_app.config["DIGEST_HOUR"]
            return f"Too early: the digest goes from {hour:02d}:00 ({site_settings.current().timezone}); nothing sent."
        return f"Nothing to report for {self.day:%-d %B %Y}; no digest sent."


def window(now: datetime) -> Window:
    zone = site_settings.current().timezone
    day = now.astimezone(ZoneInfo(zone)).date()
    last = db.session.scalar(select(DigestRun.covered_until).order_by(DigestRun.covered_until.desc()).limit(1))
    return Window(day, last or now - FIRST_LOOK_BACK, now, zone)


def gather(w: Window) -> list[Section]:
    return [s for s in (source(w) for source in _sections) if s is not None]


def send_digest(now: datetime | None = None, *, any_hour: bool = False) -> Outcome:
    """Queue today's digest if it is morning, it was not sent yet today and there is something in it.

    Commits what it did (the email, its record and the audit entry together); safe to run at any time and
    any number of times, also at once.
    """
    now = now or utcnow()
    zone = site_settings.current().timezone
    local = now.astimezone(ZoneInfo(zone))
    if not any_hour and local.hour < current_app.config["DIGEST_HOUR"]:
        return Outcome("too_early", local.date())
    w = window(now)
    if db.session.scalar(select(DigestRun.id).where(DigestRun.day == w.day)) is not None:
        db.session.rollback()
        return Outcome("already_sent", w.day)
    sections = gather(w)
    if not sections:
        db.session.rollback()
        return Outcome("nothing", w.day)
    recipient = site_settings.current().consultant_email
    total = sum(s.total for s in sections)
    message = queue_email("daily_digest", to=recipient, to_name=site_settings.current().consultant_name,
                          related=f"digest:{w.day.isoformat()}", automatic=False, sections=sections, window=w,
                          total=total, day_label=f"{w.day:%A} {w.day.day} {w.day:%B %Y}")
    db.session.flush()
    run = DigestRun(day=w.day, covered_until=w.until, recipient=recipient,
                    counts={s.key: s.total for s in sections}, outbox_message_id=message.id)
    db.session.add(run)
    try:
        db.session.flush()
    except IntegrityError:  # another run took this day between our check and our insert
        db.session.rollback()
        return Outcome("already_sent", w.day)
    AuditLog.record(None, "digest.send", run, day=w.day.isoformat(), **run.counts)
    db.session.commit()
    return Outcome("sent", w.day, sections, run)
