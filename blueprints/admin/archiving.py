"""Archive, restore and delete: posts, services, courses, sessions, comments and enquiries.

What may go is the models' rule (models/archive.py: `blocked_by`); this module says what each
action affects (the confirmation page's facts), does it with whatever goes along (a post's
comments and redirects, a session's past bookings), and audits it. Deleting an enquiry is the
privacy erasure (blueprints/admin/operations.py erase_person). Functions here never commit.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import url_for
from sqlalchemy import func, select, update

from blueprints.admin import operations as privacy
from extensions import db
from models import (
    AuditLog,
    Comment,
    Course,
    Enquiry,
    ImportedItem,
    OutboxMessage,
    Post,
    Redirect,
    Service,
    TrainingSession,
    utcnow,
)
from models.archive import ARCHIVE, DELETE
from models.transactions import begin_write, locked
from web.template_helpers import format_datetime

RESTORE_NOTE = "Restore (under Archived) brings it back as it was."


def _n(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


@dataclass(frozen=True)
class Kind:
    """One kind of row the admin archives and deletes, and where its screens are."""

    name: str  # "post": endpoints admin.post_archive, admin.post_restore, admin.post_delete
    model: type
    plural: str  # the URL segment, /admin/posts/<id>/archive
    listing: str  # the section's default list (where an archived row leaves)
    archived: str  # the section's Archived list
    label: Callable  # row -> its name in words
    edit: Callable  # row -> its admin page
    facts: Callable  # (row, action) -> what the action affects, in sentences

    @property
    def arg(self) -> str:
        return f"{self.name}_id"

    def url(self, action: str, row) -> str:
        return url_for(f"admin.{self.name}_{action}", **{self.arg: row.id})


# --- what each action affects -------------------------------------------------------------

def _redirects_to(post: Post) -> int:
    return db.session.scalar(select(func.count()).select_from(Redirect).where(
        Redirect.target_type == Redirect.POST, Redirect.target_id == post.id)) or 0


def _post_facts(post: Post, action: str) -> list[str]:
    address = f"/blog/{post.slug}"
    comments = len(post.comments)
    redirects = _redirects_to(post)
    if action == ARCHIVE:
        facts = [f"{address} answers 410 Gone (“withdrawn”); the article leaves the blog, the home page, its tags, "
                 "the feed and the sitemap." if post.is_visible() else
                 "It is not on the site now, and will not go live while archived (even if it is scheduled)."]
        if comments:
            facts.append(f"Its {_n(comments, 'comment')} {'is' if comments == 1 else 'are'} hidden with it.")
        if redirects:
            facts.append(f"{_n(redirects, 'old address', 'old addresses')} from the old site that "
                         f"{'leads' if redirects == 1 else 'lead'} to it answer 404 meanwhile.")
        return [*facts, RESTORE_NOTE]
    tags = ", ".join(t.name for t in post.tags)
    facts = [f"The article “{post.title}” is deleted for good, with its {_n(comments, 'comment')}; {address} answers 404."]
    if tags:
        facts.append(f"Its tags ({tags}) are taken off it; a tag with no other article leaves the blog.")
    if redirects:
        facts.append(f"{_n(redirects, 'redirect')} from the old site that {'leads' if redirects == 1 else 'lead'} "
                     f"to it {'is' if redirects == 1 else 'are'} deleted: the old address answers 404.")
    if db.session.scalar(select(ImportedItem.id).where(ImportedItem.kind == "post", ImportedItem.local_id == post.id)):
        facts.append("It came from WordPress: importing the export again will not bring it back.")
    if comments:
        facts.append("The emails about its comments are anonymised.")
    return [*facts, "This cannot be undone: archive it instead to keep it."]


def _service_facts(service: Service, action: str) -> list[str]:
    address = f"/services/{service.slug}"
    topics = db.session.scalar(select(func.count()).select_from(Enquiry).where(Enquiry.topic == service.slug)) or 0
    if action == ARCHIVE:
        return [f"{address} answers 410 Gone; the service leaves the services page, the home page, the other "
                "services' pages, the sitemap and the contact form's topics.",
                *([f"{_n(topics, 'enquiry', 'enquiries')} chose it as the topic and still show its title."] if topics else []),
                RESTORE_NOTE]
    return [f"The service “{service.title}” is deleted for good; {address} answers 404.",
            *([f"{_n(topics, 'enquiry', 'enquiries')} chose it as the topic: they show “{service.slug}” instead of its title."]
              if topics else []),
            "This cannot be undone: archive it instead to keep it."]


def _past_bookings(sessions: list[TrainingSession]) -> int:
    return sum(len(s.bookings) for s in sessions)


def _course_facts(course: Course, action: str) -> list[str]:
    address = f"/training/{course.slug}"
    sessions = list(course.sessions)
    upcoming = [s for s in sessions if s.starts_at > utcnow() and not s.is_cancelled and not s.is_archived]
    linking = sum(1 for slug_list in db.session.scalars(select(Post.course_slugs)) if course.slug in (slug_list or []))
    enquiries = db.session.scalar(select(func.count()).select_from(Enquiry).where(Enquiry.course_id == course.id)) or 0
    if action == ARCHIVE:
        facts = [f"{address} answers 410 Gone; the course leaves the training page, the sitemap and the calendar feed."]
        if upcoming:
            facts.append(f"Its {_n(len(upcoming), 'upcoming session')} (nobody booked) "
                         f"{'is' if len(upcoming) == 1 else 'are'} no longer listed or bookable.")
        if linking:
            facts.append(f"{_n(linking, 'article links', 'articles link')} to it: the link is left out meanwhile.")
        return [*facts, RESTORE_NOTE]
    bookings = _past_bookings(sessions)
    facts = [f"The course “{course.title}” is deleted for good with its {_n(len(sessions), 'session')}; {address} answers 404."]
    if bookings:
        facts.append(f"The {_n(bookings, 'booking')} on those sessions (cancelled, declined, or of sessions that are over) "
                     "are deleted too, and the emails about them anonymised.")
    if enquiries:
        facts.append(f"{_n(enquiries, 'enquiry', 'enquiries')} asked for it: they keep everything but the link to the course.")
    if linking:
        facts.append(f"{_n(linking, 'article links', 'articles link')} to it: the link goes.")
    return [*facts, "This cannot be undone: archive it instead to keep it."]


def _session_facts(session: TrainingSession, action: str) -> list[str]:
    address = f"/training/sessions/{session.id}/book"
    if action == ARCHIVE:
        return [f"It leaves the training pages, the calendar feed and the admin's lists; {address} answers 410 Gone.",
                "Anyone who booked it before keeps their booking link.", RESTORE_NOTE]
    bookings = len(session.bookings)
    facts = [f"The session is deleted for good; {address} answers 404."]
    if bookings:
        facts.append(f"Its {_n(bookings, 'booking')} (cancelled, declined, or of a session that is over) "
                     f"{'is' if bookings == 1 else 'are'} deleted too, their links stop working, "
                     "and the emails about them are anonymised.")
    return [*facts, "This cannot be undone: archive it instead to keep it."]


def _comment_facts(comment: Comment, action: str) -> list[str]:
    where = f"“{comment.post.title}”"
    replies = db.session.scalar(select(func.count()).select_from(Comment).where(Comment.parent_id == comment.id)) or 0
    if action == ARCHIVE:
        return [f"It is hidden from {where} and from the moderation lists.", RESTORE_NOTE]
    return [f"The comment on {where} is deleted for good, and the emails about it anonymised.",
            *([f"{_n(replies, 'reply', 'replies')} to it {'stays' if replies == 1 else 'stay'}, at the top level."]
              if replies else []),
            "This cannot be undone: archive it instead to keep it."]


def _enquiry_facts(enquiry: Enquiry, action: str) -> list[str]:
    if action == ARCHIVE:
        return ["It leaves the inbox and its counts; Search and the privacy page still find it, and nothing is "
                "sent or erased.", RESTORE_NOTE]
    found = privacy.find_person(enquiry.email)
    return [
        f"Deleting an enquiry erases its person's data (a privacy erasure): everything stored for {found['email']} "
        f"is anonymised: {_n(len(found['enquiries']), 'enquiry', 'enquiries')}, {_n(len(found['bookings']), 'booking')}, "
        f"{_n(len(found['comments']), 'comment')} and {_n(len(found['outbox']), 'email')}.",
        "The rows stay, anonymised, so seats and totals add up; issued invoices keep their billing details, as the law "
        "requires. This enquiry moves to Archived.",
        "This cannot be undone.",
    ]


def _session_label(session: TrainingSession) -> str:
    return f"{session.course.title}, {format_datetime(session.starts_at, session.timezone)}"


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("post", Post, "posts", "admin.content", "admin.content_archived", lambda p: p.title,
         lambda p: url_for("admin.post_edit", post_id=p.id), _post_facts),
    Kind("service", Service, "services", "admin.content", "admin.content_archived", lambda s: s.title,
         lambda s: url_for("admin.service_edit", service_id=s.id), _service_facts),
    Kind("course", Course, "courses", "admin.content", "admin.content_archived", lambda c: c.title,
         lambda c: url_for("admin.course_edit", course_id=c.id), _course_facts),
    Kind("session", TrainingSession, "sessions", "admin.sessions", "admin.sessions_archived", _session_label,
         lambda s: url_for("admin.session", session_id=s.id), _session_facts),
    Kind("comment", Comment, "comments", "admin.comments", "admin.comments_archived",
         lambda c: f"{c.author_name} on “{c.post.title}”",
         lambda c: url_for("admin.comments_archived" if c.is_archived else "admin.comments", status=c.status,
                           _anchor=f"comment-{c.id}"), _comment_facts),
    Kind("enquiry", Enquiry, "enquiries", "admin.enquiries", "admin.enquiries_archived", lambda e: e.name,
         lambda e: url_for("admin.enquiry", enquiry_id=e.id), _enquiry_facts),
)}

# Each section's Archived list: its kinds, in the order shown.
SECTIONS = {
    "content": ("Archived content", ("post", "service", "course")),
    "comments": ("Archived comments", ("comment",)),
    "sessions": ("Archived sessions", ("session",)),
    "enquiries": ("Archived enquiries", ("enquiry",)),
}


def archived_rows(kind: Kind, limit: int = 500) -> list:
    model = kind.model
    return list(db.session.scalars(select(model).where(model.archived_at.is_not(None))
                                   .order_by(model.archived_at.desc(), model.id.desc()).limit(limit)))


# --- the actions ------------------------------------------------------------------------------

def _lock_sessions(kind: Kind, row) -> None:
    """A session's (a course's sessions') rows locked, as booking a seat locks them: nobody books while it goes."""
    if kind.name not in ("session", "course"):
        return
    begin_write()
    ids = [row.id] if kind.name == "session" else select(TrainingSession.id).where(TrainingSession.course_id == row.id)
    db.session.scalars(locked(select(TrainingSession).where(TrainingSession.id.in_(ids))
                              .order_by(TrainingSession.id))).all()
    db.session.expire_all()  # the bookings as they are now, under the lock


