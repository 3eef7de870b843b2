"""How a write begins and locks, in one place.

- SQLite: the driver's own transaction handling cannot take a write lock up front, so it is
  put in autocommit mode and BEGIN is emitted here; a write begins with BEGIN IMMEDIATE, so
  writers queue for the lock instead of failing when another process committed first.
- PostgreSQL: rows are locked with SELECT … FOR UPDATE (`locked`), and workers that must not
  wait for each other skip locked rows.

Convention: operations flush; the view or command that called them commits once. An action
that is stale or not allowed raises `NotAllowed` (its message is safe to show), and the
caller rolls back.
"""
from __future__ import annotations

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from extensions import db

WRITE = {"sqlite_immediate": True}


class NotAllowed(Exception):
    """The action is not allowed in the current state (or the state changed since the page was shown)."""

    status_code = 409


def configure_engine(engine: Engine) -> None:
    """SQLite: foreign keys on, WAL, and transactions that begin IMMEDIATE when they will write."""
    if engine.dialect.name != "sqlite" or getattr(engine, "_portico_configured", False):
        return
    engine._portico_configured = True

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # A request that may write takes the write lock up front: a deferred transaction that
        # reads and then writes fails at once ("database is locked", no busy wait) when another
        # writer committed in between. Reads (GET) stay deferred and run concurrently.
        writing = has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")
        if writing or conn.get_execution_options().get("sqlite_immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def begin_write(session: Session | None = None) -> None:
    """Make the session's transaction a write transaction that holds the write lock (SQLite).

    A transaction with changes of the caller's own goes on (they commit together). One that only
    read is ended first: its snapshot may predate another process's commit, and SQLite cannot
    upgrade such a snapshot to a write.
    """
    session = session if session is not None else db.session()
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            return
        session.commit()
    session.connection(execution_options=WRITE)


def locked(statement):
    """A SELECT that locks the rows it returns until the transaction ends, and reloads them."""
    return statement.with_for_update().execution_options(populate_existing=True)
