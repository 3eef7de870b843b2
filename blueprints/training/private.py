"""Private courses, end to end: dates proposed from a client's request, the client's choice, the private booking link.

The same convention as operations.py (begin the write, lock, check, change, queue the emails, flush; the
caller commits). Bookings on a private session go through operations.book_session (private_link=True),
so seats, the waitlist, invites, reminders, moves and cancellations are the public sessions' own.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from flask import current_app, url_for
from sqlalchemy import select

from blueprints.training import operations as ops
from blueprints.training import schedule
from extensions import db
from mail.compose import queue_email, thread_for
from models import AuditLog, Enquiry, TrainingSession, site_settings, utcnow
from models.proposals import PrivateLink, SessionProposal, hash_token
from models.session_days import SessionDay
from models.transactions import NotAllowed, begin_write, locked

MAX_PROPOSALS = 3


def _token(purpose: str, row_id: int) -> str:
    """A link's token (256 bits) from SECRET_KEY and the row: every email can carry the same working link."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"portico.{purpose}:{row_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def proposal_token(proposal: SessionProposal) -> str:
    return _token("proposal", proposal.id)


def link_token(link: PrivateLink) -> str:
    return _token("private-link", link.id)


def proposal_url(proposal: SessionProposal) -> str:
    return url_for("training.proposal", token=proposal_token(proposal), _external=True)


def private_link_url(link: PrivateLink) -> str:
    return url_for("training.private_book", token=link_token(link), _external=True)


def _with_token(row, token_for) -> None:
    """Store the hash of the row's derived token (a placeholder first: the token needs the row's id)."""
    row.token_hash = hash_token(f"unset-{id(row)}-{utcnow().timestamp()}")
    db.session.add(row)
    db.session.flush()
    row.token_hash = hash_token(token_for(row))


def _client_mail(template: str, enquiry: Enquiry, **context) -> None:
    site = site_settings.current()
    queue_email(template, thread=thread_for(f"enquiry:{enquiry.id}", enquiry.email), to=enquiry.email,
                to_name=enquiry.name, reply_to=site.consultant_email, reply_to_name=site.consultant_name,
                related=f"enquiry:{enquiry.id}", enquiry=enquiry, **context)


def _new_private_session(enquiry: Enquiry, *, course_id: int, starts_at: datetime, ends_at: datetime, timezone: str,
                         mode: str, location: str, capacity: int, days=None) -> TrainingSession:
    session = TrainingSession(
        course_id=course_id, starts_at=starts_at, ends_at=ends_at, timezone=timezone, mode=mode,
        location=location or "", capacity=capacity, max_seats_per_booking=1, is_private=True, enquiry_id=enquiry.id,
    )
    session.custom_days = [SessionDay(starts_at=s, ends_at=e, position=n) for n, (s, e) in enumerate(days or [])]
    db.session.add(session)
    db.session.flush()
    return session


def propose_dates(enquiry: Enquiry, actor, *, course_id: int, ranges: list[tuple[datetime, datetime]], timezone: str,
                  mode: str, location: str, capacity: int, message: str = "") -> list[SessionProposal]:
    """One hidden private session per date, and one email to the client with a link to choose each; enquiry → quoted."""
    if not enquiry.can_schedule():
        raise NotAllowed("Only a private-training request can be scheduled.")
    if enquiry.is_erased:
        raise NotAllowed(enquiry.reply_refusal())
    if not 1 <= len(ranges) <= MAX_PROPOSALS:
        raise NotAllowed(f"Propose between 1 and {MAX_PROPOSALS} dates.")
    now = utcnow()
    if any(start <= now or end <= start for start, end in ranges):
        raise NotAllowed("Each date must start in the future and end after it starts.")
    begin_write()
    proposals = []
    for starts_at, ends_at in sorted(ranges):
        session = _new_private_session(enquiry, course_id=course_id, starts_at=starts_at, ends_at=ends_at,
                                       timezone=timezone, mode=mode, location=location, capacity=capacity)
        proposal = SessionProposal(enquiry_id=enquiry.id, session_id=session.id, session=session)
        _with_token(proposal, proposal_token)
        proposals.append(proposal)
    if enquiry.status != Enquiry.QUOTED and enquiry.can_become(Enquiry.QUOTED):
        enquiry.status = Enquiry.QUOTED
    _client_mail("private_proposals", enquiry, course=proposals[0].session.course, message=message.strip(),
                 offers=[(p.session, proposal_url(p)) for p in proposals])
    AuditLog.record(actor, "enquiry.propose", enquiry, sessions=[p.session_id for p in proposals])
    db.session.flush()
    return proposals


def schedule_direct(enquiry: Enquiry, actor, **fields) -> TrainingSession:
    """"Schedule private session": the date is agreed, so the enquiry is won; the consultant then issues the link."""
    if not enquiry.can_schedule():
        raise NotAllowed("Only a private-training request can be scheduled.")
    begin_write()
    session = _new_private_session(enquiry, **fields)
    if enquiry.status != Enquiry.WON and enquiry.can_become(Enquiry.WON):
        enquiry.status = Enquiry.WON
    AuditLog.record(actor, "enquiry.schedule", enquiry, session_id=session.id)
    return session


