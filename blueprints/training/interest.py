"""Interest lists: "tell me when the next session is scheduled", with double opt-in and one-click unsubscribe.

A request stores a pending entry and emails a confirmation link; only a confirmed entry is ever told of a
new session, and a pending one lapses after CONFIRM_WITHIN (`flask aftercare run` deletes it). Scheduling a
public session of the course emails every confirmed entry once (InterestAnnouncement: once per session).
Every email carries List-Unsubscribe + List-Unsubscribe-Post (RFC 8058): the provider's POST of
"List-Unsubscribe=One-Click" to /interest/<token>/unsubscribe works with no sign-in and no CSRF token (the
token in the address is the proof). An unsubscribed address stays so: asking again changes nothing.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from flask import abort, current_app, render_template, request, url_for
from sqlalchemy import delete, func, select

from blueprints.admin import bp as admin_bp
from blueprints.training import bp
from blueprints.training.aftercare_forms import InterestForm
from blueprints.training.forms import ConfirmForm
from blueprints.training.links import book_url
from blueprints.training.routes import TOO_FAST_ANSWER
from extensions import csrf, db, limiter
from mail.compose import queue_email, recipient_key
from models import AuditLog, Course, InterestAnnouncement, InterestEntry, TrainingSession, utcnow
from models.interest import CONFIRM_WITHIN
from models.transactions import begin_write
from web.spam import TOO_FAST, arm, spam_reason, submit_once

FORM_NAME = "interest"


def entry_token(entry: InterestEntry) -> str:
    """The entry's link token (256 bits), recomputable only with SECRET_KEY; only its hash is stored."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"portico.interest:{entry.id}".encode(), hashlib.sha256).digest()
    token = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    if entry.token_hash != (token_hash := InterestEntry.hash_token(token)):
        entry.token_hash = token_hash
    return token


def unsubscribe_url(entry: InterestEntry) -> str:
    return url_for("training.interest_unsubscribe", token=entry_token(entry), _external=True)


def _mail(template: str, entry: InterestEntry, **context) -> None:
    queue_email(template, to=entry.email, related=f"interest:{entry.id}", course=entry.course,
                unsubscribe_url=unsubscribe_url(entry), list_unsubscribe=unsubscribe_url(entry),
                course_url=url_for("training.course", slug=entry.course.slug, _external=True), **context)


# --- operations -----------------------------------------------------------------------------

def request_interest(course: Course, email: str, now: datetime | None = None) -> InterestEntry | None:
    """Ask to hear of the course's next session: a new or still pending entry gets the confirmation email.

    A confirmed or unsubscribed entry is left exactly as it is (and nothing is sent), whoever asks.
    """
    now = now or utcnow()
    begin_write()
    key = recipient_key(email)
    entry = db.session.scalar(select(InterestEntry).where(InterestEntry.course_id == course.id,
                                                          InterestEntry.email_key == key).with_for_update())
    if entry is not None and entry.status != InterestEntry.PENDING:
        return entry
    if entry is None:
        entry = InterestEntry(course_id=course.id, email=email.strip(), email_key=key, status=InterestEntry.PENDING,
                              token_hash=InterestEntry.hash_token(base64.b64encode(hashlib.sha256(
                                  f"{key}:{now.isoformat()}".encode()).digest()).decode()),  # replaced below
                              created_at=now, asked_at=now)
        db.session.add(entry)
        db.session.flush()
        AuditLog.record(None, "interest.request", entry, course=course.id)
    entry.asked_at = now
    _mail("interest_confirm", entry, automatic=True,
          confirm_url=url_for("training.interest_confirm", token=entry_token(entry), _external=True),
          days=CONFIRM_WITHIN.days)
    db.session.flush()
    return entry


def confirm_interest(entry: InterestEntry, now: datetime | None = None) -> bool:
    """pending -> confirmed, unless it lapsed (False). A confirmed or unsubscribed entry is unchanged."""
    begin_write()
    entry = db.session.get(InterestEntry, entry.id, with_for_update=True, populate_existing=True)
    if entry.status != InterestEntry.PENDING:
        return entry.status == InterestEntry.CONFIRMED
    if entry.lapsed(now):
        return False
    entry.status, entry.confirmed_at = InterestEntry.CONFIRMED, now or utcnow()
    AuditLog.record(None, "interest.confirm", entry, course=entry.course_id)
    db.session.flush()
    return True


def unsubscribe(entry: InterestEntry, how: str) -> None:
    begin_write()
    entry = db.session.get(InterestEntry, entry.id, with_for_update=True, populate_existing=True)
    if entry.status == InterestEntry.UNSUBSCRIBED:
        return
    entry.status, entry.unsubscribed_at = InterestEntry.UNSUBSCRIBED, utcnow()
    AuditLog.record(None, "interest.unsubscribe", entry, course=entry.course_id, how=how)
    db.session.flush()


