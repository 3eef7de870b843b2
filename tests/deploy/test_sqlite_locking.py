"""SQLite: requests that may write take the write lock when their transaction begins."""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select

from tests.conftest import make_app


@pytest.fixture
def sqlite_app(tmp_path):
    from extensions import db

    app = make_app(f"sqlite:///{tmp_path / 'lock.db'}", tmp_path)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


def other_writer_can_begin(path) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return False
    finally:
        other.close()


def test_a_post_request_holds_the_write_lock_from_its_first_read(sqlite_app, tmp_path):
    from extensions import db

    with sqlite_app.test_request_context("/contact", method="POST"):
        db.session.execute(select(1))
        assert not other_writer_can_begin(tmp_path / "lock.db")
        db.session.rollback()
    assert other_writer_can_begin(tmp_path / "lock.db")


def test_a_get_request_reads_without_blocking_writers(sqlite_app, tmp_path):
    from extensions import db

    with sqlite_app.test_request_context("/services", method="GET"):
        db.session.execute(select(1))
        assert other_writer_can_begin(tmp_path / "lock.db")
        db.session.rollback()