def archive(kind: Kind, row, actor) -> None:
    _lock_sessions(kind, row)
    row.archive()
    AuditLog.record(actor, f"{kind.name}.archive", row, label=_audit_label(kind, row))


def restore(kind: Kind, row, actor) -> None:
    row.restore()
    AuditLog.record(actor, f"{kind.name}.restore", row, label=_audit_label(kind, row))


def delete(kind: Kind, row, actor) -> None:
    """Delete the row (an enquiry: erase its person) with what goes along; NotAllowed when blocked_by says no."""
    _lock_sessions(kind, row)
    row.check_deletable()
    label = _audit_label(kind, row)
    if kind.name == "enquiry":
        counts = privacy.erase_person(row.email, actor)
        if not row.is_archived:
            row.archived_at = utcnow()
        AuditLog.record(actor, "enquiry.delete", row, erased=counts)
        return
    detail = DELETERS[kind.name](row)
    AuditLog.record(actor, f"{kind.name}.delete", row, label=label, **detail)
    db.session.flush()


def _audit_label(kind: Kind, row) -> str:
    """What the audit log names it by: never a person's name (an erasure would have to chase it)."""
    if kind.name in ("comment", "enquiry"):
        return f"{kind.name} #{row.id}"
    return kind.label(row)


def _forget_emails(related: dict[str, str]) -> int:
    """Anonymise the emails about rows that are going (`related` key -> the person's address)."""
    keys = sorted(related)
    messages = []
    for start in range(0, len(keys), 500):
        messages += db.session.scalars(select(OutboxMessage).where(OutboxMessage.related.in_(keys[start:start + 500])))
    for m in messages:
        privacy.erase_message(m, related[m.related].lower())
    return len(messages)


