"""Training fixtures: the app on a real loopback server."""
from __future__ import annotations

import pytest

from tests.training.helpers import serving


@pytest.fixture
def live_server(app):
    with serving(app) as url:
        yield url