def accept_proposal(proposal: SessionProposal, now: datetime | None = None) -> PrivateLink:
    """The client chose this date: the other proposals are withdrawn (their sessions cancelled), the enquiry is won,
    and the client gets the private booking link to forward; the consultant is told."""
    now = now or utcnow()
    begin_write()
    siblings = db.session.scalars(locked(
        select(SessionProposal).where(SessionProposal.enquiry_id == proposal.enquiry_id).order_by(SessionProposal.id)
    )).all() if proposal.enquiry_id else [proposal]
    for session_id in sorted(s.session_id for s in siblings):  # the one lock order: sessions by id
        ops.lock_session(session_id)
    proposal = db.session.get(SessionProposal, proposal.id)
    proposal.accept(now)
    withdrawn = []
    for other in siblings:
        if other.id != proposal.id and other.status == SessionProposal.PROPOSED:
            other.withdraw(now)
            withdrawn.append(other.session_id)
            # A date not chosen has nobody booked (unless the consultant issued its link early: then it stays).
            if not other.session.is_cancelled and not any(b.is_active for b in other.session.bookings):
                schedule.cancel_session(other.session, None)
    link = _issue(proposal.session)
    enquiry = proposal.enquiry
    if enquiry is not None:
        if enquiry.status != Enquiry.WON and enquiry.can_become(Enquiry.WON):
            enquiry.status = Enquiry.WON
        _client_mail("private_link", enquiry, session=proposal.session, course=proposal.session.course,
                     link_url=private_link_url(link), chosen=True)
        site = site_settings.current()
        queue_email("private_chosen", to=site.consultant_email, to_name=site.consultant_name,
                    reply_to=enquiry.email, reply_to_name=enquiry.name, related=f"enquiry:{enquiry.id}",
                    enquiry=enquiry, session=proposal.session, course=proposal.session.course,
                    admin_url=url_for("admin.session", session_id=proposal.session_id, _external=True))
        AuditLog.record(None, "enquiry.proposal_chosen", enquiry, session_id=proposal.session_id, by="client",
                        withdrawn=withdrawn)
    db.session.flush()
    return link


def _issue(session: TrainingSession) -> PrivateLink:
    link = PrivateLink(session_id=session.id, session=session)
    _with_token(link, link_token)
    return link


def _lock_private(session: TrainingSession) -> TrainingSession:
    begin_write()
    session = ops.lock_session(session.id)
    if session is None or not session.is_private:
        raise NotAllowed("Only a private session has a private booking link.")
    if session.is_cancelled:
        raise NotAllowed("This session is cancelled.")
    return session


def issue_link(session: TrainingSession, actor, *, send: bool = False) -> PrivateLink:
    """A new private booking link (the live one, if any, is revoked); `send` emails it to the client who asked."""
    session = _lock_private(session)
    for old in db.session.scalars(select(PrivateLink).where(PrivateLink.session_id == session.id,
                                                            PrivateLink.revoked_at.is_(None))):
        old.revoked_at = utcnow()
    link = _issue(session)
    enquiry = db.session.get(Enquiry, session.enquiry_id) if session.enquiry_id else None
    sent = send and enquiry is not None and not enquiry.is_erased
    if sent:
        _client_mail("private_link", enquiry, session=session, course=session.course, link_url=private_link_url(link),
                     chosen=False)
    AuditLog.record(actor, "session.private_link", session, link_id=link.id, emailed=sent)
    db.session.flush()
    return link


def revoke_link(session: TrainingSession, actor) -> int:
    """Revoke the session's live link(s): the address opens nothing from now on. Returns how many were live."""
    session = _lock_private(session)
    live = db.session.scalars(select(PrivateLink).where(PrivateLink.session_id == session.id,
                                                        PrivateLink.revoked_at.is_(None))).all()
    if not live:
        raise NotAllowed("This session has no live booking link.")
    for link in live:
        link.revoked_at = utcnow()
    AuditLog.record(actor, "session.private_link_revoke", session, links=[link.id for link in live])
    db.session.flush()
    return len(live)


def register(link: PrivateLink, *, name: str, email: str, company: str = "", notes: str = "",
             waitlist: bool = False) -> ops.BookingResult:
    """An attendee registers through the forwarded link: one seat, confirmed at once, against the capacity."""
    if not link.is_live:
        raise ops.SessionUnavailable("This link is no longer valid.", 404)
    return ops.book_session(link.session_id, name=name, email=email, company=company, seats=1, notes=notes,
                            waitlist=waitlist, private_link=True)


def add_attendee(session: TrainingSession, actor, *, name: str, email: str, company: str = "") -> ops.BookingResult:
    """The consultant adds someone to a private session directly: a confirmed seat and its invite."""
    if not session.is_private:
        raise NotAllowed("Attendees are added directly only to private sessions.")
    return ops.book_session(session.id, name=name, email=email, company=company, seats=1, private_link=True,
                            added_by=actor)