def announce_session(session: TrainingSession, actor=None) -> int:
    """Email the course's confirmed entries about a newly scheduled public session, once per session (in the
    caller's transaction). Returns how many were emailed."""
    if session.is_private or not session.is_open() or not session.course.published:
        return 0
    if db.session.get(InterestAnnouncement, session.id) is not None:
        return 0
    entries = db.session.scalars(select(InterestEntry).where(
        InterestEntry.course_id == session.course_id, InterestEntry.status == InterestEntry.CONFIRMED)
        .order_by(InterestEntry.id)).all()
    now = utcnow()
    for entry in entries:
        _mail("interest_announcement", entry, automatic=False, session=session, book_url=book_url(session))
        entry.last_announced_at = now
    db.session.add(InterestAnnouncement(session_id=session.id, recipients=len(entries), announced_at=now))
    AuditLog.record(actor, "interest.announce", session, recipients=len(entries))
    db.session.flush()
    return len(entries)


def expire_interest(now: datetime | None = None) -> int:
    """Delete pending entries unconfirmed for CONFIRM_WITHIN: they were never confirmed and get nothing more."""
    now = now or utcnow()
    begin_write()
    result = db.session.execute(delete(InterestEntry).where(
        InterestEntry.status == InterestEntry.PENDING, InterestEntry.asked_at <= now - CONFIRM_WITHIN)
        .execution_options(synchronize_session=False))
    count = result.rowcount or 0
    if count:
        AuditLog.record(None, "interest.expire", None, entries=count)
    db.session.flush()
    return count


def counts_by_course() -> dict[int, dict[str, int]]:
    rows = db.session.execute(select(InterestEntry.course_id, InterestEntry.status, func.count(InterestEntry.id))
                              .group_by(InterestEntry.course_id, InterestEntry.status))
    counts: dict[int, dict[str, int]] = {}
    for course_id, status, n in rows:
        counts.setdefault(course_id, {})[status] = n
    return counts


# --- public pages ------------------------------------------------------------------------------

@bp.app_template_global()
def interest_form(course: Course) -> InterestForm:
    """A fresh form for the course page (its timestamp armed)."""
    form = InterestForm(formdata=None, prefix="interest")
    arm(form, FORM_NAME)
    return form


def _published(slug: str) -> Course:
    course = db.session.scalar(select(Course).where(Course.slug == slug, Course.published.is_(True)))
    if course is None:
        abort(404)
    return course


@bp.route("/training/<slug>/interest", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def interest(slug: str):
    course = _published(slug)
    form = InterestForm(prefix="interest")
    if request.method == "GET":
        arm(form, FORM_NAME)
    elif form.validate_on_submit():
        reason = spam_reason(form, FORM_NAME)
        if reason == TOO_FAST:  # a person with autofill, most likely: one more press, with a fresh stamp
            arm(form, FORM_NAME)
            form.form_token.errors = [TOO_FAST_ANSWER]
        else:
            def ask():
                if reason is None:  # a bot sees the same answer and nothing is stored
                    request_interest(course, form.email.data)
                return url_for("training.interest_sent", slug=slug), None

            return submit_once(form, FORM_NAME, ask)
    return render_template("training/interest.html", course=course, form=form), (422 if form.errors else 200)


@bp.get("/training/<slug>/interest/sent")
def interest_sent(slug: str):
    return render_template("training/interest_sent.html", course=_published(slug), days=CONFIRM_WITHIN.days)


def _entry_or_404(token: str) -> InterestEntry:
    entry = InterestEntry.find_by_token(token)
    if entry is None:
        abort(404)
    return entry


@bp.route("/interest/<token>/confirm", methods=["GET", "POST"])
@limiter.limit("20 per minute")
def interest_confirm(token: str):
    """The confirmation link opens a page with a button (a link scanner's GET confirms nothing)."""
    entry = _entry_or_404(token)
    form = ConfirmForm()
    done = None
    if request.method == "POST" and form.validate_on_submit():
        done = confirm_interest(entry)
        db.session.commit()
        entry = db.session.get(InterestEntry, entry.id)
    return render_template("training/interest_confirm.html", entry=entry, course=entry.course, form=form, token=token,
                           done=done, lapsed=entry.lapsed())


@bp.route("/interest/<token>/unsubscribe", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: the mail provider's POST carries no CSRF token; the secret token in the address is the proof
@limiter.limit("20 per minute")
def interest_unsubscribe(token: str):
    entry = _entry_or_404(token)
    if request.method == "POST":
        one_click = request.form.get("List-Unsubscribe") == "One-Click"
        unsubscribe(entry, "one-click" if one_click else "page")
        db.session.commit()
        if one_click:
            return "Unsubscribed.\n", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
        entry = db.session.get(InterestEntry, entry.id)
    return render_template("training/interest_unsubscribe.html", entry=entry, course=entry.course, token=token)


@bp.after_request
def private_interest_pages(response):
    if request.endpoint in ("training.interest_confirm", "training.interest_unsubscribe"):
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --- admin -----------------------------------------------------------------------------------------

@admin_bp.get("/interest")
def interest_lists():
    courses = db.session.scalars(select(Course).order_by(Course.position, Course.title)).all()
    return render_template("admin/interest.html", courses=courses, counts=counts_by_course())
