"""Card payment fixtures: the stand-in for Stripe's API on loopback, the app pointed at it, the consultant's details."""
from __future__ import annotations

import pytest

from tests.invoices.helpers import business
from tests.payments.stripe_standin import SECRET_KEY, WEBHOOK_SECRET, serve


@pytest.fixture
def stripe_standin():
    standin, server = serve()
    yield standin
    server.shutdown()
    server.server_close()


@pytest.fixture
def app_config(stripe_standin):
    return {"STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": stripe_standin.url}


@pytest.fixture
def seller(app):
    return business()
