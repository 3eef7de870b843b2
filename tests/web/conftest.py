"""Fixtures shared by the page cache's tests (test_page_cache.py, test_page_cache_forms.py)."""
from __future__ import annotations

import pytest

from cli.seeding import seed_all
from extensions import db
from tests.conftest import make_app


@pytest.fixture
def site(app):
    seed_all()
    return app


@pytest.fixture
def another_app(database_url, tmp_path):
    """More apps on the same database (each request in its own app context, as in production); closed afterwards."""
    made = []

    def make(**overrides):
        made.append(make_app(database_url, tmp_path, **overrides))
        return made[-1]

    yield make
    for made_app in made:
        with made_app.app_context():
            db.engine.dispose()