def _delete_post(post: Post) -> dict:
    comments = {f"comment:{c.id}": c.author_email for c in post.comments}
    emails = _forget_emails(comments)
    redirects = db.session.scalars(select(Redirect).where(Redirect.target_type == Redirect.POST,
                                                          Redirect.target_id == post.id)).all()
    for r in redirects:
        db.session.delete(r)
    slug = post.slug
    db.session.delete(post)  # its comments go with it (cascade), its tags are taken off
    return {"slug": slug, "comments": len(comments), "redirects": len(redirects), "emails": emails}


def _delete_service(service: Service) -> dict:
    slug = service.slug
    db.session.delete(service)
    return {"slug": slug}


def _delete_bookings(session: TrainingSession) -> tuple[int, int]:
    bookings = list(session.bookings)
    emails = _forget_emails({f"booking:{b.id}": b.email for b in bookings})
    for b in bookings:
        db.session.delete(b)
    return len(bookings), emails


def _delete_session(session: TrainingSession) -> dict:
    bookings, emails = _delete_bookings(session)
    db.session.flush()
    db.session.delete(session)
    return {"course": session.course.slug, "bookings": bookings, "emails": emails}


def _delete_course(course: Course) -> dict:
    bookings = emails = 0
    sessions = list(course.sessions)
    for session in sessions:
        b, e = _delete_bookings(session)
        bookings, emails = bookings + b, emails + e
    db.session.flush()
    for session in sessions:
        db.session.delete(session)
    db.session.execute(update(Enquiry).where(Enquiry.course_id == course.id).values(course_id=None))
    slug = course.slug
    db.session.flush()
    db.session.delete(course)
    return {"slug": slug, "sessions": len(sessions), "bookings": bookings, "emails": emails}


def _delete_comment(comment: Comment) -> dict:
    emails = _forget_emails({f"comment:{comment.id}": comment.author_email})
    db.session.execute(update(Comment).where(Comment.parent_id == comment.id).values(parent_id=None))
    post = comment.post.slug
    db.session.delete(comment)
    return {"post": post, "emails": emails}


DELETERS = {"post": _delete_post, "service": _delete_service, "course": _delete_course,
            "session": _delete_session, "comment": _delete_comment}

__all__ = ["ARCHIVE", "DELETE", "KINDS", "SECTIONS", "Kind", "archive", "archived_rows", "delete", "restore"]
