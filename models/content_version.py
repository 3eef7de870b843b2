"""The content version: one counter, bumped by the writes themselves, that caches of the public pages check.

Every Session transaction that inserts, updates or deletes a row of a table in PUBLIC bumps
`content_version.counter` in the same transaction, just before it commits (last, so the row lock
it takes on PostgreSQL is never held while waiting for another lock). A table the public pages
start to show is added to PUBLIC; tests check that every table is declared one way or the other.

Time changes the pages without a write: a scheduled post appears, a session starts and leaves the
upcoming lists. The instants in SCHEDULED are part of the version as "the next one to come".

Writes that bypass the ORM Session (SQL typed into psql, a bare engine.connect()) do not bump it:
the page cache's PAGE_CACHE_SECONDS bounds how long they go unseen.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Integer, event, func, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from extensions import db
from models import base
from models.case_studies import CaseStudy, case_study_services
from models.certificates import Certificate
from models.content import Comment, Post, Service, Tag, post_tags
from models.feedback import Feedback
from models.media import MediaFile
from models.redirects import Redirect
from models.session_days import SessionDay
from models.site_settings import SiteSettings
from models.training import Booking, Course, TrainingSession

# Shown by the public pages (Booking: seats left; Comment: once approved; post_tags: re-tagging a post;
# Redirect: an old address that answered 404 answers 301 now; MediaFile: the images the articles show;
# SiteSettings: the name, hero and footer every page shows, kept per content version by models/site_settings.py;
# CaseStudy and case_study_services: /case-studies and the service pages' "Case studies" lists).
PUBLIC = frozenset({Service.__table__, Post.__table__, Tag.__table__, post_tags, Comment.__table__,
                    Course.__table__, TrainingSession.__table__, Booking.__table__, Redirect.__table__,
                    MediaFile.__table__, SiteSettings.__table__,
                    CaseStudy.__table__, case_study_services, SessionDay.__table__,
                    # /certificates/<id> shows a certificate; approved quotes show on course and service pages.
                    Certificate.__table__, Feedback.__table__})
# Never shown by a public page: a write to these leaves cached pages as they are.
PRIVATE = frozenset({"admin_login_failures", "admin_users", "admin_tokens", "admin_recovery_codes", "admin_sessions", "audit_log", "digest_runs", "enquiries", "enquiry_messages", "imported_items",
                     "outbox_messages", "used_form_stamps", "stats_salts", "stats_hits", "stats_counters", "stats_conversions",
                     "business_details", "invoice_counters", "invoices", "stripe_events",
                     "session_proposals", "private_links",
                     "attendance", "session_minimums", "interest_entries", "interest_announcements"})
# When a public page changes by itself: a scheduled post is published, a session starts.
SCHEDULED = (Post.published_at, TrainingSession.starts_at)

ROW_ID = 1
CHANGED = "portico.content_version.changed"  # session.info: this transaction wrote to a PUBLIC table
BUMPED = "portico.content_version.bumped"  # session.info: the engine the bump was committed through


class ContentVersion(db.Model):
    """A single row; its counter goes up with every committed change to public content."""

    __tablename__ = "content_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    counter: Mapped[int] = mapped_column(BigInteger, default=0)


@dataclass(frozen=True)
class Version:
    counter: int
    next_change: datetime | None  # the next instant in SCHEDULED still to come

    def passed(self) -> bool:
        """A scheduled instant has come since this version was read: the pages may differ now."""
        return self.next_change is not None and base.utcnow() >= self.next_change


def read(connection: Connection) -> Version:
    """The current version, in one statement (the row may be missing on a database made by create_all)."""
    now = base.utcnow()
    counter = select(ContentVersion.counter).where(ContentVersion.id == ROW_ID).scalar_subquery()
    upcoming = [select(func.min(column)).where(column > now).scalar_subquery() for column in SCHEDULED]
    row = connection.execute(select(counter, *upcoming)).one()
    return Version(row[0] or 0, min((t for t in row[1:] if t is not None), default=None))


_callbacks: weakref.WeakKeyDictionary[Engine, list[weakref.WeakMethod]] = weakref.WeakKeyDictionary()


def after_each_bump(engine: Engine, callback) -> None:
    """Call `callback()` (a bound method, held weakly) after a commit through `engine` that bumped the version."""
    _callbacks.setdefault(engine, []).append(weakref.WeakMethod(callback))


def _bump_statement(dialect: str):
    table = ContentVersion.__table__
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).values(id=ROW_ID, counter=1).on_conflict_do_update(
        index_elements=[table.c.id], set_={"counter": table.c.counter + 1})


def _public(instance) -> bool:
    return any(table in PUBLIC for table in inspect(instance).mapper.tables)


@event.listens_for(Session, "before_flush")
def _note_changes(session: Session, _context, _instances) -> None:
    if session.info.get(CHANGED):
        return
    if any(_public(o) for o in session.new) or any(_public(o) for o in session.deleted) or any(
            _public(o) and session.is_modified(o) for o in session.dirty):
        session.info[CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_statements(state) -> None:
    """Bulk INSERT/UPDATE/DELETE through the Session (session.execute(update(Post)…)) count too."""
    if (state.is_insert or state.is_update or state.is_delete) and getattr(state.statement, "table", None) in PUBLIC:
        state.session.info[CHANGED] = True


@event.listens_for(Session, "before_commit")
def _bump(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # commit flushes only after this hook: see what is still pending
    if session.info.pop(CHANGED, False):
        connection = session.connection()
        connection.execute(_bump_statement(connection.dialect.name))
        session.info[BUMPED] = connection.engine


@event.listens_for(Session, "after_commit")
def _announce(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released: the change is not committed until the outer transaction is
    engine = session.info.pop(BUMPED, None)
    for ref in _callbacks.get(engine, ()) if engine is not None else ():
        if (callback := ref()) is not None:
            callback()


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended: committed (bumped) or rolled back
        session.info.pop(CHANGED, None)
        session.info.pop(BUMPED, None)
